"""One module per subcommand. Modules with an ``app`` are command groups."""

from vitdet_cli.commands import build_mmcv, config, data, env_check, train

# (name, module): each module exposes `command` (a function) or `app` (a typer group).
COMMANDS = [
    ("env-check", env_check),
    ("build-mmcv", build_mmcv),
    ("train", train),
    ("config", config),
    ("data", data),
]
