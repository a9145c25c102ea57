"""npu-smi parsing and SoC resolution, on recorded real-format tables."""

import pytest

from tests.conftest import FIXTURES
from vitdet_cli.errors import VitdetError
from vitdet_cli.platform.cann import (
    normalize_soc,
    parse_npu_smi_info,
    resolve_soc_version,
    soc_from_npu_smi,
    toolkit_version,
)

SMI_910B3 = (FIXTURES / "npu_smi" / "910b3_x2.txt").read_text()
SMI_310P3 = (FIXTURES / "npu_smi" / "310p3_duo.txt").read_text()


def test_parse_910b3():
    chips = parse_npu_smi_info(SMI_910B3)
    assert [(c.npu, c.chip, c.name, c.health) for c in chips] == [
        (0, 0, "910B3", "OK"),
        (1, 0, "910B3", "OK"),
    ]
    assert chips[1].bus_id == "0000:C2:00.0" and chips[1].memory_used_mb == 58626
    assert chips[0].memory_total_mb == 65536


def test_parse_310p3_duo_card_and_health():
    chips = parse_npu_smi_info(SMI_310P3)
    assert [(c.npu, c.chip) for c in chips] == [(1, 0), (1, 1), (24, 0)]
    assert chips[2].health == "Warning" and chips[2].memory_used_mb == 1832
    assert {c.name for c in chips} == {"310P3"}


def test_parse_ignores_garbage():
    assert parse_npu_smi_info("") == []
    assert parse_npu_smi_info("bash: npu-smi: command not found") == []


def test_soc_from_table():
    assert soc_from_npu_smi(SMI_910B3) == "Ascend910B3"
    assert soc_from_npu_smi(SMI_310P3) == "Ascend310P3"
    assert soc_from_npu_smi(None) is None


@pytest.mark.parametrize(
    "explicit, env, smi, config, expected",
    [
        (
            "Ascend310P3",
            {"SOC_VERSION": "Ascend910B4"},
            SMI_910B3,
            "Ascend910B1",
            ("Ascend310P3", "flag"),
        ),
        (
            None,
            {"SOC_VERSION": "Ascend910B4"},
            SMI_310P3,
            "Ascend910B1",
            ("Ascend910B4", "environment (SOC_VERSION)"),
        ),
        (
            None,
            {"ASCEND_SOC_VERSION": "910B2"},
            SMI_310P3,
            None,
            ("Ascend910B2", "environment (ASCEND_SOC_VERSION)"),
        ),
        (None, {}, SMI_310P3, "Ascend910B1", ("Ascend310P3", "npu-smi")),
        (None, {}, "", "Ascend910B1", ("Ascend910B1", "config")),
        (None, {}, "", None, ("Ascend910B3", "default")),
    ],
)
def test_soc_priority(explicit, env, smi, config, expected):
    res = resolve_soc_version(explicit, environ=env, npu_smi_text=smi, config_value=config)
    assert (res.value, res.source) == expected


def test_normalize_soc():
    assert normalize_soc("910B3") == "Ascend910B3"
    assert normalize_soc("ascend310P3") == "Ascend310P3"
    with pytest.raises(VitdetError):
        normalize_soc("Ascend 910B3; rm -rf /")


def test_toolkit_version_files(tmp_path):
    (tmp_path / "x86_64-linux").mkdir()
    (tmp_path / "x86_64-linux" / "ascend_toolkit_install.info").write_text(
        "package_name=Ascend-cann-toolkit\nversion=8.5.0\ninnerversion=V100R001C23\n"
    )
    assert toolkit_version(tmp_path) == "8.5.0"
    other = tmp_path / "other"
    other.mkdir()
    (other / "version.cfg").write_text(
        "# version cfg\nruntime_running_version=[8.0.0.1.200:8.0.RC1]\n"
    )
    assert toolkit_version(other) == "8.0.0.1.200"
    assert toolkit_version(None) is None


