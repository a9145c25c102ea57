"""The om backend with fake ais_bench / pyACL modules that follow their documented interfaces."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
from atc_test_helpers import (
    CHECKPOINT,
    FakeAcl,
    fake_ais_modules,
    fake_compiled,
    seal,
    tensor_specs,
)

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.meta import GraphMeta, StageMeta, write_stage_meta
from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.backends import get_backend
from vitdet_cli.runtime.backends import om as om_mod
from vitdet_cli.runtime.backends.om import OmBackend

GRAPH = b"a stand-in for an exported graph"
META = GraphMeta(
    "model.onnx",
    hashlib.sha256(GRAPH).hexdigest(),
    tensor_specs([("a", (2,), "float32"), ("b", (1, 3), "float32")]),
    tensor_specs([("half", (1, 3), "float32"), ("idx", (2,), "int64")]),
)


def _model(xs):
    a, b = xs
    return [(b * 2).astype(np.float16), np.argsort(-a).astype(np.int64)]


FEEDS = {"b": np.array([[1.0, -2.0, 3.5]], np.float32), "a": np.array([0.5, 9.0], np.float32)}


@pytest.fixture(autouse=True)
def fresh_acl_process(monkeypatch):
    monkeypatch.setattr(om_mod, "_ACL_PROCESS", om_mod._AclProcess())


def om_folder(root: Path, stages=("backbone",), compile: bool = True) -> Artifacts:
    """Sealed artifacts whose stages hold one graph (META), compiled by a fake atc."""
    for stage in stages:
        (root / "export" / stage).mkdir(parents=True, exist_ok=True)
        (root / "export" / stage / META.file).write_bytes(GRAPH)
        meta = StageMeta(stage, {"model": META}, 13, {}, ["thing"], CHECKPOINT)
        write_stage_meta(root / "export" / stage, meta)
    seal(root)
    for stage in stages if compile else ():
        fake_compiled(root, stage, "model", META)
    return Artifacts.open(root)


@pytest.fixture
def compiled(tmp_path) -> Artifacts:
    return om_folder(tmp_path)


def _use(monkeypatch, ais=False, acl=None):
    for name, module in fake_ais_modules().items():
        monkeypatch.setitem(sys.modules, name, module if ais else None)
    monkeypatch.setitem(sys.modules, "acl", acl.module if acl else None)
    if not ais:
        return None
    session = sys.modules["ais_bench.infer.interface"].InferSession
    session.io = {k: [(t.name, t.shape) for t in getattr(META, k)] for k in ("inputs", "outputs")}
    return sys.modules["ais_bench.infer.interface"]


def _acl():
    return FakeAcl(
        inputs=[((2,), np.float32), ((1, 3), np.float32)],
        outputs=[((1, 3), np.float16), ((2,), np.int64)],
        compute=_model,
    )


def _check_outputs(outs):
    half, idx = outs
    assert half.dtype == np.float32 and half.shape == (1, 3)
    np.testing.assert_allclose(half, [[2.0, -4.0, 7.0]])
    assert idx.dtype == np.int64 and idx.tolist() == [1, 0]


def test_runner_selection(monkeypatch):
    fake = _acl()
    _use(monkeypatch, ais=True, acl=fake)
    assert OmBackend.available() == (True, "ais_bench")
    assert om_mod.select_runner("acl")[0] == "acl"
    _use(monkeypatch, ais=False, acl=fake)
    assert OmBackend.available() == (True, "acl")
    with pytest.raises(VitdetError) as err:
        OmBackend(runner="ais_bench")
    assert err.value.code == "om_runner_missing"
    _use(monkeypatch, ais=False, acl=None)
    ok, why = OmBackend.available()
    assert not ok and "ais_bench" in why and "set_env.sh" in why
    with pytest.raises(VitdetError) as err:
        get_backend("om")
    assert err.value.code == "backend_unavailable"
    with pytest.raises(VitdetError) as err:
        OmBackend(runner="tensorrt")
    assert err.value.exit_code == 2


def test_ais_bench_feeds_in_meta_order(monkeypatch, compiled):
    ais = _use(monkeypatch, ais=True, acl=_acl())
    ais.InferSession.compute = staticmethod(_model)
    backend = get_backend("om", device_id=3)
    with backend.open(compiled, "backbone", "model") as session:
        _check_outputs(session.run(FEEDS))
    (inst,) = ais.InferSession.instances
    assert inst.device_id == 3 and inst.model_path.endswith("atc/backbone/model_linux_aarch64.om")
    assert [f.shape for f in inst.feeds[0]] == [(2,), (1, 3)] and inst.modes == ["static"]
    np.testing.assert_array_equal(inst.feeds[0][0], FEEDS["a"])
    assert inst.freed == 1
    session.close()  # idempotent
    assert inst.freed == 1


def test_ais_bench_error_frees(monkeypatch, compiled):
    ais = _use(monkeypatch, ais=True)
    ais.InferSession.fail = True
    with pytest.raises(VitdetError) as err:
        with OmBackend().open(compiled, "backbone", "model") as session:
            session.run(FEEDS)
    assert err.value.code == "om_infer_failed"
    assert ais.InferSession.instances[0].freed == 1


def test_acl_sequence_and_outputs(monkeypatch, compiled):
    fake = _acl()
    _use(monkeypatch, ais=False, acl=fake)
    with OmBackend(device_id=1).open(compiled, "backbone", "model") as session:
        _check_outputs(session.run(FEEDS))
        _check_outputs(session.run(FEEDS))
        assert fake.count("finalize") == 0
    calls = fake.calls
    order = [
        "init",
        "rt.set_device",
        "mdl.load_from_file",
        "mdl.execute",
        "mdl.unload",
        "rt.reset_device",
        "finalize",
    ]
    positions = [calls.index(c) for c in order[:4]] + [calls.index(c) for c in order[4:]]
    assert positions == sorted(positions)
    assert calls.count("mdl.execute") == 2 and calls[-1] == "finalize"
    assert fake.leaked() == [] and fake.buffers == {} and fake.datasets == {}
    assert fake.count("rt.free") == fake.count("rt.malloc") == 4


def test_acl_error_during_execute_releases_everything(monkeypatch, compiled):
    fake = _acl()
    fake.execute_ret = 507011
    _use(monkeypatch, acl=fake)
    with pytest.raises(VitdetError) as err:
        with OmBackend().open(compiled, "backbone", "model") as session:
            session.run(FEEDS)
    assert err.value.code == "acl_error" and "507011" in err.value.message
    for name in ("mdl.unload", "mdl.destroy_desc", "rt.reset_device", "finalize"):
        assert fake.count(name) == 1, name
    assert fake.leaked() == []


def test_acl_load_failure_releases_device(monkeypatch, compiled):
    fake = _acl()
    fake.load_ret = 145000
    _use(monkeypatch, acl=fake)
    with pytest.raises(VitdetError) as err:
        OmBackend().open(compiled, "backbone", "model")
    assert "load_from_file" in err.value.message
    assert fake.count("mdl.unload") == 0
    assert fake.count("rt.reset_device") == 1 and fake.count("finalize") == 1


def test_acl_init_is_shared_between_sessions(monkeypatch, tmp_path):
    compiled = om_folder(tmp_path, ("backbone", "rpn"))
    fake = _acl()
    _use(monkeypatch, acl=fake)
    backend = OmBackend()
    first = backend.open(compiled, "backbone", "model")
    second = backend.open(compiled, "rpn", "model")
    assert fake.count("init") == 1 and fake.count("rt.set_device") == 1
    first.close()
    assert fake.count("finalize") == 0 and fake.count("mdl.unload") == 1
    _check_outputs(second.run(FEEDS))
    second.close()
    assert fake.count("finalize") == 1 and fake.count("rt.reset_device") == 1


def test_missing_om_names_file_and_hints_atc(monkeypatch, tmp_path):
    _use(monkeypatch, ais=True)
    with pytest.raises(VitdetError) as err:
        OmBackend().open(om_folder(tmp_path, compile=False), "backbone", "model")
    e = err.value
    assert e.code == "om_missing" and str(tmp_path / "atc" / "backbone") in e.message
    assert "vitdet atc" in e.hint


def test_om_checked_against_atc_meta_and_manifest(monkeypatch, compiled):
    _use(monkeypatch, ais=True)
    root = compiled.root
    om = root / "atc" / "backbone" / "model_linux_aarch64.om"
    om.write_bytes(b"replaced")
    with pytest.raises(VitdetError) as err:
        Artifacts.open(root)
    assert err.value.code == "artifacts_tampered" and str(om) in err.value.message
    om.unlink()
    fake_compiled(root, "backbone", "model", META)
    (root / "export" / "backbone" / META.file).write_bytes(b"another graph")
    sha = hashlib.sha256(b"another graph").hexdigest()
    new = GraphMeta(META.file, sha, META.inputs, META.outputs)
    meta = StageMeta("backbone", {"model": new}, 13, {}, ["thing"], CHECKPOINT)
    write_stage_meta(root / "export" / "backbone", meta)
    with pytest.raises(VitdetError) as err:
        OmBackend().open(seal(root, "export"), "backbone", "model")
    assert err.value.code == "om_stale"


def test_feed_checks_and_closed_session(monkeypatch, compiled):
    _use(monkeypatch, ais=True)
    session = OmBackend().open(compiled, "backbone", "model")
    with pytest.raises(VitdetError):
        session.run({"a": FEEDS["a"]})
    session.close()
    with pytest.raises(VitdetError) as err:
        session.run(FEEDS)
    assert err.value.code == "closed"


def test_acl_dtype_table_is_complete():
    assert om_mod.ACL_DTYPES[1] is np.float16 and om_mod.ACL_DTYPES[9] is np.int64
    assert {0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12} <= set(om_mod.ACL_DTYPES)


def test_ais_bench_om_with_other_io_is_refused_before_running(monkeypatch, compiled):
    ais = _use(monkeypatch, ais=True)
    ais.InferSession.io = {**ais.InferSession.io, "outputs": [("half", (1, 4)), ("idx", (2,))]}
    with pytest.raises(VitdetError) as err:
        OmBackend().open(compiled, "backbone", "model")
    assert err.value.code == "om_mismatch" and "(1, 4)" in err.value.message
    (inst,) = ais.InferSession.instances
    assert inst.feeds == [] and inst.freed == 1
