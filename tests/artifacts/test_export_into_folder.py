"""Which existing folder ``vitdet export`` may write into (decided before any work is done)."""

from __future__ import annotations

import pytest
from artifacts_test_helpers import CHECKPOINT

from vitdet_cli.errors import VitdetError
from vitdet_cli.export.api import _previous

SAME, OTHER = CHECKPOINT["sha256"], "2" * 64


def test_partial_export_needs_the_same_checkpoint(folder):
    assert _previous(folder, ("rpn",), SAME) is not None
    with pytest.raises(VitdetError) as err:
        _previous(folder, ("backbone",), OTHER)
    assert err.value.code == "checkpoint_differs" and err.value.exit_code == 2
    assert _previous(folder, ("backbone", "rpn", "roi"), OTHER) is None  # full: starts afresh


def test_partial_export_into_an_unsealed_or_damaged_folder_is_refused(folder):
    (folder / "export" / "rpn" / "model.onnx").write_bytes(b"damaged")
    with pytest.raises(VitdetError) as err:
        _previous(folder, ("backbone",), SAME)
    assert err.value.code == "artifacts_tampered"
    (folder / "manifest.json").unlink()
    with pytest.raises(VitdetError) as err:
        _previous(folder, ("backbone",), SAME)
    assert err.value.code == "artifacts_unsealed" and "rpn" in err.value.message
    assert _previous(folder, ("backbone", "rpn", "roi"), SAME) is None
