"""Compile the exported stage graphs to Ascend OM files with ``atc``.

The artifacts folder is opened verified first. For each stage: resolve the SoC (flag >
environment > npu-smi > default), run atc per graph with its output captured to
``atc/<stage>/atc_<graph>.log``, find the OM atc actually wrote (``<graph>.om``, or
``<graph>_linux_<arch>.om`` as CANN 8.5 wrote on a 910B3 in the source document), then write
``atc/<stage>/atc_meta.json`` (argv, atc version, SoC and its source, precision, the OM's real
name, hashes of the ONNX read and the OM written) and, last, the updated manifest. atc runs on
the host CPU: no NPU is needed to compile.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.atc_meta import ATC_META_NAME, AtcMeta, OmRecord, write_atc_meta
from vitdet_cli.artifacts.layout import STAGE_GRAPHS, atc_rel
from vitdet_cli.artifacts.manifest import write_manifest
from vitdet_cli.artifacts.meta import parse_stages
from vitdet_cli.atc.argv import (
    DEFAULT_PRECISION,
    KEEP_DTYPE_FILE,
    build_atc_argv,
    keep_dtype_applies,
    keep_dtype_text,
)
from vitdet_cli.atc.diagnose import diagnose_log
from vitdet_cli.atomic import write_bytes_atomic
from vitdet_cli.errors import VitdetError
from vitdet_cli.metafile import sha256_file
from vitdet_cli.platform import cann
from vitdet_cli.platform.proc import log_tail, run_logged
from vitdet_cli.progress import SILENT, Progress

DEFAULT_SET_ENV = "/usr/local/Ascend/ascend-toolkit/set_env.sh"
LINT_HINT = (
    "`vitdet export` prints an atc lint for every graph naming the ops atc cannot parse "
    "(or call vitdet_cli.export.lint.lint_model on the .onnx); change the export so those ops "
    "are avoided or baked out, then re-run `vitdet export` and `vitdet atc`"
)


@dataclass
class GraphResult:
    """One graph's compile (or, with ``dry_run``, its planned command)."""

    stage: str
    graph: str
    onnx: Path
    om: Path
    argv: list[str]
    log: Path
    onnx_sha256: str = ""
    status: str = "planned"  # planned | ok
    seconds: float = 0.0
    om_bytes: Optional[int] = None

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "graph": self.graph,
            "onnx": str(self.onnx),
            "om": str(self.om),
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "om_bytes": self.om_bytes,
            "argv": self.argv,
            "command": self.command,
            "log": str(self.log),
        }


@dataclass
class CompileReport:
    """What :func:`compile_artifacts` did."""

    artifacts: Path
    soc: cann.SocResolution
    precision_mode: str
    keep_dtype: bool
    atc: str
    atc_version: Optional[str]
    dry_run: bool
    results: list[GraphResult] = field(default_factory=list)
    metas: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "artifacts": str(self.artifacts),
            "soc_version": self.soc.value,
            "soc_source": self.soc.source,
            "precision_mode": self.precision_mode,
            "keep_dtype": self.keep_dtype,
            "atc": self.atc,
            "atc_version": self.atc_version,
            "dry_run": self.dry_run,
            "graphs": [r.to_dict() for r in self.results],
            "atc_metas": [str(p) for p in self.metas],
        }


def find_atc(atc: Optional[str] = None) -> str:
    """The atc executable, or a clear error saying how to activate CANN."""
    found = shutil.which(atc) if atc else cann.atc_path()
    if found:
        return found
    set_env = cann.find_set_env() or DEFAULT_SET_ENV
    raise VitdetError(
        f"atc not found ({'no file ' + str(atc) if atc else 'not on PATH'})",
        hint=f"install the CANN toolkit and run `source {set_env}` in this shell",
        code="atc_missing",
    )


