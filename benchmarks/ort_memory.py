"""Peak memory of the staged ONNX Runtime pipeline under its memory settings (issue 17, item 4).

Each setting runs in a fresh process (so each peak is its own): the artifacts' stages on
ONNX Runtime with the CPU memory arena and the memory pattern on or off, one warm-up and
``--repeat`` timed runs of one image. Prints resident memory after loading, peak resident
memory (``VmHWM``), the median time and the CPU time (user + system) per image. The settings
run one after another in one invocation, so they see the same machine, ``--rounds`` times
interleaved (a busy machine's noise spreads over all; memory: the highest round, time: the
median).

    .venv/bin/python benchmarks/ort_memory.py --artifacts DIR --img IMAGE [--repeat 5]
        [--rounds 1] [--settings arena+pattern,neither] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
from pathlib import Path

SETTINGS = {
    "arena+pattern": (True, True, False),  # ONNX Runtime's defaults
    "pattern only": (False, True, False),
    "arena only": (True, False, False),
    "neither": (False, False, False),
    "shared arena": (True, True, True),
    "as shipped": None,  # session_options as vitdet_cli sets them
}
"""name → (enable_cpu_mem_arena, enable_mem_pattern, one arena for all sessions: registered
in ONNX Runtime's environment, grown by what is asked rather than to the next power of two),
the same for every stage's session; or None: what ``runtime/backends/ort.py`` does."""


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s() -> float:
    """CPU seconds (user + system) this process has used: less noisy than wall time when other
    processes compete for the cores, and it counts page faults (system time)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(artifacts: Path, img: Path, setting: str, repeat: int) -> dict:
    """Run ``img`` through the stages on ONNX Runtime with ``setting``; this process only."""
    from vitdet_cli.runtime.backends import get_backend, ort
    from vitdet_cli.runtime.infer import run_images
    from vitdet_cli.runtime.staged import StagedModel

    arena, pattern, shared = SETTINGS[setting] or (None, None, False)
    plain = ort.session_options
    if shared:
        import onnxruntime as rt

        arena_type, default = rt.OrtAllocatorType.ORT_ARENA_ALLOCATOR, rt.OrtMemType.DEFAULT
        cpu = rt.OrtMemoryInfo("Cpu", arena_type, 0, default)
        # max_mem 0 (no limit), extend strategy 1 (kSameAsRequested), defaults for the rest
        rt.create_and_register_allocator(cpu, rt.OrtArenaCfg(0, 1, -1, -1))

    def options(module, threads=0, **_ignored):
        opts = plain(module, threads)
        opts.enable_cpu_mem_arena = arena
        opts.enable_mem_pattern = pattern
        if shared:
            opts.add_session_config_entry("session.use_env_allocators", "1")
        return opts

    if SETTINGS[setting] is not None:
        ort.session_options = options
    with StagedModel(artifacts, get_backend("onnxruntime", device="cpu")) as model:
        loaded = _status_mb("VmRSS")
        run_images(model, [img], None, "none", warmup=1, repeat=0)
        before = _cpu_s()
        stats = run_images(model, [img], None, "none", warmup=0, repeat=repeat).stats
        cpu_ms = (_cpu_s() - before) * 1e3 / max(1, repeat)
    return {
        "setting": setting,
        "arena": arena,
        "mem_pattern": pattern,
        "shared_arena": shared,
        "rss_loaded_mb": round(loaded),
        "peak_rss_mb": round(_status_mb("VmHWM")),
        "median_ms": round(stats.total.median, 1),
        "cpu_ms": round(cpu_ms, 1),
        "steps_ms": {k: round(v.median, 2) for k, v in stats.steps.items()},
    }


def summary(setting: str, runs: list[dict]) -> dict:
    """One setting over its rounds: the highest memory, the median of the per-round medians."""
    return {
        **{k: runs[0][k] for k in ("setting", "arena", "mem_pattern", "shared_arena")},
        "rss_loaded_mb": max(r["rss_loaded_mb"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "median_ms": statistics.median(r["median_ms"] for r in runs),
        "cpu_ms": statistics.median(r["cpu_ms"] for r in runs),
        "round_ms": [r["median_ms"] for r in runs],
        "steps_ms": runs[0]["steps_ms"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artifacts", type=Path, required=True)
    ap.add_argument("--img", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=1, help="Settings interleaved, N times over.")
    ap.add_argument("--settings", default=",".join(SETTINGS), help="Comma list of settings.")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", choices=list(SETTINGS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.artifacts, args.img, args.child, args.repeat)))
        return
    settings = args.settings.split(",")
    runs: dict[str, list[dict]] = {s: [] for s in settings}
    for _ in range(args.rounds):
        for setting in settings:
            argv = [sys.executable, __file__, "--child", setting, "--artifacts",
                    str(args.artifacts), "--img", str(args.img),
                    "--repeat", str(args.repeat)]  # fmt: skip
            out = subprocess.run(argv, capture_output=True, text=True, check=True)
            runs[setting].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"{setting}: {runs[setting][-1]['median_ms']} ms", file=sys.stderr, flush=True)
    rows = [summary(s, runs[s]) for s in settings]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'setting':<14}{'loaded MB':>10}{'peak MB':>9}{'ms/img':>10}{'CPU ms/img':>12}"
          "  ms/img per round")  # fmt: skip
    for r in rows:
        print(f"{r['setting']:<14}{r['rss_loaded_mb']:>10}{r['peak_rss_mb']:>9}"
              f"{r['median_ms']:>10.1f}{r['cpu_ms']:>12.1f}  {r['round_ms']}")  # fmt: skip


if __name__ == "__main__":
    main()
