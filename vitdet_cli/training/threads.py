"""How many intra-op threads CPU training uses, and a governor that adapts it while training runs.

On a quiet 2-core machine two threads are fastest, but beside one other busy process they are
several times slower than one (each parallel region waits for the thread that shares its core
with the other process). ``ThreadGovernor`` times iterations, now and then tries one thread
fewer (or more) for a few iterations and keeps whichever count ran faster; a sudden change in
iteration time triggers a try at once. ``VITDET_TRAIN_THREADS`` overrides the choice:
``auto`` (default), a fixed count ``N``, or ``torch`` (leave torch's own default alone).
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Optional

from mmengine.hooks import Hook

from vitdet_cli.errors import VitdetError
from vitdet_cli.training.launch import cpu_share

ENV_VAR = "VITDET_TRAIN_THREADS"


@dataclass
class ThreadPolicy:
    """``adaptive``: the governor between ``low`` and ``high`` threads (``high`` None: as many
    as torch starts with in the training process, which follows ``OMP_NUM_THREADS`` and the
    physical cores); ``fixed``: ``high`` threads; ``torch``: torch's default, no hook. ``why``
    says where the choice came from."""

    mode: str
    low: Optional[int]
    high: Optional[int]
    why: str

    def to_dict(self) -> dict:
        return asdict(self)

    def hook(self) -> Optional[dict]:
        """The mmengine ``custom_hooks`` entry that applies the policy in the worker."""
        if self.mode == "torch":
            return None
        adaptive = self.mode == "adaptive"
        return dict(type="ThreadGovernorHook", low=self.low, high=self.high, adaptive=adaptive)


def choose_policy(
    kind: str, local_procs: int, setting: Optional[str] = None, cpu_count: Optional[int] = None
) -> ThreadPolicy:
    """The policy for one training process. ``setting`` is ``VITDET_TRAIN_THREADS`` (read from
    the environment when None). ``auto``: one CPU process adapts between 1 thread and torch's
    default; several get cores / processes each, fixed (ranks must compute alike; torchrun's
    ``OMP_NUM_THREADS`` from training/launch.py says the same); off the CPU torch's default."""
    if setting is None:
        setting = os.environ.get(ENV_VAR, "")
    text = setting.strip().lower()
    if text in ("", "auto"):
        if kind != "cpu":
            return ThreadPolicy("torch", None, None, f"auto: {kind} training")
        if local_procs > 1:
            share = cpu_share(local_procs, cpu_count)
            why = f"auto: {cpu_count or os.cpu_count() or 1} cores / {local_procs} processes"
            return ThreadPolicy("fixed", share, share, why)
        return ThreadPolicy("adaptive", 1, None, "auto: governor from 1 to torch's default")
    if text == "torch":
        return ThreadPolicy("torch", None, None, f"{ENV_VAR}=torch")
    if text.isdigit() and int(text) >= 1:
        return ThreadPolicy("fixed", int(text), int(text), f"{ENV_VAR}={text}")
    raise VitdetError(
        f"{ENV_VAR}={setting!r} is not a thread setting",
        hint="use auto (adapt to the machine's load), a thread count such as 2, or torch",
        code="bad_threads",
        exit_code=2,
    )


