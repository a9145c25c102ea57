"""``Check``: one checked fact about this machine, as env-check reports it.

The record the environment checks (``envcheck/``) return and ``mmcv_build`` reads back from
a fresh ``vitdet --json env-check`` after installing a wheel; it lives here, below both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Check:
    group: str
    name: str
    status: str  # ok | warn | fail
    found: str
    expected: str = ""
    hint: str = ""

    def to_dict(self) -> dict:
        return asdict(self)
