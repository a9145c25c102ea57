"""``Artifacts``: an opened, verified artifacts folder — what every deploy command works on.

Opening checks, in order: the manifest parses and every path in it stays inside the folder;
every listed file is present with its size and sha256 and nothing unlisted lies under
``export/`` or ``atc/``; every stage meta parses and its values are valid; every stage comes
from the manifest's one checkpoint. Files are then handed out only through :meth:`path`, which
refuses anything the manifest does not list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from vitdet_cli.artifacts.atc_meta import ATC_META_NAME, AtcMeta, read_atc_meta
from vitdet_cli.artifacts.layout import (
    ATC,
    MANIFEST,
    MODEL_CONFIG,
    STAGES,
    TUNING,
    atc_rel,
    export_rel,
    inside,
)
from vitdet_cli.artifacts.manifest import (
    FileCheck,
    Manifest,
    check_files,
    failure_error,
    read_manifest,
    unlisted_files,
)
from vitdet_cli.artifacts.meta import META_NAME, GraphMeta, StageMeta, read_stage_meta
from vitdet_cli.artifacts.model_config import ModelConfig, read_model_config
from vitdet_cli.artifacts.tuning import Tuning, read_tuning
from vitdet_cli.artifacts.validate import check_stage_meta
from vitdet_cli.errors import VitdetError


class Artifacts:
    """A verified artifacts folder. Use :meth:`open` (or :meth:`of`).

    Attributes:
        root: the folder.
        manifest: its :class:`Manifest`.
        metas: stage → :class:`StageMeta`, for the stages the folder holds.
        tuning: the per-stage runtime choice of ``vitdet tune`` (``tune/tuning.json``), or None.
        checks: the per-file rows of the last verification (empty when opened unverified).
    """

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest
        self.metas: dict[str, StageMeta] = {}
        self.checks: list[FileCheck] = []
        self._atc: dict[str, AtcMeta] = {}
        self.tuning: Optional[Tuning] = None

    @classmethod
    def open(cls, root: str | Path, verify: bool = True) -> "Artifacts":
        """Open ``root``; with ``verify`` (the default) check every file's bytes first."""
        root = Path(root)
        if not root.is_dir():
            raise VitdetError(
                f"artifacts directory {root} not found",
                hint="pass the --out directory of `vitdet export`",
                code="artifacts_missing",
            )
        art = cls(root, read_manifest(root))
        if verify:
            art.checks = check_files(root, art.manifest)
            bad = next((row for row in art.checks if not row.ok), None)
            if bad is not None:
                raise failure_error(root, bad)
        for stage in STAGES:
            rel = export_rel(stage, META_NAME)
            if rel in art.manifest.files:
                art.metas[stage] = art._stage_meta(stage, rel)
        art._check_shared()
        if TUNING in art.manifest.files:
            art.tuning = read_tuning(art.path(TUNING))
        return art

    def _check_shared(self) -> None:
        """Host settings and class names are whole-model facts: every stage must agree."""
        if not self.metas:
            return
        first_stage, first = next(iter(self.metas.items()))
        for stage, meta in self.metas.items():
            for name in ("host", "class_names"):
                if getattr(meta, name) != getattr(first, name):
                    raise VitdetError(
                        f"{self.root / export_rel(stage, META_NAME)}: '{name}' differs from "
                        f"stage {first_stage}'s",
                        hint="export every stage together into one folder",
                        code="meta_invalid",
                    )

    @classmethod
    def of(cls, artifacts: "str | Path | Artifacts") -> "Artifacts":
        """``artifacts`` itself when already open, else :meth:`open` it."""
        return artifacts if isinstance(artifacts, Artifacts) else cls.open(artifacts)

    def _stage_meta(self, stage: str, rel: str) -> StageMeta:
        path = self.path(rel)
        meta = read_stage_meta(path)
        if meta.stage != stage:
            raise VitdetError(
                f"{path} describes stage '{meta.stage}', not '{stage}'",
                hint="stage folders were moved by hand; re-export",
                code="meta_invalid",
            )
        check_stage_meta(meta, path)
        want, got = self.manifest.checkpoint["sha256"], meta.checkpoint.get("sha256")
        if got != want:
            raise VitdetError(
                f"{path} was exported from checkpoint sha256 {got[:16]}…, the folder's other "
                f"stages from {want[:16]}… ({self.root / MANIFEST}): stages of different "
                "checkpoints",
                hint="export every stage from one checkpoint into a fresh folder",
                code="mixed_checkpoints",
            )
        for graph in meta.graphs.values():
            self.path(export_rel(stage, graph.file), path)
        return meta

    def path(self, rel: str, source: Optional[Path | str] = None) -> Path:
        """``root / rel`` when the manifest lists it and it stays inside the folder."""
        source = source or self.root / MANIFEST
        path = inside(self.root, rel, source)
        if rel not in self.manifest.files:
            raise VitdetError(
                f"{path} (named in {source}) is not listed in {self.root / MANIFEST}",
                hint="only files the manifest seals are used; re-run export/atc",
                code="artifacts_unlisted",
            )
        return path

    def require(self, stages: Iterable[str] = STAGES) -> None:
        """Raise a clear error when one of ``stages`` was not exported into this folder."""
        missing = [s for s in stages if s not in self.metas]
        if missing:
            raise VitdetError(
                f"{self.root} holds no exported stage {', '.join(missing)} "
                f"({self.root / MANIFEST} lists none)",
                hint=f"vitdet export --checkpoint CKPT --out {self.root} --stages "
                + ",".join(missing),
                code="stage_missing",
            )

    # ------------------------------------------------------------------ what stages share
    @property
    def checkpoint(self) -> dict[str, str]:
        """``{"sha256", "path"}`` of the source checkpoint."""
        return dict(self.manifest.checkpoint)

    @property
    def _first(self) -> StageMeta:
        if not self.metas:
            self.require()
        return next(iter(self.metas.values()))

    @property
    def host(self) -> dict[str, Any]:
        """The host settings (the same in every stage meta; checked on open)."""
        return dict(self._first.host)

    @property
    def class_names(self) -> list[str]:
        return list(self._first.class_names)

    def graph(self, stage: str, graph: str) -> GraphMeta:
        self.require([stage])
        return self.metas[stage].graphs[graph]

    def graph_path(self, stage: str, graph: str) -> Path:
        """The ONNX file of ``graph`` (listed and inside the folder)."""
        meta = self.graph(stage, graph)
        return self.path(export_rel(stage, meta.file), self.root / export_rel(stage, META_NAME))

    def model_config(self) -> ModelConfig:
        """The resolved model config (data; nothing is executed)."""
        return read_model_config(self.path(MODEL_CONFIG))

    def current_tuning(self) -> Tuning:
        """The tuning, refused when missing, measured on other graphs than the sealed ones (a
        stage re-exported since ``vitdet tune`` ran) or choosing ``vitdet atc``'s OMs that were
        recompiled since at another precision mode."""
        hint = f"vitdet tune {self.root}   (or pass --backend NAME to run one backend)"
        if self.tuning is None:
            raise VitdetError(
                f"{self.root} holds no {TUNING}", hint=hint, code="tuning_missing", exit_code=2
            )
        for stage, choice in self.tuning.stages.items():
            for graph, sha in choice.graphs.items():
                if self.graph(stage, graph).sha256 != sha:
                    raise VitdetError(
                        f"{self.root / TUNING} was measured on another {stage}/{graph} graph "
                        "than the exported one (sha256 differs)",
                        hint="the stage was re-exported since; " + hint,
                        code="tuning_stale",
                    )
            reused = any(rel.startswith(ATC + "/") for rel in choice.files.values())
            if reused and self.atc_meta(stage).precision_mode != choice.atc_mode:
                raise VitdetError(
                    f"{self.root / TUNING} chose {stage}'s OMs of `vitdet atc` at "
                    f"{choice.atc_mode}; they were recompiled since at "
                    f"{self.atc_meta(stage).precision_mode}",
                    hint=f"vitdet tune {self.root} --target npu",
                    code="tuning_stale",
                )
        return self.tuning

    # ------------------------------------------------------------------ atc
    def atc_meta(self, stage: str) -> AtcMeta:
        """``atc/<stage>/atc_meta.json``; a clear error when the stage was not compiled."""
        if stage not in self._atc:
            rel = atc_rel(stage, ATC_META_NAME)
            if rel not in self.manifest.files:
                raise VitdetError(
                    f"{self.root / rel} not found: stage {stage} is not compiled",
                    hint=f"compile it: vitdet atc --artifacts {self.root} --stages {stage}",
                    code="om_missing",
                )
            self._atc[stage] = read_atc_meta(self.path(rel))
        return self._atc[stage]

    def om_path(self, stage: str, graph: str) -> Path:
        """The OM atc wrote for ``graph``, as recorded in ``atc_meta.json``; refuses an OM
        compiled from another ONNX than the exported one."""
        meta = self.atc_meta(stage)
        source = self.root / atc_rel(stage, ATC_META_NAME)
        record = meta.graphs.get(graph)
        hint = f"compile it: vitdet atc --artifacts {self.root} --stages {stage}"
        if record is None:
            raise VitdetError(f"{source} lists no '{graph}'", hint=hint, code="om_missing")
        exported = self.graph(stage, graph)
        if record.onnx_sha256 != exported.sha256:
            raise VitdetError(
                f"{self.root / atc_rel(stage, record.om)} was compiled from another ONNX than "
                f"{export_rel(stage, exported.file)} (sha256 differs)",
                hint="the export changed since atc ran; " + hint,
                code="om_stale",
            )
        return self.path(atc_rel(stage, record.om), source)


@dataclass
class VerifyReport:
    """``vitdet verify``: every file's row and the folder-level problems found on open."""

    root: Path
    rows: list[FileCheck] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.ok for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "artifacts": str(self.root),
            "ok": self.ok,
            "files": [r.to_dict() for r in self.rows],
            "problems": self.problems,
        }


def verify_folder(root: str | Path) -> VerifyReport:
    """Check every file like ``sha256sum -c``, then the metas; collect, do not stop at one."""
    root = Path(root)
    report = VerifyReport(root)
    try:
        manifest = Artifacts.open(root, verify=False).manifest
        report.rows = check_files(root, manifest)
    except VitdetError as err:
        report.problems.append({"code": err.code, "message": err.message, "hint": err.hint})
        try:
            report.rows = check_files(root, read_manifest(root))
        except VitdetError:  # no readable manifest: still show what lies in the sealed folders
            report.rows = unlisted_files(root, (), "no readable manifest")
    return report
