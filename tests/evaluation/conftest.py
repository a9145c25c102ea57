"""Fixtures of the evaluation tests (shared with tests/bench through eval_test_helpers)."""

from eval_test_helpers import exported, synth_val, tiny_checkpoint  # noqa: F401
