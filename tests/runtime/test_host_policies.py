"""Detection policies: dedup then score threshold, with the counts a report shows."""

from __future__ import annotations

import numpy as np
import pytest

from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.policies import DEDUP_POLICIES, apply_policies

SCORES = np.array([0.9, 0.8, 0.8, 0.6, 0.3, 0.2], np.float32)
LABELS = np.array([1, 2, 1, 2, 5, 1])


def test_none_keeps_everything():
    idx, counts = apply_policies(SCORES, LABELS)
    np.testing.assert_array_equal(idx, np.arange(6))
    assert counts == dict(
        raw_count=6, after_dedup=6, after_score_thr=6, dropped_by_dedup=0, dropped_by_score_thr=0
    )


def test_keep_top1_per_label_then_threshold():
    idx, counts = apply_policies(SCORES, LABELS, score_thr=0.5, dedup="keep_top1_per_label")
    np.testing.assert_array_equal(idx, [0, 1])  # label 5's only detection (0.3) fails the thr
    assert counts == dict(
        raw_count=6, after_dedup=3, after_score_thr=2, dropped_by_dedup=3, dropped_by_score_thr=1
    )


def test_top1_ties_go_to_the_earlier_detection_and_order_is_kept():
    scores = np.array([0.5, 0.7, 0.7, 0.1], np.float32)
    labels = np.array([3, 4, 4, 0])
    idx, _ = apply_policies(scores, labels, dedup="keep_top1_per_label")
    np.testing.assert_array_equal(idx, [0, 1, 3])


def test_threshold_is_inclusive_and_empty_input():
    idx, counts = apply_policies(SCORES, LABELS, score_thr=0.8)
    np.testing.assert_array_equal(idx, [0, 1, 2])
    assert counts["dropped_by_score_thr"] == 3
    idx, counts = apply_policies(np.zeros(0), np.zeros(0, int), 0.5, "keep_top1_per_label")
    assert len(idx) == 0 and counts["raw_count"] == 0 and counts["after_score_thr"] == 0


@pytest.mark.parametrize("kwargs", [dict(dedup="top1"), dict(score_thr=1.5)])
def test_bad_policy(kwargs):
    with pytest.raises(VitdetError) as err:
        apply_policies(SCORES, LABELS, **kwargs)
    assert err.value.code == "bad_policy" and err.value.exit_code == 2
    assert "keep_top1_per_label" in DEDUP_POLICIES
