"""The ``vitdet`` command: global options and command registration."""

from __future__ import annotations

import typer
from typer.core import TyperGroup

from vitdet_cli import __version__
from vitdet_cli.errors import VitdetError
from vitdet_cli.report.console import MODE, render_error

# Options whose value may be left out (click has no such notion): alone, they mean this value.
OPTIONAL_VALUE = {"--resume": "latest"}
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt")


def fill_optional_values(args: list[str]) -> list[str]:
    """``--resume`` alone (or before an option or a non-checkpoint) → ``--resume latest``."""
    out = []
    for i, arg in enumerate(args):
        out.append(arg)
        if arg in OPTIONAL_VALUE:
            nxt = args[i + 1] if i + 1 < len(args) else None
            if nxt is None or nxt.startswith("-") or not nxt.endswith(CHECKPOINT_SUFFIXES):
                out.append(OPTIONAL_VALUE[arg])
    return out


class _Group(TyperGroup):
    """Turns :class:`VitdetError` anywhere below into a message and an exit status."""

    def parse_args(self, ctx, args):  # noqa: D401 - click API
        return super().parse_args(ctx, fill_optional_values(list(args)))

    def invoke(self, ctx):  # noqa: D401 - click API
        try:
            return super().invoke(ctx)
        except VitdetError as err:
            render_error(err)
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            render_error(VitdetError("interrupted", code="interrupted"))
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=_Group,
    help="ViTDet Mask R-CNN: environment, mmcv build, training, staged export and deployment.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vitdet {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="More detail on stderr."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    MODE.json = json_output
    MODE.verbose = verbose


def _register() -> None:
    from vitdet_cli.commands import COMMANDS

    for name, module in COMMANDS:
        if hasattr(module, "app"):
            app.add_typer(module.app, name=name)
        else:
            app.command(name)(module.command)


_register()
