"""`build-mmcv --target npu --check`: pins, compiler errors, symbol resolution with the real
toolchain on tiny sources, the NPU patch, and the replacement arithmetic of npu_slice_out."""

import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from vitdet_cli.errors import VitdetError
from vitdet_cli.mmcv_build import npu_check, patches
from vitdet_cli.platform import pins

REPO = Path(__file__).resolve().parents[1]
NPU_PATCH = REPO / "patches" / "mmcv-2.1.0" / "0003-npu-sources-for-torch-npu-2.8.patch"
needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ and binutils")


def test_pins_come_from_the_install_script():
    spec = pins.specs()
    assert pins.npu_pair() == ("2.8.0", "2.8.0")
    assert pins.version_of(spec["cuda"], "torch") == "2.8.0"
    assert pins.version_of(spec["cpu"], "torch")
    names = npu_check.wheel_names(*pins.npu_pair())
    assert all(n in npu_check.WHEEL_SHA256 for n in names), "pin the new wheels' sha256"


def test_pins_refuse_a_script_without_the_npu_branch(tmp_path):
    script = tmp_path / "install_torch.sh"
    script.write_text('case "$1" in\n    cuda) echo "torch==2.8.0" ;;\n'
                      '    cpu) echo "torch==2.13.0" ;;\nesac\n')  # fmt: skip
    with pytest.raises(VitdetError, match="no torch spec found for npu"):
        pins.specs(script)


def test_unpinned_and_corrupt_wheels_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("VITDET_CACHE_DIR", str(tmp_path))
    with pytest.raises(VitdetError) as err:
        npu_check.fetch_wheels("9.9.9", "9.9.9", tmp_path / "log")
    assert err.value.code == "unpinned_wheel"
    folder = tmp_path / "npu-check" / "wheels"
    folder.mkdir(parents=True)
    for name in npu_check.wheel_names("2.8.0", "2.8.0"):
        (folder / name).write_bytes(b"not a wheel")
    with pytest.raises(VitdetError) as err:
        npu_check.fetch_wheels("2.8.0", "2.8.0", tmp_path / "log")
    assert err.value.code == "bad_sha256" and list(folder.glob("*.rejected"))


LIB = """
namespace at_npu { namespace native {
struct __attribute__((visibility("default"))) Exported { static int f(); };
struct Hidden { static int g(); };
int Exported::f() { return 1; }
__attribute__((visibility("hidden"))) int Hidden::g() { return 2; }
}}
"""
USER = """
namespace at_npu { namespace native {
struct Exported { static int f(); };
struct Hidden { static int g(); };
}}
namespace other { int h(); }
int use() { return at_npu::native::Exported::f() + at_npu::native::Hidden::g() + other::h(); }
"""


@needs_gxx
def test_missing_symbols_are_the_unexported_npu_ones(tmp_path):
    (tmp_path / "lib.cpp").write_text(LIB)
    (tmp_path / "use.cpp").write_text(USER)
    lib = tmp_path / "libfake_npu.so"
    subprocess.run(["g++", "-shared", "-fPIC", "-o", str(lib), str(tmp_path / "lib.cpp")],
                   check=True)  # fmt: skip
    flags = ["-fPIC", "-std=c++17"]
    res = npu_check.check_file(
        tmp_path / "use.cpp",
        tmp_path / "use.o",
        "g++",
        flags,
        npu_check.exported_symbols(lib),
        tmp_path / "log",
    )
    assert res.compiled and res.missing == ["at_npu::native::Hidden::g()"]
    assert not res.ok


@needs_gxx
def test_compile_errors_are_reported_per_file(tmp_path):
    (tmp_path / "bad.cpp").write_text(
        "#include <cstdint>\ntemplate <class T, int N> struct V {};\nV<int64_t, SIZE> v;\n"
    )
    res = npu_check.check_file(
        tmp_path / "bad.cpp", tmp_path / "bad.o", "g++", ["-std=c++17"], set(), tmp_path / "log"
    )
    assert not res.compiled and not res.ok
    assert any("'SIZE' was not declared" in e for e in res.errors)
    assert "exit 1" in (tmp_path / "log").read_text()


