"""The ``vitdet`` command: global options and command registration."""

from __future__ import annotations

import typer
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from vitdet_cli import __version__
from vitdet_cli.errors import VitdetError
from vitdet_cli.report.console import MODE, render_error, render_traceback

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


def unexpected_error(err: Exception) -> VitdetError:
    """The error users see for an exception the code did not foresee (one line, no traceback)."""
    if isinstance(err, OSError):
        from vitdet_cli.io_checks import os_error

        return os_error(err)
    refused = _refused_global(err)
    if refused:
        return VitdetError(
            f"a file asks to run code when loaded ({refused}); refused",
            hint="load checkpoints only from a source you trust",
            code="checkpoint_unsafe",
        )
    text = " ".join(str(err).split())
    detail = f"{type(err).__name__}: {text[:300]}" if text else type(err).__name__
    return VitdetError(
        f"unexpected error: {detail}",
        hint="run again with --verbose for the traceback, and report it if the input looks fine",
        code="internal_error",
    )


def _refused_global(err: Exception) -> str | None:
    """The global a safe (``weights_only``) load refused, if ``err`` is that refusal."""
    import pickle

    if not isinstance(err, pickle.UnpicklingError):
        return None
    from vitdet_cli.model.checkpoint import refused_global

    return refused_global(str(err))


class _Group(TyperGroup):
    """The CLI's last line of defence: every exception below becomes one rendered error and an
    exit status (``--verbose`` adds the traceback of unexpected ones)."""

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
        except (Exit, Abort):
            raise
        except TyperException as exc:  # usage errors: click prints them, unless --json
            if not MODE.json or not hasattr(exc, "format_message"):
                raise
            code = getattr(exc, "exit_code", 2)
            render_error(VitdetError(exc.format_message(), code="usage", exit_code=code))
            raise typer.Exit(code) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            err = unexpected_error(exc)
            if MODE.verbose:
                render_traceback()
            render_error(err)
            raise typer.Exit(err.exit_code) from None


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
