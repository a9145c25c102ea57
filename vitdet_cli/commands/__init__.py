"""One module per subcommand. Modules with an ``app`` are command groups."""

from vitdet_cli.commands import (
    atc,
    bench,
    build_mmcv,
    compare,
    config,
    data,
    demo,
    env_check,
    eval,
    export,
    infer,
    train,
    tune,
    verify,
)

# (name, module): each module exposes `command` (a function) or `app` (a typer group).
COMMANDS = [
    ("env-check", env_check),
    ("build-mmcv", build_mmcv),
    ("train", train),
    ("export", export),
    ("infer", infer),
    ("compare", compare),
    ("config", config),
    ("data", data),
    ("demo", demo),
    ("atc", atc),
    ("eval", eval),
    ("bench", bench),
    ("tune", tune),
    ("verify", verify),
]
