"""How a training run is launched: in-process on one device, torchrun on several."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from vitdet_cli.errors import VitdetError
from vitdet_cli.platform.device import Placement


@dataclass
class NodeSpec:
    """torchrun's multi-node settings (defaults: a single node)."""

    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 29500

    def validate(self) -> None:
        if self.nnodes < 1 or not 0 <= self.node_rank < self.nnodes:
            raise VitdetError(
                f"--node-rank {self.node_rank} must be in [0, --nnodes {self.nnodes})",
                hint="number nodes 0..nnodes-1",
                code="bad_nodes",
                exit_code=2,
            )
        if not 1 <= self.master_port <= 65535:
            raise VitdetError(
                f"--master-port {self.master_port} is not a port",
                hint="use 1-65535",
                code="bad_nodes",
                exit_code=2,
            )


@dataclass
class Launch:
    """The processes to start: ``argv`` (torchrun, or one fresh worker process) with ``env``
    added to their environment; ``argv`` is None for an in-process run."""

    placement: Placement
    nodes: NodeSpec
    argv: Optional[list[str]]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def distributed(self) -> bool:
        return self.placement.world_size * self.nodes.nnodes > 1


def plan_launch(
    placement: Placement, nodes: NodeSpec, config_file: Path, resume: Optional[Path], work_dir: Path
) -> Launch:
    """torchrun when more than one process takes part; one fresh worker process when a device
    is selected (its visible-device variable must be in the environment before the runtime
    initialises); else in-process."""
    nodes.validate()
    nproc = placement.world_size
    env = placement.env()
    worker = ["-m", "vitdet_cli.training.worker", "--config", str(config_file)]
    worker += ["--device", placement.kind, "--work-dir", str(work_dir)]
    if resume is not None:
        worker += ["--resume", str(resume)]
    if nproc == 1 and nodes.nnodes == 1:
        return Launch(placement, nodes, [sys.executable, *worker] if env else None, env)
    if placement.kind == "cpu":
        env.setdefault("OMP_NUM_THREADS", str(cpu_share(nproc)))
    argv = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nnodes={nodes.nnodes}",
        f"--node-rank={nodes.node_rank}",
        f"--nproc-per-node={nproc}",
        f"--master-addr={nodes.master_addr}",
        f"--master-port={nodes.master_port}",
        *worker,
    ]
    return Launch(placement, nodes, argv, env)


def cpu_share(local_procs: int, cpu_count: Optional[int] = None) -> int:
    """Intra-op threads for each of ``local_procs`` CPU training processes on this node: the
    cores split evenly, at least one (``OMP_NUM_THREADS`` for torchrun, training/threads.py)."""
    return max(1, max(1, cpu_count or os.cpu_count() or 1) // local_procs)
