"""The wheel carries configs/, patches/ and scripts/, and both a wheel-installed and an
editable copy of the package find them (vitdet_cli/shipped.py, setup.py)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from vitdet_cli.mmcv_build.builder import BUILD_TOOLS, _tools_env
from vitdet_cli.platform import pins

pytestmark = pytest.mark.slow  # builds and installs the package: ~10 s

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ("configs", "patches", "scripts")
SOURCES = ("pyproject.toml", "setup.py", "README.md", "vitdet_cli", *SHIPPED)

# What an installed copy finds; run by a fresh interpreter without site-packages (-S), so
# neither this checkout nor the venv's own editable install of vitdet_cli can answer. The venv's
# site-packages (argv[1]) is appended last as a plain folder for the dependencies (rich, ...):
# its .pth files, which would install the venv's own editable finder, are not read.
PROBE = """
import json, site, sys
for folder in sys.argv[2:]:
    site.addsitedir(folder)  # an install's site-packages, .pth files (editable finder) included
sys.path.append(sys.argv[1])
import vitdet_cli
from vitdet_cli.demo import DEMO_CONFIG
from vitdet_cli.mmcv_build.patches import patches_dir, select_patches
from vitdet_cli.mmcv_build.builder import BUILD_TOOLS, _tools_env
from vitdet_cli.platform import pins
from vitdet_cli.shipped import shipped_dir
print(json.dumps({
    "package": vitdet_cli.__file__,
    "folders": {name: str(shipped_dir(name)) for name in ("configs", "patches", "scripts")},
    "demo_config": str(DEMO_CONFIG),
    "patches": str(patches_dir("2.1.0")),
    "cpu_patches": len(select_patches("2.1.0", "cpu")),
    "script": str(pins.install_script()),
    "npu_pair": pins.npu_pair(),
}))
"""


def shipped_files() -> list[str]:
    return sorted(
        p.relative_to(REPO).as_posix()
        for name in SHIPPED
        for p in (REPO / name).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )


def pip(*args: str) -> None:
    """pip without build isolation or an index, with build-mmcv's pinned private setuptools and
    wheel on PYTHONPATH: the venv's own may be too old (torch 2.8.0 leaves setuptools 65.5 and
    no wheel)."""
    env = {**os.environ, **_tools_env("build", BUILD_TOOLS, REPO / ".pytest_cache" / "tools.log")}
    proc = subprocess.run(
        [sys.executable, "-m", "pip", *args, "--no-deps", "--no-build-isolation", "--no-index"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def probe(cwd: Path, pythonpath: str = "", site_dirs: tuple[str, ...] = ()) -> dict:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": pythonpath}  # no $VITDET_PATCHES_DIR
    proc = subprocess.run(
        [sys.executable, "-S", "-c", PROBE, sysconfig.get_path("purelib"), *site_dirs],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A copy of what the build reads (setuptools writes build/ and *.egg-info beside it)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, src / name)
    return src


@pytest.fixture(scope="module")
def wheel(source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    pip("wheel", "-q", "-w", str(out), str(source))
    (found,) = out.glob("vitdet_cli-*.whl")
    return found


def test_wheel_holds_the_shipped_folders_and_every_module(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in shipped_files():
        folder, rest = rel.split("/", 1)
        assert f"vitdet_cli/_{folder}/{rest}" in names, rel
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "vitdet_cli").rglob("*.py")}
    assert modules - names == set(), "a package is missing from the wheel (setup.py finds them)"
    assert "vitdet_cli/data_files/cann_onnx_ops.json" in names


def test_installed_wheel_finds_them_inside_the_package(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    found = probe(tmp_path, pythonpath=str(site))
    package = site / "vitdet_cli"
    assert Path(found["package"]) == package / "__init__.py"
    assert found["folders"] == {name: str(package / f"_{name}") for name in SHIPPED}
    assert Path(found["demo_config"]).is_file()
    assert found["patches"] == str(package / "_patches" / "mmcv-2.1.0")
    assert found["cpu_patches"] >= 1
    assert found["script"] == str(package / "_scripts" / "install_torch.sh")
    assert found["npu_pair"] == list(pins.npu_pair())  # what the checkout's script pins


def test_editable_install_finds_the_checkout_folders(source, tmp_path):
    before = installed_vitdet()
    prefix = tmp_path / "prefix"
    # --ignore-installed: without it pip first uninstalls the venv's own vitdet-cli (same name)
    pip("install", "-q", "--ignore-installed", "--prefix", str(prefix), "-e", str(source))
    rel = Path(sysconfig.get_path("purelib")).relative_to(sysconfig.get_path("data"))
    found = probe(tmp_path, site_dirs=(str(prefix / rel),))
    assert Path(found["package"]) == source / "vitdet_cli" / "__init__.py"
    assert found["folders"] == {name: str(source / name) for name in SHIPPED}
    assert found["demo_config"] == str(source / "configs" / "vitdet_tiny_shapes.yaml")
    assert found["patches"] == str(source / "patches" / "mmcv-2.1.0")
    assert found["script"] == str(source / "scripts" / "install_torch.sh")
    assert found["cpu_patches"] >= 1
    assert installed_vitdet() == before, "the test install touched the venv's own vitdet-cli"


def installed_vitdet() -> tuple:
    """The venv's own vitdet-cli: its distribution (if installed) and its console script."""
    try:
        dist = importlib.metadata.distribution("vitdet-cli")
        where = (dist.version, str(dist.locate_file("")))
    except importlib.metadata.PackageNotFoundError:
        where = None
    return where, (Path(sys.executable).parent / "vitdet").exists()
