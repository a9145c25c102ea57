"""build-mmcv: patches, cache keys, the failure paths, and cache reuse."""

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from vitdet_cli.errors import VitdetError
from vitdet_cli.mmcv_build import builder, patches, spec
from vitdet_cli.mmcv_build import target as targetlib

# torch 2.8.0's PyPI wheel (CUDA 12.8) on this machine kind: nvcc from CUDA 13.0, no GPU
TOOLCHAIN = targetlib.Toolchain(
    torch_cuda="12.8",
    nvcc="/usr/local/cuda/bin/nvcc",
    nvcc_cuda="13.0",
    gpus=0,
    torch_npu=False,
    cann_home=None,
)

HEADER = "Fixes: {fixes}\nVersions: mmcv 2.1.0\nTargets: {targets}\n\n"
DIFF = """--- a/hello.txt
+++ b/hello.txt
@@ -1 +1 @@
-{old}
+{new}
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VITDET_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def make_patch_dir(root: Path, items):
    folder = root / "mmcv-2.1.0"
    folder.mkdir(parents=True)
    for name, targets, old, new in items:
        (folder / name).write_text(
            HEADER.format(fixes=f"change {old}", targets=targets) + DIFF.format(old=old, new=new)
        )
    return root


def test_shipped_patches_have_headers():
    found = patches.select_patches("2.1.0", "cpu")
    assert found, "patches/mmcv-2.1.0 should hold at least the pkg_resources fix"
    for p in found:
        assert p.fixes and "2.1.0" in p.versions and "cpu" in p.targets


def test_select_by_target_and_hash(tmp_path):
    root = make_patch_dir(
        tmp_path / "p", [("0001-a.patch", "cpu, npu", "x", "y"), ("0002-b.patch", "npu", "y", "z")]
    )
    cpu = patches.select_patches("2.1.0", "cpu", root)
    npu = patches.select_patches("2.1.0", "npu", root)
    assert [p.name for p in cpu] == ["0001-a.patch"]
    assert [p.name for p in npu] == ["0001-a.patch", "0002-b.patch"]
    before = patches.patch_hash(npu)
    (root / "mmcv-2.1.0" / "0002-b.patch").write_text(
        HEADER.format(fixes="f", targets="npu") + DIFF.format(old="y", new="w")
    )
    assert patches.patch_hash(patches.select_patches("2.1.0", "npu", root)) != before


def test_patch_without_header_is_refused(tmp_path):
    folder = tmp_path / "mmcv-2.1.0"
    folder.mkdir()
    (folder / "0001-x.patch").write_text(DIFF.format(old="a", new="b"))
    with pytest.raises(VitdetError, match="Fixes:"):
        patches.select_patches("2.1.0", "cpu", tmp_path)


def test_patches_apply_in_order_and_failure_names_the_patch(tmp_path):
    root = make_patch_dir(
        tmp_path / "p", [("0001-a.patch", "cpu", "x", "y"), ("0002-b.patch", "cpu", "y", "z")]
    )
    src = tmp_path / "src"
    src.mkdir()
    (src / "hello.txt").write_text("x\n")
    patches.apply_patches(patches.select_patches("2.1.0", "cpu", root), src, tmp_path / "log")
    assert (src / "hello.txt").read_text() == "z\n"
    with pytest.raises(VitdetError, match="0001-a.patch does not apply") as info:
        patches.apply_patches(patches.select_patches("2.1.0", "cpu", root), src, tmp_path / "log")
    assert info.value.code == "patch_failed"


def test_cache_key_covers_target_torch_and_patches():
    a = spec.make_spec("cpu", "a" * 64)
    assert a.key != spec.make_spec("cpu", "b" * 64).key
    assert a.key.startswith("mmcv2.1.0-torch") and "-cpu-" in a.key and spec.python_tag() in a.key
    assert (
        spec.BuildSpec(**{**a.__dict__, "target": "npu", "accel_version": "npu2.8.0"}).key != a.key
    )
    assert a.env["MMCV_WITH_OPS"] == "1" and "FORCE_NPU" not in a.env


def test_sha256_mismatch_is_refused_and_moved_aside(cache):
    sdist = cache / "sdist" / "mmcv-2.1.0.tar.gz"
    sdist.parent.mkdir(parents=True)
    sdist.write_bytes(b"not the real file")
    with pytest.raises(VitdetError, match="does not match the pinned") as info:
        builder.fetch_sdist("2.1.0", cache / "log")
    assert info.value.code == "bad_sha256" and not sdist.exists()
    assert sdist.with_suffix(".rejected").exists()


def _seed_tools(cache: Path) -> None:
    """Mark both private tool folders as installed, so no test step runs pip for them."""
    for name, reqs in (("metadata", builder.METADATA_TOOLS), ("build", builder.BUILD_TOOLS)):
        folder = cache / "tools" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".requirements").write_text("\n".join(reqs))


def test_download_failure_reports_log(cache):
    _seed_tools(cache)
    with pytest.raises(VitdetError) as info:
        builder.fetch_sdist("0.0.0.dev999", cache / "log")
    assert info.value.code == "download_failed" and "log:" in info.value.hint


def test_no_compiler(monkeypatch):
    monkeypatch.setattr(builder.shutil, "which", lambda name: None)
    with pytest.raises(VitdetError, match="no C\\+\\+ compiler") as info:
        builder._preflight(targetlib.choose("cpu", TOOLCHAIN))
    assert "build-essential" in info.value.hint


def _fake_sdist(path: Path) -> str:
    setup_py = (
        b"import os, sys\nprint('PYTHONPATH=' + os.environ.get('PYTHONPATH', ''))\n"
        b"print('fatal error: pretend_header.h: No such file')\nsys.exit(1)\n"
    )
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("mmcv-2.1.0/setup.py")
        info.size = len(setup_py)
        tar.addfile(info, io.BytesIO(setup_py))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_build_error_shows_log_tail(cache, tmp_path, monkeypatch):
    (cache / "sdist").mkdir(parents=True)
    sha = _fake_sdist(cache / "sdist" / "mmcv-2.1.0.tar.gz")
    monkeypatch.setitem(spec.SDIST_SHA256, "2.1.0", sha)
    monkeypatch.setitem(builder.SDIST_SHA256, "2.1.0", sha)
    monkeypatch.setenv("VITDET_PATCHES_DIR", str(tmp_path / "no-patches"))
    _seed_tools(cache)
    with pytest.raises(VitdetError) as info:
        builder.build_mmcv("cpu")
    assert info.value.code == "build_failed"
    assert "pretend_header.h" in info.value.message and "full log:" in info.value.hint
    # setup.py ran with the pinned private build helpers first on the path, whatever the venv has
    assert f"PYTHONPATH={cache / 'tools' / 'build'}" in info.value.message
    assert not list((cache / "wheels").glob("*/*.whl")), "no wheel may be cached after a failure"


def test_shipped_patches_apply_to_real_sdist(tmp_path):
    """The pinned sdist (cached by `make setup`) takes every shipped patch."""
    sdist = builder.fetch_sdist("2.1.0", tmp_path / "log")
    src = builder.unpack(sdist, tmp_path / "src")
    patches.apply_patches(patches.select_patches("2.1.0", "npu"), src, tmp_path / "log")
    assert "except ImportError" in (src / "setup.py").read_text()


@pytest.mark.slow
def test_second_build_reuses_cached_wheel(cli_json):
    """Needs the wheel `make setup` built; the rebuild must come from the cache."""
    assert builder.plan("cpu").cached_wheel is not None, "no cached wheel: run `make setup` first"
    result, data = cli_json("build-mmcv", "--target", "cpu")
    assert result.exit_code == 0, result.output
    assert data["from_cache"] is True
    assert all(c["status"] == "ok" for c in data["checks"])
    print(f"cached build-mmcv took {data['seconds']} s")


def test_dry_run_builds_nothing(cli_json, cache):
    result, data = cli_json("build-mmcv", "--dry-run", "--target", "cpu")
    assert result.exit_code == 0 and data["dry_run"] is True
    assert any("MMCV_WITH_OPS=1" in s for s in data["steps"])
    assert not cache.exists() or not any(cache.rglob("*.whl"))


def _tc(**kw) -> targetlib.Toolchain:
    return targetlib.Toolchain(**{**TOOLCHAIN.__dict__, **kw})


@pytest.mark.parametrize(
    "facts, target, reason",
    [
        ({}, "cpu", "nvcc /usr/local/cuda/bin/nvcc is CUDA 13.0 but torch is built for CUDA 12.8"),
        ({"gpus": 8}, "cpu", "CUDA 13.0 but torch is built for CUDA 12.8"),
        ({"nvcc_cuda": "12.4"}, "cpu", "no visible GPU"),
        ({"nvcc_cuda": "12.4", "gpus": 1}, "cuda", "torch CUDA 12.8, nvcc CUDA 12.4, 1 GPU(s)"),
        ({"nvcc": None, "nvcc_cuda": None, "gpus": 1}, "cpu", "nvcc is not on PATH"),
        ({"torch_cuda": None}, "cpu", "torch is a CPU build"),
        ({"torch_cuda": None, "nvcc": None, "nvcc_cuda": None}, "cpu", "no GPU toolchain"),
        (
            {"torch_npu": True, "cann_home": "/usr/local/Ascend/ascend-toolkit/latest"},
            "npu",
            "torch_npu installed and CANN at /usr/local/Ascend",
        ),
        ({"torch_npu": True}, "cpu", "CANN is not"),
    ],
)
def test_auto_target_picks_only_a_build_that_can_succeed(facts, target, reason):
    choice = targetlib.choose("auto", _tc(**facts))
    assert choice.target == target and reason in choice.reason


def test_explicit_cuda_with_mismatched_nvcc_fails_before_compiling(cache, monkeypatch):
    choice = targetlib.choose("cuda", TOOLCHAIN)
    assert choice.target == "cuda"  # a cross-build needs no GPU ...
    with pytest.raises(VitdetError, match="CUDA 13.0 but torch is built for CUDA 12.8") as info:
        builder._preflight(choice)  # ... but a matching nvcc
    assert info.value.code == "cuda_mismatch" and "--target cpu" in info.value.hint
    builder._preflight(targetlib.choose("cuda", _tc(nvcc_cuda="12.6")))  # same major: fine


def test_nvcc_version_text():
    text = (
        "nvcc: NVIDIA (R) Cuda compiler driver\nCopyright (c) 2005-2025 NVIDIA Corporation\n"
        "Built on Wed_Aug_20_01:58:59_PM_PDT_2025\n"
        "Cuda compilation tools, release 13.0, V13.0.88\nBuild cuda_13.0.r13.0/compiler.36424714_0"
    )
    assert targetlib.parse_nvcc_version(text) == "13.0"
    assert targetlib.parse_nvcc_version("garbage") is None


def test_bad_target_is_a_usage_error():
    with pytest.raises(VitdetError, match="not one of") as info:
        targetlib.choose("tpu", TOOLCHAIN)
    assert info.value.exit_code == 2


def test_plan_reports_the_choice_and_reason(cli_json, cache):
    result, data = cli_json("build-mmcv", "--dry-run")
    assert result.exit_code == 0, result.output
    assert data["target"]["target"] in ("cpu", "cuda", "npu") and data["target"]["reason"]
