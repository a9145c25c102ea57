"""Read an atc log: which error codes it printed, and which ops it had no parser for.

atc prints ``E19010: No parser is registered for Op [<node>, optype [ai.onnx::<opset>::<op>]]``
when an ONNX op (at that opset) is unsupported — the text quoted in public bug reports. Other
failures are reported with their ``E<5 digits>`` codes and the log's tail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

UNSUPPORTED_OP_CODE = "E19010"
_UNSUPPORTED = re.compile(r"E19010|No parser is registered for Op", re.IGNORECASE)
_OPTYPE = re.compile(r"optype\s*\[\s*(?:([\w.]+)::)?(?:(\d+)::)?([\w.]+)\s*\]")
_CODE = re.compile(r"\b(E[A-Z0-9]\d{4})\b")


@dataclass
class AtcDiagnosis:
    """What an atc log says went wrong."""

    codes: list[str] = field(default_factory=list)
    unsupported_ops: list[str] = field(default_factory=list)
    """``op`` or ``op (opset N)`` for each op atc had no parser for, in order, unique."""

    @property
    def unsupported(self) -> bool:
        return bool(self.unsupported_ops) or UNSUPPORTED_OP_CODE in self.codes


def diagnose_log(text: str) -> AtcDiagnosis:
    """Error codes (unique, in order) and unsupported ops found in atc's output."""
    diag = AtcDiagnosis()
    for code in _CODE.findall(text):
        if code not in diag.codes:
            diag.codes.append(code)
    for line in text.splitlines():
        if not _UNSUPPORTED.search(line):
            continue
        for _domain, opset, op in _OPTYPE.findall(line):
            label = f"{op} (opset {opset})" if opset else op
            if label not in diag.unsupported_ops:
                diag.unsupported_ops.append(label)
    if diag.unsupported_ops and UNSUPPORTED_OP_CODE not in diag.codes:
        diag.codes.append(UNSUPPORTED_OP_CODE)
    return diag