def test_flags_are_setup_py_force_npu_ones(tmp_path):
    flags = npu_check.compile_flags(tmp_path / "src", tmp_path / "sdk")
    for define in ("MMCV_WITH_NPU", "MMCV_WITH_KPRIVATE", "TORCH_API_INCLUDE_EXTENSION_H",
                   "TORCH_EXTENSION_NAME=_ext"):  # fmt: skip
        assert f"-D{define}" in flags
    assert "-std=c++17" in flags and "-fPIC" in flags
    assert f"-I{tmp_path / 'sdk' / 'torch_npu/include/third_party/acl/inc'}" in flags


def test_npu_patch_is_selected_for_npu_only():
    npu = [p.name for p in patches.select_patches("2.1.0", "npu")]
    assert NPU_PATCH.name in npu
    assert NPU_PATCH.name not in [p.name for p in patches.select_patches("2.1.0", "cpu")]


def test_npu_patch_removes_every_dropped_torch_npu_name(tmp_path):
    from vitdet_cli.mmcv_build import builder

    sdist = builder.fetch_sdist("2.1.0", tmp_path / "log")
    src = builder.unpack(sdist, tmp_path / "src")
    patches.apply_patches(patches.select_patches("2.1.0", "npu"), src, tmp_path / "log")
    text = "\n".join(p.read_text() for p in (src / npu_check.NPU_SOURCES).glob("*.cpp"))
    for gone in ("SIZE>", "array_to_small_vector", "format_contiguous", "npu_slice_out"):
        assert gone not in text


def _npu_slice(x: torch.Tensor, offsets, sizes) -> torch.Tensor:
    """torch_npu's npu_slice: the block of ``sizes`` starting at ``offsets``."""
    index = tuple(slice(o, o + s) for o, s in zip(offsets, sizes))
    return x[index]


def test_focal_loss_slice_replacement_has_the_same_arithmetic():
    # The patch replaces npu_slice_out(op_output, {0, 0}, {n_batch, 1}, output) with this
    # expression; the same ATen calls run here on the CPU.
    expr = "output.copy_(op_output.narrow(0, 0, n_batch).narrow(1, 0, 1).reshape("
    assert expr in NPU_PATCH.read_text().replace("\n      ", "")
    gen = torch.Generator().manual_seed(0)
    for n_batch, n_class in ((1, 1), (5, 3), (7, 80)):
        op_output = torch.rand(n_batch, n_class, generator=gen)
        output = torch.zeros(n_batch)  # what focal_loss.py allocates
        output.copy_(op_output.narrow(0, 0, n_batch).narrow(1, 0, 1).reshape(output.shape))
        expected = _npu_slice(op_output, (0, 0), (n_batch, 1))
        assert torch.equal(output, expected.reshape(-1))
        assert output.shape == (n_batch,)


def test_check_needs_target_npu(cli):
    result = cli("build-mmcv", "--target", "cpu", "--check")
    assert result.exit_code == 2


def test_check_table_and_exit_status(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("COLUMNS", "250")
    files = [
        npu_check.FileCheck("nms_npu.cpp", False, ["'SIZE' was not declared in this scope"]),
        npu_check.FileCheck("focal_loss_npu.cpp", True, [], ["at_npu::native::x()"]),
        npu_check.FileCheck("psa_mask_npu.cpp", True),
    ]
    report = npu_check.NpuCheckReport(
        "2.1.0", "2.8.0", "2.8.0", [], [], files, 1.0, tmp_path / "log"
    )
    monkeypatch.setattr(npu_check, "run_check", lambda **kw: report)
    result = cli("build-mmcv", "--target", "npu", "--check")
    assert result.exit_code == 1
    assert "'SIZE' was not declared" in result.stdout and "at_npu::native::x()" in result.stdout
    assert "2 of 3 NPU sources fail" in result.stdout
    files[:2] = [npu_check.FileCheck("nms_npu.cpp", True), npu_check.FileCheck("f.cpp", True)]
    result = cli("--json", "build-mmcv", "--target", "npu", "--check")
    assert result.exit_code == 0 and '"ok": true' in result.stdout


@pytest.mark.slow
def test_npu_sources_compile_and_resolve_against_torch_npu(cli_json):
    """The real check: downloads the pinned wheels once (~0.9 GB), compiles 15 sources."""
    result, data = cli_json("build-mmcv", "--target", "npu", "--check")
    bad = {f["name"]: f["errors"] or f["missing"] for f in data["files"] if not f["ok"]}
    assert result.exit_code == 0 and not bad, bad
    assert len(data["files"]) == 15 and NPU_PATCH.name in data["patches"]
