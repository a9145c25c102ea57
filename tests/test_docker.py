"""docker/: the Dockerfile and run script, checked statically (no Docker engine runs here),
and env-check's device-node and mount report on a fake filesystem root."""

import os
import re
import subprocess
from pathlib import Path

from vitdet_cli.envcheck import checks
from vitdet_cli.platform import container, pins

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = (REPO / "docker" / "Dockerfile").read_text()
RUN_SH = REPO / "docker" / "run.sh"
# The source document's apt packages (libgl1-mesa-glx there; libgl1 is its current name).
DOC_APT = ("libxcb1", "libxrender1", "libxext6", "libglib2.0-0", "libgl1")


def test_dockerfile_base_packages_and_build():
    assert re.search(r"^FROM quay\.io/ascend/cann:8\.5\.0$", DOCKERFILE, re.M)
    apt = re.search(r"apt-get install[^\n]*\n((?:\s+[^\n]*\n)*?)\s+&& rm", DOCKERFILE).group(0)
    assert all(re.search(rf"\s{re.escape(p)}\s", apt) for p in DOC_APT)
    assert "vitdet build-mmcv --target npu" in DOCKERFILE
    assert "pip install -e ." in DOCKERFILE


def test_dockerfile_takes_torch_pins_from_the_install_script():
    assert not re.search(r"torch(_npu)?==", DOCKERFILE), "pins belong in scripts/install_torch.sh"
    assert 'TORCH_SPEC="$(scripts/install_torch.sh --spec npu)" scripts/install_torch.sh' in (
        DOCKERFILE
    )
    # the script prints the spec the package's own reader (pins.py, for the NPU check) finds
    out = subprocess.run(
        [str(REPO / "scripts/install_torch.sh"), "--spec", "npu"],
        capture_output=True, text=True, check=True, cwd="/",
    ).stdout.strip()  # fmt: skip
    assert out == pins.specs()["npu"]
    assert {"torch==2.8.0", "torch_npu==2.8.0"} <= set(out.split())


def _run_script(tmp_path, *args, **env):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    record = tmp_path / "argv"
    (bin_dir / "docker").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    (bin_dir / "docker").chmod(0o755)
    full_env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", **env)
    subprocess.run(["bash", str(RUN_SH), *args], check=True, env=full_env)
    return record.read_text().splitlines()


def test_run_script_passes_the_documents_nodes_and_mounts(tmp_path):
    argv = _run_script(tmp_path, CARDS="6 7", IMAGE="img", NAME="box")
    assert argv[:2] == ["run", "-it"] and argv[-1] == "/bin/bash" and argv[-2] == "img"
    assert {"--privileged", "--ipc=host", "--net=host", "-d"} <= set(argv)
    devices = [a.split("=", 1)[1] for a in argv if a.startswith("--device=")]
    assert devices == [*container.DEVICE_NODES, "/dev/davinci6", "/dev/davinci7"]
    mounts = [argv[i + 1] for i, a in enumerate(argv) if a == "-v"]
    assert mounts == [f"{m.path}:{m.path}" for m in container.MOUNTS]
    assert argv[argv.index("--name") + 1] == "box"


def test_run_script_runs_a_given_command(tmp_path):
    argv = _run_script(tmp_path, "vitdet", "env-check", "--device", "npu", CARDS="0")
    assert argv[-5:] == ["vitdet-npu", "vitdet", "env-check", "--device", "npu"]
    assert "--device=/dev/davinci0" in argv


def _fake_root(tmp_path, nodes, paths, boxed=True):
    root = tmp_path / "root"
    for rel in [*nodes, *paths]:
        target = root / rel.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("")
    if boxed:
        (root / ".dockerenv").write_text("")
    return root


def test_env_check_names_the_missing_docker_flag(tmp_path):
    root = _fake_root(
        tmp_path,
        ["/dev/davinci_manager", "/dev/devmm_svm", "/dev/davinci1", "/dev/davinci0"],
        ["/usr/local/Ascend/driver/lib64/x", "/usr/local/bin/npu-smi"],
    )
    got = {c.name: c for c in checks.check_host("npu", str(root))}
    assert got["/dev/hisi_hdc"].status == "fail"
    assert "--device=/dev/hisi_hdc" in got["/dev/hisi_hdc"].hint
    assert got["/dev/davinciN"].status == "ok"
    assert got["/dev/davinciN"].found == "/dev/davinci0, /dev/davinci1"
    assert got["/usr/local/Ascend/driver"].status == "ok"
    hccn = got["/usr/local/Ascend/driver/tools/hccn_tool"]
    assert hccn.status == "warn" and "-v /usr/local/Ascend/driver/tools/hccn_tool:" in hccn.hint
    assert checks.check_host("cpu", str(root)) == []


def test_env_check_without_driver_outside_a_container(tmp_path):
    root = _fake_root(tmp_path, [], [], boxed=False)
    got = {c.name: c for c in checks.check_host("npu", str(root))}
    assert got["/usr/local/Ascend/driver"].status == "fail"
    assert got["/usr/local/Ascend/driver"].hint.startswith("not on this host")
    assert got["/dev/davinciN"].status == "fail" and got["/dev/davinciN"].found == "none"
