"""Whole pipelines timed against each other: interleaved rounds on shared sessions.

``vitdet tune`` checks its per-stage mix against each runtime alone (runtimes in one process
share the cores, so a stage's time alone does not promise the mix's). Timed one configuration
after another, a neighbour's load lands on whichever ran then: on a shared 2-core machine that
swung a configuration by 15–30 % and once made the tuner pick a runtime 1.5× slower on the RoI
heads (issue 17). So the configurations run in interleaved rounds (:func:`interleaved`), and
each stage's graphs are opened once per (runtime, precision) and lent to every configuration
that runs them: at most one copy of the weights per runtime, not one per configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional

import numpy as np

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.runtime.backends.base import Backend, StageSession
from vitdet_cli.runtime.backends.tuned import TUNED, TunedBackend
from vitdet_cli.runtime.staged import StagedModel
from vitdet_cli.runtime.timing import interleaved

Choices = Mapping[str, tuple[str, str]]
"""stage → (backend, precision)."""
FilesOf = Mapping[str, Mapping[str, Path]]
"""stage → graph → the file a choice runs instead of the exported graph."""


class LentSession(StageSession):
    """A pooled session as one configuration sees it: closing it leaves it open for the others
    (the pool closes it)."""

    def __init__(self, inner: StageSession) -> None:
        super().__init__(inner.stage, inner.graph, inner.meta)
        self.inner = inner

    def run(self, feeds):
        return self.inner.run(feeds)

    def close(self) -> None:
        pass

    def info(self) -> dict:
        return self.inner.info()


class SessionPool:
    """Stage sessions opened once per (stage, graph, backend, precision), lent to pipelines.

    Args:
        artifacts: the opened folder.
        threads: intra-op threads of every backend (0 = each runtime's default).
        om: options of ``om`` stages, as :class:`TunedBackend` takes them.
    """

    def __init__(self, artifacts: Artifacts, threads: int = 0, om: Optional[Mapping] = None):
        self.artifacts = artifacts
        self._opener = TunedBackend({}, threads, None, om)
        self._sessions: dict[tuple[str, str, tuple[str, str]], StageSession] = {}

    def session(self, stage: str, graph: str, key: tuple[str, str], path: Optional[Path]):
        """The pooled session of ``graph`` of ``stage`` on ``key``, opened on first use."""
        slot = (stage, graph, key)
        if slot not in self._sessions:
            self._sessions[slot] = self._opener.open_choice(self.artifacts, stage, graph, key, path)
        return self._sessions[slot]

    def model(self, choices: Choices, files: Optional[FilesOf] = None) -> StagedModel:
        """The pipeline with each stage on its choice, on pooled sessions (it holds nothing of
        its own: closing it is optional, the pool closes the sessions)."""
        return StagedModel(self.artifacts, _PooledBackend(self, choices, files or {}))

    def close(self) -> None:
        for sess in self._sessions.values():
            sess.close()
        self._sessions.clear()
        self._opener.close()

    def __enter__(self) -> "SessionPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _PooledBackend(Backend):
    """One configuration's view of a :class:`SessionPool` (what :class:`StagedModel` opens)."""

    name = TUNED

    def __init__(self, pool: SessionPool, choices: Choices, files: FilesOf) -> None:
        self.pool, self.choices, self.files = pool, dict(choices), files

    def open(self, artifacts: Artifacts, stage: str, graph: str) -> StageSession:
        path = self.files.get(stage, {}).get(graph)
        return LentSession(self.pool.session(stage, graph, self.choices[stage], path))

    def close(self) -> None:
        pass


def time_pipelines(
    artifacts: Artifacts,
    configs: Mapping[str, Choices],
    image: np.ndarray,
    warmup: int,
    rounds: int,
    threads: int = 0,
    files: Optional[Mapping[str, FilesOf]] = None,
    om: Optional[Mapping] = None,
) -> dict[str, list[float]]:
    """ms of each configuration's timed runs on ``image``, in interleaved rounds (``files``:
    configuration name → its files, as :class:`TunedBackend` takes them)."""
    files = files or {}
    with SessionPool(artifacts, threads, om) as pool:
        runners = {}
        for name, choices in configs.items():
            model = pool.model(choices, files.get(name))
            runners[name] = lambda model=model: model(image)
        return interleaved(runners, max(1, rounds), warmup)
