"""`compare --backend om` picks its gates from atc_meta.json's precision, end to end: the real
tiny export compiled by the fake atc, run by a stand-in ais_bench whose OM rounds every output
to fp16 (what a lowered OM returns)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "atc"))

from atc_test_helpers import OnnxOmSession, install_fake_ais, write_fake_atc  # noqa: E402

pytestmark = [pytest.mark.mmcv, pytest.mark.slow]


class Fp16Session(OnnxOmSession):
    """The fake OM runner, rounding to fp16 whatever mode the OM claims."""

    always_fp16 = True
    loaded: list = []


@pytest.fixture
def om_artifacts(cli, exported, tmp_path, monkeypatch):
    """A copy of the tiny export compiled by the fake atc with ``precision``."""
    monkeypatch.setenv("PATH", f"{write_fake_atc(tmp_path / 'bin').parent}:{os.environ['PATH']}")
    install_fake_ais(monkeypatch, Fp16Session)

    def compile(precision: str) -> Path:
        art = tmp_path / precision
        shutil.copytree(exported[0], art)
        result = cli("atc", "--artifacts", str(art), "--soc-version", "Ascend910B3",
                     "--precision-mode", precision)  # fmt: skip
        assert result.exit_code == 0, result.output
        return art

    return compile


def _compare(cli, art: Path, synth_val, out: Path) -> tuple[int, dict]:
    ann, img_dir = synth_val
    result = cli("--json", "compare", "--artifacts", str(art), "--backend", "om",
                 "--data", str(ann), "--images", str(img_dir), "--limit", "2",
                 "--out", str(out))  # fmt: skip
    return result.exit_code, json.loads(result.stdout)


def test_fp16_om_passes_its_gates(cli, om_artifacts, synth_val, tmp_path):
    code, data = _compare(cli, om_artifacts("force_fp16"), synth_val, tmp_path / "c")
    gates = data["gates"]
    assert gates["name"] == "fp16" and "force_fp16" in gates["reason"]
    assert gates["decided_by"] == ["map"] and code == 0 and data["passed"]
    assert list(data["compare_with_pytorch"])[4:6] == ["om", "pytorch"]


def test_the_same_outputs_fail_when_atc_claims_fp32(cli, om_artifacts, synth_val, tmp_path):
    """fp16-sized differences from an OM compiled to keep fp32: the fp32 gates catch them."""
    code, data = _compare(cli, om_artifacts("must_keep_origin_dtype"), synth_val, tmp_path / "c")
    gates = data["gates"]
    assert gates["name"] == "fp32" and "must_keep_origin_dtype" in gates["reason"]
    assert gates["decided_by"] == ["tensors", "detections", "map"]
    assert code == 1 and not data["passed"] and not gates["checks"]["detections"]
    assert "max score difference" in data["detections"]["failures"][0]
    assert data["error"]["code"] == "parity_failed"
