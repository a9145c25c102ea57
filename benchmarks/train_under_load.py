"""Training beside a busy process: vit-tiny (configs/vitdet_tiny_shapes.yaml) for a few
iterations, quiet and next to a busy loop, with today's thread setting (``before``:
``VITDET_TRAIN_THREADS=torch``, torch's default) and the new one (``after``: ``auto``, the
governor of vitdet_cli/training/threads.py), in one process and in two gloo processes.

The busy loop is a separate Python process spinning ``while True: pass`` (one core, like a
compile). Each training runs in its own process through ``api.plan_training``/``run_training``;
seconds per iteration come from metrics.jsonl (one record per iteration), skipping the first
``--skip`` iterations; ratios use medians (the governor's first probe and the neighbours' spikes
sit in the means). Prints the load average first: on a shared machine "quiet" is only as
quiet as the neighbours; compare rows of one run.

    .venv/bin/python benchmarks/train_under_load.py [--iters 40] [--procs 1 2] [--oversubscribed]
        [--variant passive=torch,OMP_WAIT_POLICY=PASSIVE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

CONFIG = "configs/vitdet_tiny_shapes.yaml"
SETTINGS = {"before": "torch", "after": "auto"}


def child(iters: int, procs: int, work: Path, port: int) -> None:
    """One short training; prints its per-iteration seconds as one JSON line."""
    from vitdet_cli.training import api
    from vitdet_cli.training.curves import read_jsonl
    from vitdet_cli.training.launch import NodeSpec

    shutil.rmtree(work, ignore_errors=True)
    sets = [
        f"train.max_iters={iters}",
        f"train.val_interval={iters}",
        f"train.checkpoint_interval={iters}",
        "train.log_interval=1",
        "data.val_subset=2",
    ]
    plan = api.plan_training(
        Path(CONFIG),
        device="cpu",
        devices=",".join(str(i) for i in range(procs)) if procs > 1 else None,
        work_dir=work,
        overrides=sets,
        nodes=NodeSpec(master_port=port),
    )
    api.run_training(plan)
    rows = [r for r in read_jsonl(work / "metrics.jsonl") if r["mode"] == "train"]
    times = [r["time"] for r in rows]
    print("RESULT " + json.dumps({"threads": plan.summary["threads"], "times": times}))


def variant_env(setting: str) -> dict[str, str]:
    """``auto`` → VITDET_TRAIN_THREADS=auto; ``torch,OMP_WAIT_POLICY=PASSIVE`` → both."""
    value, *extra = setting.split(",")
    env = {"VITDET_TRAIN_THREADS": value}
    for item in extra:
        key, _, val = item.partition("=")
        env[key] = val
    return env


def run_one(args, setting: str, procs: int, busy: bool, tag: str) -> list[float]:
    env = dict(os.environ, **variant_env(setting))
    if args.pythonpath:
        env["PYTHONPATH"] = args.pythonpath
    spinner = None
    if busy:
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        cmd = [sys.executable, __file__, "--child", str(procs), "--iters", str(args.iters)]
        cmd += ["--work-dir", str(Path(args.work_dir) / tag)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    found = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not found:
        sys.exit(f"{tag} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    times = json.loads(found[-1][7:])["times"]
    return [b - a for a, b in zip(times, times[1:])][args.skip :]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iters", type=int, default=40)
    parser.add_argument("--skip", type=int, default=2, help="first iteration gaps not counted")
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--oversubscribed", action="store_true", help="also 2 procs × 2 threads")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=SETTING[,VAR=VALUE...]",
        help="another row, e.g. passive=torch,OMP_WAIT_POLICY=PASSIVE",
    )
    parser.add_argument("--work-dir", default="work_dirs/bench_under_load")
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=29641, help=argparse.SUPPRESS)
    parser.add_argument("--pythonpath", default=os.environ.get("PYTHONPATH", ""))
    args = parser.parse_args()
    if args.child:
        child(args.iters, args.child, Path(args.work_dir), args.port)
        return
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load} (1, 5, 15 min) at start", flush=True)
    rows = []
    for procs in args.procs:
        settings = dict(SETTINGS)
        if procs > 1 and args.oversubscribed:
            settings["2 threads each"] = "2"
        for text in args.variant:
            name, _, setting = text.partition("=")
            settings[name] = setting
        result = {}
        for busy in (False, True):
            for name, setting in settings.items():
                tag = f"p{procs}_{name.replace(' ', '_')}_{'busy' if busy else 'quiet'}"
                gaps = run_one(args, setting, procs, busy, tag)
                result[name, busy] = gaps
                print(
                    f"  {procs} proc {name:>15} {'busy' if busy else 'quiet':5}: "
                    f"median {statistics.median(gaps):.3f} s/it, mean {statistics.fmean(gaps):.3f}"
                    f" ({len(gaps)} its) load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
        for name in settings:
            quiet, busy = result[name, False], result[name, True]
            rows.append((procs, name, quiet, busy))
    med = statistics.median
    print("\ns/iteration: median (mean) of the counted iterations; 2 processes train 2× the images")
    print("procs | setting         | quiet            | beside busy loop | busy/quiet throughput")
    for procs, name, quiet, busy in rows:
        q = f"{med(quiet):.3f} ({statistics.fmean(quiet):.3f})"
        b = f"{med(busy):.3f} ({statistics.fmean(busy):.3f})"
        print(f"{procs:5} | {name:15} | {q:16} | {b:16} | {med(quiet) / med(busy):.2f}×")
    for procs in args.procs:
        mine = {name: med(quiet) for p, name, quiet, _ in rows if p == procs}
        print(f"{procs} proc: quiet throughput after/before {mine['before'] / mine['after']:.2f}×")
    print(f"load average at end {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
