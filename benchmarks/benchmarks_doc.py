"""Regenerate docs/benchmarks.md: `vitdet bench` tables for vit-tiny and ViT-B at 1024 on this
machine, `vitdet tune` on the demo model, the tuned ViT-B pipeline against ONNX Runtime and
PyTorch eager, training beside a busy process, fidelity and host steps — with date, machine and
commands.

    .venv/bin/python benchmarks/benchmarks_doc.py [--out FILE] [--skip-vitb | --reuse-vitb]
        [--skip-load]

Needs `vitdet demo` to have run (outputs/demo/artifacts, data/synthetic_shapes); the demo folder
is tuned in a copy, never in place. The ViT-B artifacts are made and tuned by
benchmarks/tuned_speed.py (random weights; timing does not depend on them), which runs first.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from vitdet_cli.runtime.timing import STEPS

VITDET = [sys.executable, "-m", "vitdet_cli"]
SYNTH = Path("data/synthetic_shapes")
SPEED_WORK = Path("/tmp/vitdet_speed")
DEMO_ARTIFACTS = Path("outputs/demo/artifacts")


def run(argv: list[str]) -> str:
    print("+", " ".join(argv), file=sys.stderr)
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():  # 1: a failed row, e.g. om
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return proc.stdout


def machine() -> str:
    cpu = "unknown CPU"
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import onnxruntime
    import openvino
    import torch

    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"onnxruntime {onnxruntime.__version__}, openvino {openvino.__version__}"
    )


def _fmt(v, spec: str = ".1f") -> str:
    return "—" if v is None else format(v, spec)


def bench_markdown(data: dict) -> str:
    lines = [
        "| backend | status | size MB | bbox mAP | segm mAP | median ms/img | p90 ms/img "
        "| img/s | peak MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        status = "ok" if r.get("ok") else f"failed: {str(r.get('error', ''))[:80]}"
        lines.append(
            f"| {r['backend']} | {status} | {_fmt(r.get('size_mb'))} | "
            f"{_fmt(r.get('bbox_map'), '.4f')} | {_fmt(r.get('segm_map'), '.4f')} | "
            f"{_fmt(r.get('median_ms'))} | {_fmt(r.get('p90_ms'))} | "
            f"{_fmt(r.get('img_per_s'), '.2f')} | {_fmt(r.get('peak_mb'), '.0f')} |"
        )
    steps = [r for r in data["rows"] if r.get("ok") and r.get("timing")]
    if steps:
        lines += ["", "Median ms per step:", ""]
        names = [s for s in STEPS if any(s in r["timing"]["steps"] for r in steps)]
        lines.append("| backend | " + " | ".join(names) + " |")
        lines.append("|---|" + "---|" * len(names))
        for r in steps:
            cells = [_fmt(r["timing"]["steps"].get(n, {}).get("median_ms"), ".2f") for n in names]
            lines.append(f"| {r['backend']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def training_section(demo: Path = Path("outputs/demo")) -> str:
    """The demo's training run, from its summary and metrics log (as `vitdet demo` measured it)."""
    summary = json.loads((demo / "demo_summary.json").read_text())
    lines = (demo / "train" / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    train = [r for r in rows if r["mode"] == "train"]
    its = (train[-1]["iter"] - train[0]["iter"]) / (train[-1]["time"] - train[0]["time"])
    m = summary["train"]["final_metrics"]
    return (
        "## Training: the demo run (vit-tiny, synthetic shapes, CPU)\n\n"
        "From `outputs/demo/demo_summary.json` of the last `make demo` (`vitdet demo`) on this "
        "machine; `benchmarks/train_tiny_shapes.py` runs the same training on its own.\n\n"
        "| iterations | training s | it/s | bbox mAP | bbox mAP_50 | segm mAP |\n"
        "|---|---|---|---|---|---|\n"
        f"| {m['iter']} | {summary['seconds']['train']:.0f} | {its:.2f} | "
        f"{m['coco/bbox_mAP']:.3f} | {m['coco/bbox_mAP_50']:.3f} | {m['coco/segm_mAP']:.3f} |\n"
    )


def tune_markdown(data: dict) -> str:
    """`vitdet tune --json`: every candidate per stage, the whole-pipeline timings, the gate."""
    lines = [
        "| stage | candidate | median ms | max abs diff | status | why |",
        "|---|---|---|---|---|---|",
    ]
    for t in data["trials"]:
        lines.append(
            f"| {t['stage']} | {t['backend']} {t['precision']} | {_fmt(t.get('median_ms'))} | "
            f"{_fmt(t.get('max_abs'), '.1e')} | {t['status']} | "
            f"{t.get('why') or t.get('error') or ''} |"
        )
    if data["pipelines"]:
        each = ", ".join(f"{p['pipeline']} {p['median_ms']:.1f} ms" for p in data["pipelines"])
        lines.append(f"\nWhole pipeline (median per image): {each}.")
    chosen = ", ".join(f"{s}: {c['backend']} {c['precision']}" for s, c in data["choices"].items())
    lines.append(f"\nChosen: {chosen}.")
    gate = data.get("gate") or {}
    for run_ in gate.get("runs", []):
        verdict = "passed" if run_["passed"] else "failed: " + "; ".join(run_["failures"])
        lines.append(
            f"\nGate, {run_['stage']} on {run_['candidate']} ({gate['images']} images): "
            f"{run_['matched_frac']:.1%} of {run_['judged']} detections matched, {verdict}"
        )
    return "\n".join(lines)


def tune_section(ann: Path) -> str:
    """`vitdet tune --precision auto` on a copy of the demo folder (the gate on the val split)."""
    with tempfile.TemporaryDirectory(prefix="vitdet-doc-tune-") as tmp:
        folder = Path(shutil.copytree(DEMO_ARTIFACTS, Path(tmp) / "artifacts"))
        argv = [*VITDET, "--json", "tune", str(folder), "--precision", "auto", "--data", str(ann),
                "--images", str(SYNTH / "val")]  # fmt: skip
        data = json.loads(run(argv))
    return (
        "## `vitdet tune --precision auto` on the trained demo model (vit-tiny, 192 px)\n\n"
        f"```bash\nvitdet tune {DEMO_ARTIFACTS} --precision auto --data {ann} "
        f"--images {SYNTH / 'val'}\n```\n\n"
        "Each stage on each candidate with the reference's real stage inputs; a lower precision "
        "is admitted only when the whole pipeline passes the gate (≥ 99% of detections matched "
        "at IoU ≥ 0.9, mAP within 0.3 points) on the trained weights.\n\n"
        f"{tune_markdown(data)}\n"
    )


def script_section(title: str, argv: list[str], note: str = "") -> str:
    """A benchmark script's printed output, pasted under its command."""
    out = run([sys.executable, *argv])
    cmd = "python " + " ".join(argv)
    return f"## {title}\n\n```bash\n{cmd}\n```\n\n{note}```\n{out.strip()}\n```\n"


def previous_vitb(out: Path) -> list[str]:
    """The ViT-B sections of an earlier ``out`` (they take minutes and do not depend on the
    demo model), labelled with that file's generation line."""
    old = out.read_text() if out.is_file() else ""
    start, end = old.find("## ViT-B at 1024"), old.find("## Host steps")
    if start < 0 or end < start:
        raise SystemExit(f"--reuse-vitb: no ViT-B sections in {out}; run without it")
    generated = next((ln for ln in old.splitlines() if ln.startswith("Generated ")), "")
    note = f"*ViT-B sections kept from the previous generation: {generated[:60]}…*\n\n"
    return [note + old[start:end].rstrip() + "\n"]


def section(title: str, argv: list[str]) -> str:
    data = json.loads(run(argv))
    cmd = "vitdet " + " ".join(argv[len(VITDET) :])
    return f"## {title}\n\n```bash\n{cmd}\n```\n\n{bench_markdown(data)}\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    ap.add_argument("--skip-vitb", action="store_true")
    ap.add_argument("--reuse-vitb", action="store_true", help="keep the ViT-B sections of --out")
    ap.add_argument("--skip-load", action="store_true", help="no training-under-load section")
    args = ap.parse_args()
    ann = SYNTH / "annotations" / "instances_val.json"
    parts = [
        "# Benchmarks\n",
        f"Generated {datetime.date.today().isoformat()} by `benchmarks/benchmarks_doc.py` on: "
        f"{machine()}. No GPU or Ascend NPU was available, so `om` rows fail with the reason. "
        "Shared machines are noisy: compare numbers from one run only.\n",
        training_section(),
        section(
            "vit-tiny (the demo model, 192 px) on the synthetic val split",
            [
                *VITDET,
                "--json",
                "bench",
                "--artifacts",
                "outputs/demo/artifacts",
                "--backends",
                "onnxruntime,openvino,torch,om",
                "--data",
                str(ann),
                "--images",
                str(SYNTH / "val"),
                "--limit",
                "20",
                "--warmup",
                "2",
                "--repeat",
                "5",
            ],
        ),  # fmt: skip
    ]
    parts.append(tune_section(ann))
    if not args.skip_load:
        parts.append(
            script_section(
                "Training beside a busy process (vit-tiny, 40 iterations)",
                ["benchmarks/train_under_load.py"],
            )
        )
    fidelity = run([sys.executable, "benchmarks/deploy_fidelity.py"])
    parts.append(f"## Fidelity (ONNX Runtime vs PyTorch)\n\n```\n{fidelity.strip()}\n```\n")
    if args.reuse_vitb:
        parts += previous_vitb(args.out)
    elif not args.skip_vitb:
        parts.append(
            script_section(
                "ViT-B at 1024: tuned pipeline vs ONNX Runtime vs PyTorch eager",
                ["benchmarks/tuned_speed.py", "--work", str(SPEED_WORK), "--repeat", "5",
                 "--also", "backbone=openvino:bf16"],  # fmt: skip
                "Random weights (timing does not depend on them; accuracy cannot be judged on "
                "them: the `--also` line is speed only, the tune section above gives the gate's "
                "verdict on trained weights).\n\n",
            )
        )
        parts.append(
            section(
                "ViT-B at 1024 (random weights, 80 classes), one photograph",
                [
                    *VITDET,
                    "--json",
                    "bench",
                    "--artifacts",
                    str(SPEED_WORK / "artifacts"),
                    "--backends",
                    "onnxruntime,openvino,tuned,torch,om",
                    "--img",
                    str(SPEED_WORK / "photo.jpg"),
                    "--warmup",
                    "1",
                    "--repeat",
                    "3",
                    "--timeout",
                    "1800",
                ],
            )  # fmt: skip
        )
    host = run([sys.executable, "benchmarks/host_steps.py"])
    parts.append(f"## Host steps at ViT-B-1024 sizes, one core\n\n```\n{host.strip()}\n```\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(parts))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
