"""``vitdet bench``: every backend on the same images, each in its own process.

One row per backend in the manner of ``yolo benchmark``: status, model size, mAP (with a
dataset), latency per step and in total, throughput and peak memory. A fresh process per backend
makes the peak memory that backend's own and keeps a crashing backend from taking the bench down.
"""

from vitdet_cli.bench.api import BenchReport, bench, run_worker
from vitdet_cli.bench.backends import parse_backends
from vitdet_cli.bench.images import bench_images
from vitdet_cli.bench.sizes import model_size_mb

__all__ = ["BenchReport", "bench", "bench_images", "model_size_mb", "parse_backends", "run_worker"]
