"""One training process: shims, registration, mmengine Runner. Run in-process or by torchrun."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from vitdet_cli.errors import VitdetError
from vitdet_cli.model import register_modules
from vitdet_cli.model.shims import apply_all
from vitdet_cli.platform.device import import_torch_npu
from vitdet_cli.training.register import register_training_modules


def prepare_process(kind: str) -> None:
    """Everything that must happen before mmengine touches a device."""
    if kind == "npu":
        err = import_torch_npu()
        if err:
            raise VitdetError(
                err, hint="source /usr/local/Ascend/ascend-toolkit/set_env.sh", code="no_torch_npu"
            )

    apply_all(kind)
    register_modules()
    register_training_modules()


def forget_visualizer(name: str) -> None:
    """Drop mmengine's process-wide visualizer instance called ``name``.

    mmengine keeps visualizers by name for the whole process; a second run in the same process
    (``vitdet demo`` twice, tests) would otherwise write into the first run's log folder.
    """
    from mmengine.visualization import Visualizer

    stack = [Visualizer]
    while stack:
        klass = stack.pop()
        stack += klass.__subclasses__()
        getattr(klass, "_instance_dict", {}).pop(name, None)


def run(config_file: Path, kind: str, work_dir: Path, resume: Optional[Path] = None) -> None:
    """Train with the dumped mmengine config; ``resume`` continues from that checkpoint."""
    prepare_process(kind)
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(str(config_file))
    cfg.work_dir = str(work_dir)
    if resume is not None:
        cfg.resume = True
        cfg.load_from = str(resume)
    if cfg.get("visualizer"):
        forget_visualizer(cfg.visualizer.get("name", "visualizer"))
    runner = Runner.from_cfg(cfg)
    runner.train()


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="vitdet training worker (started by torchrun)")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--device", required=True, choices=["npu", "cuda", "cpu"])
    parser.add_argument("--work-dir", required=True, type=Path)
    parser.add_argument("--resume", type=Path, default=None)
    args = parser.parse_args(argv)

    try:
        run(args.config, args.device, args.work_dir, args.resume)
    except VitdetError as err:  # a message and a hint, like the CLI, not a traceback
        # the launching process reads these two lines back from train.log (output.failure_detail)
        sys.stderr.write(f"error: {err.message}\n" + (f"hint: {err.hint}\n" if err.hint else ""))
        sys.stderr.flush()
        raise SystemExit(err.exit_code) from None


if __name__ == "__main__":
    main()
