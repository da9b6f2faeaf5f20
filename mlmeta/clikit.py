"""Pieces every CLI command shares: state, the store, output options, error mapping.

Crawler and feature modules build their click commands with these, so every
command opens the store the same way, prints rows the same ways and turns
library errors into the same one-line messages and exit codes.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from mlmeta.errors import MlmetaError, Violation
from mlmeta.ingest import IngestReport
from mlmeta.output import FORMATS, write_answer
from mlmeta.store import QueryAnswer, Store, default_location, open_store

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class State:
    """What the top-level options set for every command (``ctx.obj``)."""

    store_location: str | None = None
    debug: bool = False
    _store: Store | None = field(default=None, repr=False)

    @property
    def location(self) -> str:
        return self.store_location or default_location()

    def store(self, read_only: bool = False) -> Store:
        """The store, opened once per command.

        :raises StoreError: if it cannot be opened (locked, bad path, endpoint down).
        """
        if self._store is None:
            self._store = open_store(self.location, read_only=read_only)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


pass_state = click.make_pass_decorator(State, ensure=True)


def format_option(f: F) -> F:
    """``--format table|csv|tsv|json`` for every command that prints rows."""
    return click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
        help="Output format; json is the SPARQL 1.1 JSON results format.")(f)


def print_answer(answer: QueryAnswer, fmt: str) -> None:
    write_answer(answer, sys.stdout, fmt)


class CommandError(click.ClickException):
    """A failure of a command: one line on stderr, exit code 1."""

    exit_code = 1


class Interrupted(click.ClickException):
    """The user pressed Ctrl-C: exit code 130, like a shell."""

    exit_code = 130


def to_click(e: MlmetaError) -> click.ClickException:
    """A library error as the one-line CLI error with its exit code."""
    if e.exit_code == 2:
        return click.UsageError(str(e))
    return CommandError(str(e))


class MlmetaGroup(click.Group):
    """A click group that turns library errors into one-line messages (tracebacks with
    ``--debug`` only), and unexpected ones into an 'internal error' line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MlmetaError as e:
            if _debug(ctx):
                traceback.print_exc()
            raise to_click(e) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            raise Interrupted("interrupted") from None
        except Exception as e:  # noqa: BLE001 - the last line of defence of the CLI
            if _debug(ctx):
                raise
            raise CommandError(
                f"internal error: {type(e).__name__}: {e} (rerun with --debug for the "
                "traceback, and please report it)") from None


def _debug(ctx: click.Context) -> bool:
    state = ctx.find_object(State)
    return bool(state and state.debug)


def echo_violations(violations: list[Violation]) -> None:
    for v in violations:
        click.echo(f"  {v}", err=True)


def echo_problems(report: IngestReport, word: str = "rejected") -> None:
    """Print, to stderr, a report's warnings and each rejected record (``word: key``)
    with its violations."""
    for key, warnings in sorted(report.warnings.items()):
        for w in warnings:
            click.echo(f"warning: {key}: {w}", err=True)
    for key, violations in sorted(report.rejected.items()):
        click.echo(f"{word}: {key}", err=True)
        echo_violations(violations)


def echo_report(report: IngestReport, what: str = "record") -> None:
    """Print what an ingest stored, warned about and rejected (warnings and rejects to
    stderr)."""
    echo_problems(report)
    n, r = len(report.stored), len(report.rejected)
    click.echo(f"stored {n} {what}{'s' if n != 1 else ''} ({report.quads} quads), "
               f"rejected {r}", err=True)


def fail_if(condition: bool, message: str) -> None:
    if condition:
        raise CommandError(message)


def stderr(message: str) -> None:
    click.echo(message, err=True)


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()
