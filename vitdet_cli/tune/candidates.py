"""The runtimes and precisions a stage can be tuned to on this CPU."""

from __future__ import annotations

from dataclasses import dataclass

from vitdet_cli.runtime.backends import backend_class
from vitdet_cli.tune.quantize import int8_available

RUNTIMES = ("onnxruntime", "openvino")
"""CPU runtimes tried, the first one the reference (its fp32 outputs are what others match)."""
REFERENCE = ("onnxruntime", "fp32")


@dataclass(frozen=True)
class Candidate:
    """One way to run a stage: a runtime at a precision (``fp32`` is the exact path)."""

    backend: str
    precision: str = "fp32"

    @property
    def exact(self) -> bool:
        return self.precision == "fp32"

    @property
    def label(self) -> str:
        return f"{self.backend} {self.precision}"


def available_runtimes() -> dict[str, str]:
    """runtime → "" when usable here, else why not."""
    return {name: backend_class(name).available()[1] for name in RUNTIMES}


def openvino_has_bf16() -> bool:
    """Whether OpenVINO's CPU plugin reports native bf16 here (AVX-512 BF16 or AMX)."""
    try:
        import openvino as ov

        caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:  # noqa: BLE001 - no openvino or no CPU plugin: no bf16 candidate
        return False
    return "BF16" in [str(c).upper() for c in caps]


def candidates(precision: str = "fp32") -> tuple[list[Candidate], list[str]]:
    """(candidates, notes): every usable runtime at fp32; with ``precision`` ``auto`` also
    OpenVINO bf16 where the CPU has it and ONNX Runtime int8 (dynamic quantization)."""
    usable = available_runtimes()
    notes = [f"{name} skipped: {why}" for name, why in usable.items() if why]
    found = [Candidate(name) for name, why in usable.items() if not why]
    if precision == "auto":
        if not usable["openvino"] and openvino_has_bf16():
            found.append(Candidate("openvino", "bf16"))
        else:
            notes.append("no bf16 candidate: OpenVINO does not report BF16 on this CPU")
        why = usable["onnxruntime"] or int8_available()
        if not why:
            found.append(Candidate("onnxruntime", "int8"))
        else:
            notes.append(f"no int8 candidate: {why}")
    return found, notes