SMI_A3 = (FIXTURES / "npu_smi" / "910_9391_a3.txt").read_text()
BOARD_A3 = (FIXTURES / "npu_smi" / "910_9391_board.txt").read_text()
BOARD_910B3 = (FIXTURES / "npu_smi" / "910b3_board.txt").read_text()
SMI_310B1 = (FIXTURES / "npu_smi" / "310b1.txt").read_text()


def test_parse_a3_two_dies_per_npu():
    chips = parse_npu_smi_info(SMI_A3)
    assert [(c.npu, c.chip, c.name) for c in chips] == [
        (0, 0, "Ascend910"),
        (0, 1, "Ascend910"),
        (1, 0, "Ascend910"),
        (1, 1, "Ascend910"),
    ]
    assert chips[3].health == "Warning" and chips[3].memory_used_mb == 41193
    assert chips[1].bus_id == "0000:9F:00.0"


def test_parse_310b_soc_board_without_bus_id():
    chips = parse_npu_smi_info(SMI_310B1)
    assert [(c.npu, c.chip, c.name, c.bus_id) for c in chips] == [(0, 0, "310B1", "NA")]
    assert (chips[0].memory_used_mb, chips[0].memory_total_mb) == (4974, 11577)
    assert soc_from_npu_smi(SMI_310B1) == "Ascend310B1"


def test_a3_soc_needs_the_board_query():
    # The table's "Ascend910" is not a SoC ("AscendAscend910" is what prefixing it gives).
    assert soc_from_npu_smi(SMI_A3) is None
    assert soc_from_npu_smi(SMI_A3, BOARD_A3) == "Ascend910_9391"
    assert soc_from_npu_smi(SMI_910B3, BOARD_910B3) == "Ascend910B3"
    res = resolve_soc_version(environ={}, npu_smi_text=SMI_A3, board_text=BOARD_A3)
    assert (res.value, res.source) == ("Ascend910_9391", "npu-smi")
    # Without the board output the table alone does not decide: the config is next.
    res = resolve_soc_version(
        environ={}, npu_smi_text=SMI_A3, config_value="Ascend910_9392", query_npu_smi=False
    )
    assert (res.value, res.source) == ("Ascend910_9392", "config")


def test_resolution_queries_the_board_of_the_first_chip(monkeypatch):
    calls = []

    def fake_run(args=("info",), timeout=20.0):
        calls.append(args)
        return SMI_A3 if args == ("info",) else BOARD_A3

    monkeypatch.setattr("vitdet_cli.platform.cann.run_npu_smi", fake_run)
    res = resolve_soc_version(environ={})
    assert (res.value, res.source) == ("Ascend910_9391", "npu-smi")
    assert calls == [("info",), ("info", "-t", "board", "-i", "0", "-c", "0")]
    calls.clear()
    monkeypatch.setattr(
        "vitdet_cli.platform.cann.run_npu_smi", lambda args=("info",), timeout=20.0: SMI_910B3
    )
    assert resolve_soc_version(environ={}).value == "Ascend910B3"


def test_env_check_consults_the_config_soc(cli_json, tmp_path, monkeypatch):
    for var in ("SOC_VERSION", "ASCEND_SOC_VERSION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("vitdet_cli.platform.cann.run_npu_smi", lambda *a, **k: None)
    cfg = tmp_path / "exp.yaml"
    cfg.write_text("name: a3\ndevice:\n  kind: npu\n  soc_version: Ascend910_9391\n")
    result, data = cli_json("env-check", "--device", "cpu", "--no-ops", "--config", str(cfg))
    soc = next(c for c in data["checks"] if c["name"] == "soc_version")
    assert soc["found"] == "Ascend910_9391 (from config)"
    result, data = cli_json("env-check", "--device", "cpu", "--no-ops")
    soc = next(c for c in data["checks"] if c["name"] == "soc_version")
    assert soc["found"] == "Ascend910B3 (from default)"