def atc_version(atc: str) -> Optional[str]:
    """CANN version from the toolkit's install info, else whatever ``atc --version`` reports."""
    found = cann.toolkit_version(cann.toolkit_home())
    if found:
        return found
    try:  # not documented; best effort only
        proc = subprocess.run([atc, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"version\D{0,20}(\d+(?:\.[\w]+)+)", proc.stdout + proc.stderr, re.IGNORECASE)
    return m.group(1) if m else None


def _failure(result: GraphResult, code: int, soc: str) -> VitdetError:
    """The error for a failed atc run: unsupported ops get the lint hint, others the log tail."""
    text = result.log.read_text(errors="replace") if result.log.is_file() else ""
    diag = diagnose_log(text)
    tail = log_tail(result.log, 15)
    where = f"{result.stage}/{result.graph} ({result.onnx})"
    if diag.unsupported:
        ops = ", ".join(diag.unsupported_ops) or "an op"
        return VitdetError(
            f"atc has no parser for {ops} in {where}; log: {result.log}\n{tail}",
            hint=LINT_HINT,
            code="atc_unsupported_op",
        )
    codes = f" [{', '.join(diag.codes)}]" if diag.codes else ""
    return VitdetError(
        f"atc failed for {where} with exit code {code}{codes}; log: {result.log}\n{tail}",
        hint=f"read the full log; check that --soc-version {soc} matches `npu-smi info` and that "
        "the CANN environment is sourced",
        code="atc_failed",
    )


def om_names(out_dir: Path, graph: str) -> set[str]:
    """OM files atc may have written for ``--output=<out_dir>/<graph>``: ``<graph>.om`` or
    ``<graph>_<suffix>.om`` (CANN 8.5 appended ``_linux_aarch64`` on a 910B3 host)."""
    pattern = re.compile(rf"{re.escape(graph)}(_[A-Za-z0-9_]+)?\.om")
    return {p.name for p in out_dir.glob("*.om") if pattern.fullmatch(p.name)}


def _compile_graph(result: GraphResult, soc: str, progress: Progress = SILENT) -> None:
    """Run atc for one graph and find the OM it wrote (stale outputs are removed first)."""
    out_dir = result.om.parent
    for name in om_names(out_dir, result.graph):
        (out_dir / name).unlink()
    start = time.monotonic()
    title = f"atc {result.stage}/{result.graph}"
    code = run_logged(result.argv, result.log, title, append=False, progress=progress)
    result.seconds = time.monotonic() - start
    if code != 0:
        raise _failure(result, code, soc)
    written = sorted(om_names(out_dir, result.graph))
    if len(written) != 1:
        what = "no OM was written" if not written else f"several OMs appeared: {written}"
        raise VitdetError(
            f"atc exited 0 but {what} for --output={out_dir / result.graph}; log: {result.log}\n"
            + log_tail(result.log, 15),
            hint="check the log and the free disk space of the artifacts directory",
            code="om_missing",
        )
    result.om = out_dir / written[0]
    result.om_bytes = result.om.stat().st_size
    result.status = "ok"


def plan_stage(
    art: Artifacts, stage: str, out_dir: Path, atc: str, soc: str, precision: str, keep: str
) -> list[GraphResult]:
    """The atc run of every graph of ``stage`` into ``out_dir`` (nothing run yet)."""
    meta = art.metas[stage]
    keep_file = out_dir / KEEP_DTYPE_FILE if keep else None
    results = []
    for graph in STAGE_GRAPHS[stage]:
        gmeta = meta.graphs[graph]
        onnx_path = art.graph_path(stage, graph)
        argv = build_atc_argv(atc, onnx_path, out_dir, graph, gmeta, soc, precision, keep_file)
        log = out_dir / f"atc_{graph}.log"
        om = out_dir / f"{graph}.om"
        results.append(GraphResult(stage, graph, onnx_path, om, argv, log, gmeta.sha256))
    return results


def compile_stage(
    art: Artifacts,
    results: Sequence[GraphResult],
    soc: cann.SocResolution,
    precision_mode: str,
    keep: str,
    atc_version: Optional[str],
    progress: Progress = SILENT,
) -> Path:
    """Run the planned atc commands of one stage (:func:`plan_stage`) into their folder and
    write its ``atc_meta.json`` last (removed first: a half-compiled stage has no meta). The
    caller seals the folder. Used by ``vitdet atc`` (``atc/<stage>/``) and ``vitdet tune
    --target npu`` (one folder per stage and precision mode)."""
    out_dir = results[0].om.parent
    stage = results[0].stage
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / ATC_META_NAME).unlink(missing_ok=True)
    if keep:
        write_bytes_atomic(out_dir / KEEP_DTYPE_FILE, keep.encode())
    records = {}
    for result in results:
        _compile_graph(result, soc.value, progress)
        records[result.graph] = OmRecord(
            onnx=result.onnx.relative_to(art.root).as_posix(),
            onnx_sha256=result.onnx_sha256,  # the manifest checked the file on open
            om=result.om.name,
            om_sha256=sha256_file(result.om),
            om_bytes=result.om_bytes or 0,
            argv=tuple(result.argv),
            seconds=round(result.seconds, 3),
            log=result.log.name,
        )
    atc_meta = AtcMeta(
        stage=stage,
        graphs=records,
        soc_version=soc.value,
        soc_source=soc.source,
        precision_mode=precision_mode,
        keep_dtype=keep,
        atc_version=atc_version,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    return write_atc_meta(out_dir, atc_meta)


def keep_for(precision_mode: str, keep_fp32: bool = True) -> str:
    """The ``--keep_dtype`` file content for ``precision_mode`` ("" when not passed)."""
    return keep_dtype_text() if keep_dtype_applies(precision_mode, keep_fp32) else ""


def atc_for(atc: Optional[str], dry_run: bool) -> str:
    """The atc executable (required unless ``dry_run``, which only names it)."""
    return find_atc(atc) if not dry_run else (atc or cann.atc_path() or "atc")


def compile_artifacts(
    artifacts: str | Path,
    soc_version: Optional[str] = None,
    precision_mode: str = DEFAULT_PRECISION,
    stages: Optional[str | Sequence[str]] = None,
    dry_run: bool = False,
    atc: Optional[str] = None,
    keep_fp32: bool = True,
    progress: Progress = SILENT,
) -> CompileReport:
    """Compile the exported stage graphs to OM files under ``<artifacts>/atc/<stage>/``.

    Args:
        artifacts: the ``--out`` directory of ``vitdet export``.
        soc_version: ``--soc_version`` (e.g. ``Ascend910B3``); else environment, npu-smi, default.
        precision_mode: a ``--precision_mode`` or ``--precision_mode_v2`` value.
        stages: stage names (list or comma string); default all.
        dry_run: only build the commands; nothing is run or written.
        atc: path of the atc executable (default: from PATH).
        keep_fp32: keep LayerNorm/Softmax in fp32 via ``--keep_dtype`` when the mode may lower
            precision (atc ignores it under ``must_keep_origin_dtype``, so it is not passed).
        progress: where each atc run is reported (a task per graph).
    """
    selected = parse_stages(stages)
    keep = keep_for(precision_mode, keep_fp32)
    art = Artifacts.of(artifacts)
    art.require(selected)
    root = art.root
    exe = atc_for(atc, dry_run)
    soc = cann.resolve_soc_version(soc_version)
    report = CompileReport(
        root, soc, precision_mode, bool(keep), exe, None if dry_run else atc_version(exe), dry_run
    )
    for stage in selected:
        out_dir = root / atc_rel(stage)
        results = plan_stage(art, stage, out_dir, exe, soc.value, precision_mode, keep)
        report.results.extend(results)
        if not dry_run:
            version = report.atc_version
            report.metas.append(
                compile_stage(art, results, soc, precision_mode, keep, version, progress)
            )
    if not dry_run:
        versions = {**art.manifest.versions, "atc": report.atc_version or "unknown"}
        refresh = [atc_rel(s) for s in selected]
        write_manifest(root, art.checkpoint, versions, art.manifest, refresh)
    return report
