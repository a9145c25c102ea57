"""Card selection happens before any device runtime starts: the probe, the preflight and a
one-device run each happen in a fresh process that has ASCEND_RT_VISIBLE_DEVICES from the start.

A fake torch_npu (tests/fixtures/fake_torch_npu) records the variable at import time; it is on
this process's path too, so code that imported it here, before setting the variable, would leave
a record with this pid and no variable.
"""

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

from vitdet_cli.envcheck import checks
from vitdet_cli.errors import VitdetError
from vitdet_cli.platform import device
from vitdet_cli.platform.device import Placement
from vitdet_cli.training import api
from vitdet_cli.training.launch import NodeSpec, plan_launch

REPO = Path(__file__).resolve().parents[2]
FAKE = REPO / "tests" / "fixtures" / "fake_torch_npu" / "torch_npu"
TINY = "configs/vitdet_tiny_shapes.yaml"


@pytest.fixture
def fake_npu(tmp_path, monkeypatch):
    """The fake torch_npu on PYTHONPATH (children) and sys.path (here), with a dist-info of
    torch's release so env-check's version match passes; returns the record file."""
    site = tmp_path / "site"
    shutil.copytree(FAKE, site / "torch_npu")
    base = torch.__version__.split("+")[0]
    info = site / f"torch_npu-{base}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch_npu\nVersion: {base}\n")
    record = tmp_path / "imports.jsonl"
    paths = [str(site), str(REPO), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    monkeypatch.setenv("FAKE_TORCH_NPU_RECORD", str(record))
    monkeypatch.setenv("FAKE_NPU_CARDS", "2")
    monkeypatch.delenv("ASCEND_RT_VISIBLE_DEVICES", raising=False)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "torch_npu", raising=False)
    return record


def _imports(record: Path) -> list[dict]:
    if not record.is_file():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


def test_one_selected_device_runs_a_fresh_worker(tmp_path):
    launch = plan_launch(Placement("npu", [3]), NodeSpec(), tmp_path / "c.py", None, tmp_path)
    assert not launch.distributed and launch.env == {"ASCEND_RT_VISIBLE_DEVICES": "3"}
    assert launch.argv[:3] == [sys.executable, "-m", "vitdet_cli.training.worker"]
    assert launch.argv[launch.argv.index("--device") + 1] == "npu"
    plain = plan_launch(Placement("cpu", []), NodeSpec(), tmp_path / "c.py", None, tmp_path)
    assert plain.argv is None and plain.env == {}


def test_probe_sees_only_the_selected_card(fake_npu):
    assert device.available_kinds_fresh({"ASCEND_RT_VISIBLE_DEVICES": "1"})[0] == "npu"
    assert device.available_kinds_fresh({"ASCEND_RT_VISIBLE_DEVICES": "7"})[0] != "npu"
    seen = _imports(fake_npu)
    assert [r["ASCEND_RT_VISIBLE_DEVICES"] for r in seen] == ["1", "7"]
    assert os.getpid() not in {r["pid"] for r in seen}


def test_preflight_checks_the_selected_card(fake_npu):
    got = {c.name: c for c in checks.fresh_checks("npu", {"ASCEND_RT_VISIBLE_DEVICES": "1"})}
    assert got["npu"].status == "ok" and got["npu"].found.startswith("1 via torch_npu")
    assert "ASCEND_RT_VISIBLE_DEVICES=1" in got["visible devices"].found
    bad = {c.name: c for c in checks.fresh_checks("npu", {"ASCEND_RT_VISIBLE_DEVICES": "7"})}
    assert bad["npu"].status == "fail" and "ASCEND_RT_VISIBLE_DEVICES=7" in bad["npu"].hint
    assert os.getpid() not in {r["pid"] for r in _imports(fake_npu)}


def test_plan_training_never_imports_torch_npu_here(fake_npu, tmp_path):
    # Card 7 does not exist on the fake 2-card machine: the probe (fresh, selection in force)
    # says so, naming the variable; nothing here imported torch_npu.
    with pytest.raises(VitdetError, match="ASCEND_RT_VISIBLE_DEVICES=7") as err:
        api.plan_training(TINY, device="npu", devices="7", work_dir=tmp_path / "w")
    assert err.value.code == "no_device"
    # Card 1 exists: the probe passes; the preflight (fresh) then stops at what this machine
    # lacks (CANN, ...), but only after importing torch_npu with the variable set.
    with pytest.raises(VitdetError) as err:
        api.plan_training(TINY, device="npu", devices="1", work_dir=tmp_path / "w")
    assert err.value.code == "env_check"
    seen = _imports(fake_npu)
    assert len(seen) >= 3 and {r["ASCEND_RT_VISIBLE_DEVICES"] for r in seen} == {"7", "1"}
    assert os.getpid() not in {r["pid"] for r in seen} and "torch_npu" not in sys.modules


def test_one_device_training_process_starts_with_the_variable(fake_npu, tmp_path):
    launch = plan_launch(Placement("npu", [1]), NodeSpec(), tmp_path / "missing.py", None, tmp_path)
    plan = api.TrainPlan(tmp_path / "c.yaml", tmp_path, tmp_path / "missing.py", None,
                         launch.placement, launch, None)  # fmt: skip
    with pytest.raises(VitdetError) as err:  # the config file is missing: the worker fails
        api.run_training(plan)
    assert err.value.code == "train_failed"
    seen = _imports(fake_npu)
    assert [r["ASCEND_RT_VISIBLE_DEVICES"] for r in seen] == ["1"]
    assert seen[0]["pid"] != os.getpid()
    assert "ASCEND_RT_VISIBLE_DEVICES" not in os.environ
