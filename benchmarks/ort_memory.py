"""Peak memory of the staged ONNX Runtime pipeline under its memory settings (issue 17, item 4).

Each setting runs in a fresh process (so each peak is its own): the artifacts' stages on
ONNX Runtime with the CPU memory arena and the memory pattern on or off, one warm-up and
``--repeat`` timed runs of one image. Prints resident memory after loading, peak resident
memory (``VmHWM``) and the median time per image; the settings run one after another in one
invocation, so they see the same machine.

    .venv/bin/python benchmarks/ort_memory.py --artifacts DIR --img IMAGE [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

SETTINGS = {
    "arena+pattern": (True, True),  # ONNX Runtime's defaults
    "pattern only": (False, True),
    "arena only": (True, False),
    "neither": (False, False),
}
"""name → (enable_cpu_mem_arena, enable_mem_pattern)."""


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(artifacts: Path, img: Path, setting: str, repeat: int) -> dict:
    """Run ``img`` through the stages on ONNX Runtime with ``setting``; this process only."""
    from vitdet_cli.runtime.backends import get_backend, ort
    from vitdet_cli.runtime.infer import run_images
    from vitdet_cli.runtime.staged import StagedModel

    arena, pattern = SETTINGS[setting]
    plain = ort.session_options

    def options(module, threads=0):
        opts = plain(module, threads)
        opts.enable_cpu_mem_arena = arena
        opts.enable_mem_pattern = pattern
        return opts

    ort.session_options = options
    with StagedModel(artifacts, get_backend("onnxruntime", device="cpu")) as model:
        loaded = _status_mb("VmRSS")
        _, stats = run_images(model, [img], None, "none", warmup=1, repeat=repeat)
    return {
        "setting": setting,
        "arena": arena,
        "mem_pattern": pattern,
        "rss_loaded_mb": round(loaded),
        "peak_rss_mb": round(_status_mb("VmHWM")),
        "median_ms": round(stats.total.median, 1),
        "steps_ms": {k: round(v.median, 2) for k, v in stats.steps.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artifacts", type=Path, required=True)
    ap.add_argument("--img", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--settings", default=",".join(SETTINGS), help="Comma list of settings.")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", choices=list(SETTINGS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.artifacts, args.img, args.child, args.repeat)))
        return
    rows = []
    for setting in args.settings.split(","):
        argv = [sys.executable, __file__, "--child", setting, "--artifacts", str(args.artifacts),
                "--img", str(args.img), "--repeat", str(args.repeat)]  # fmt: skip
        out = subprocess.run(argv, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        if not args.json:
            r = rows[-1]
            print(f"{setting:<14} loaded {r['rss_loaded_mb']:>6} MB  peak {r['peak_rss_mb']:>6} MB"
                  f"  {r['median_ms']:>9} ms/img", flush=True)  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
