"""Fixtures of the bench tests: the evaluation tests' (one export per session)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))

from eval_test_helpers import exported, synth_val, tiny_checkpoint  # noqa: E402, F401
