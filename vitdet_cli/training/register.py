"""Register the training hooks into mmengine's registry (idempotent)."""

from __future__ import annotations


def register_training_modules() -> None:
    from mmengine.registry import HOOKS

    # deferred: loads mmengine
    from vitdet_cli.training.hooks import VitdetMetricsHook
    from vitdet_cli.training.threads import ThreadGovernorHook

    for hook in (VitdetMetricsHook, ThreadGovernorHook):
        if HOOKS.get(hook.__name__) is None:
            HOOKS.register_module(module=hook)