class ThreadGovernor:
    """Picks the thread count from measured iteration times (no clock of its own: tests feed it).

    ``observe(seconds)`` records one iteration at ``current`` threads and returns the count
    for the next one. After ``skip`` warm-up iterations and a ``window`` of steady ones it
    probes a neighbouring count for ``probe`` iterations and keeps it only if its median is
    below ``margin`` × the steady median. The first probe follows the first window; probes
    that change nothing double the wait to the next (``interval`` .. ``max_interval``
    iterations), so a quiet machine spends under 1% of its iterations probing; a steady
    median that moves by more than ``shift`` × starts a probe at once.
    """

    def __init__(
        self,
        high: int,
        low: int = 1,
        *,
        skip: int = 3,
        window: int = 5,
        probe: int = 3,
        interval: int = 25,
        max_interval: int = 400,
        margin: float = 0.9,
        shift: float = 1.5,
    ) -> None:
        if not 1 <= low <= high:
            raise ValueError(f"thread range {low}..{high}")
        self.low, self.high, self.current = low, high, high
        self.skip, self.window, self.probe = skip, window, probe
        self.base_interval, self.max_interval = interval, max_interval
        self.margin, self.shift = margin, shift
        self.interval = interval
        self.since_probe = interval  # the first full window is followed by a probe
        self.steady: list[float] = []
        self.reference: Optional[float] = None  # the steady median when last decided
        self.probing: Optional[int] = None  # the count a running probe returns to
        self.tried: list[float] = []
        self.last_step = -1
        self.history: list[tuple[int, int, str]] = []  # (iterations seen, threads, why)
        self.seen = 0

    def observe(self, seconds: float) -> int:
        self.seen += 1
        if self.skip > 0:
            self.skip -= 1
            return self.current
        if self.probing is not None:
            return self._probe_step(seconds)
        self.steady = (self.steady + [seconds])[-self.window :]
        self.since_probe += 1
        if len(self.steady) < self.window:
            return self.current
        now = statistics.median(self.steady)
        if self.reference is None:
            self.reference = now
        moved = not (1 / self.shift <= now / self.reference <= self.shift)
        if moved or self.since_probe >= self.interval:
            self._start_probe(now, "iteration time moved" if moved else "scheduled")
        return self.current

    def _neighbour(self) -> Optional[int]:
        if self.low == self.high:
            return None
        if self.current == self.high:
            return self.current - 1
        if self.current == self.low:
            return self.current + 1
        self.last_step = -self.last_step
        return self.current + self.last_step

    def _start_probe(self, steady_median: float, why: str) -> None:
        other = self._neighbour()
        self.reference = steady_median
        self.since_probe = 0
        if other is None:
            return
        self.probing, self.current, self.tried = self.current, other, []
        self.history.append((self.seen, other, f"probe ({why})"))

    def _probe_step(self, seconds: float) -> int:
        self.tried.append(seconds)
        if len(self.tried) < self.probe:
            return self.current
        tried = statistics.median(self.tried)
        assert self.reference is not None and self.probing is not None
        if tried < self.margin * self.reference:
            why = f"kept: {tried:.3f} s vs {self.reference:.3f} s"
            self.interval = self.base_interval
            self.reference = tried
        else:
            self.interval = min(2 * self.interval, self.max_interval)
            self.current = self.probing
            why = "back: probe not faster"
        self.history.append((self.seen, self.current, why))
        self.probing, self.steady, self.tried = None, [], []
        return self.current


class ThreadGovernorHook(Hook):
    """Applies a ThreadPolicy in the training process: a fixed count, or the governor fed with
    each training iteration's compute time. The process's thread count is restored after
    training (an in-process run goes on to evaluate or export). Highest priority: its
    ``after_train_iter`` runs before logging and checkpoint saving, which are not timed."""

    priority = "HIGHEST"

    def __init__(self, low: int = 1, high: Optional[int] = None, adaptive: bool = False) -> None:
        self.low, self.high, self.adaptive = low, high, adaptive
        self.governor: Optional[ThreadGovernor] = None
        self._before = 0
        self._start = 0.0

    def before_train(self, runner) -> None:
        import torch

        self._before = torch.get_num_threads()
        high = self.high or self._before
        adapt = self.adaptive and high > self.low
        self.governor = ThreadGovernor(high, self.low) if adapt else None
        torch.set_num_threads(high)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self.governor is None:
            return
        import torch

        was, seen = self.governor.current, len(self.governor.history)
        now = self.governor.observe(time.perf_counter() - self._start)
        if now != was:
            torch.set_num_threads(now)
        for _, threads, why in self.governor.history[seen:]:
            # a kept probe is news (rare); starting a probe and returning from it are not
            log = runner.logger.info if why.startswith("kept") else runner.logger.debug
            log(f"training threads: {threads} ({why})")

    def after_train(self, runner) -> None:
        import torch

        if self._before:
            torch.set_num_threads(self._before)


def add_to_config(cfg, kind: str, local_procs: int) -> ThreadPolicy:
    """Choose the policy for this run and append its hook to the mmengine config."""
    policy = choose_policy(kind, local_procs)
    hook = policy.hook()
    if hook is not None:
        cfg.custom_hooks = [*(cfg.get("custom_hooks") or []), hook]
    return policy
