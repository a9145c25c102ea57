"""``vitdet tune``: the fastest faithful runtime (and precision) per stage, sealed into the
artifacts folder as ``tune/tuning.json`` for infer, eval and bench to use by default."""

from vitdet_cli.tune.api import TuneReport, tune_artifacts
from vitdet_cli.tune.gate import Gate

__all__ = ["Gate", "TuneReport", "tune_artifacts"]
