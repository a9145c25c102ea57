"""What an Ascend container needs from its host: device nodes and driver mounts.

The lists are the source document's ``docker run`` (``quay.io/ascend/cann:8.5.0``); the per-card
nodes ``/dev/davinciN`` are added for the cards used. ``docker/run.sh`` passes exactly these
(tests/test_docker.py checks it), and env-check reports each one missing with the flag that
would have provided it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Control nodes every Ascend process opens, as the document passes them.
DEVICE_NODES = ("/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc")
CARD_NODE = re.compile(r"^davinci(\d+)$")


@dataclass(frozen=True)
class Mount:
    path: str
    required: bool  # False: only some commands need it (npu-smi, multi-node networking)
    why: str

    @property
    def flag(self) -> str:
        return f"-v {self.path}:{self.path}"


MOUNTS = (
    Mount("/usr/local/Ascend/driver", True, "driver libraries torch_npu and acl load"),
    Mount("/usr/local/dcmi", False, "device management library npu-smi uses"),
    Mount("/usr/local/bin/npu-smi", False, "npu-smi (devices, SoC)"),
    Mount("/usr/local/sbin", False, "host management tools, as the document mounts them"),
    Mount(
        "/usr/local/Ascend/driver/tools/hccn_tool",
        False,
        "HCCS/RoCE network setup for multi-node hccl",
    ),
)


@dataclass
class HostItem:
    name: str
    present: bool
    required: bool
    flag: str
    why: str


def card_nodes(root: Path = Path("/")) -> list[str]:
    """``/dev/davinciN`` present under ``root``, in card order."""
    dev = root / "dev"
    found = [
        (int(m.group(1)), p.name) for p in dev.glob("davinci*") if (m := CARD_NODE.match(p.name))
    ]
    return [f"/dev/{name}" for _, name in sorted(found)]


def inspect(root: Path = Path("/")) -> list[HostItem]:
    """Each device node and mount the document's ``docker run`` provides, present or not."""
    items = [
        HostItem(node, (root / node.lstrip("/")).exists(), True, f"--device={node}", "control node")
        for node in DEVICE_NODES
    ]
    cards = card_nodes(root)
    items.append(
        HostItem(
            "/dev/davinciN",
            bool(cards),
            True,
            "--device=/dev/davinciN (one per card)",
            "one node per card",
        )
    )
    items += [
        HostItem(m.path, (root / m.path.lstrip("/")).exists(), m.required, m.flag, m.why)
        for m in MOUNTS
    ]
    return items


def in_container(root: Path = Path("/")) -> bool:
    return (root / ".dockerenv").exists() or (root / "run/.containerenv").exists()
