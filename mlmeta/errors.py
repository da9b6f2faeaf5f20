"""Every error mlmeta raises on purpose.

The CLI turns each of these into one line that says what to do next; a
traceback is shown only with ``--debug``. Library callers can catch
:class:`MlmetaError` to handle them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class MlmetaError(Exception):
    """Base class of all mlmeta errors. ``hint`` says what to do next."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class UsageError(MlmetaError):
    """The user asked for something malformed (unknown parameter, bad value)."""

    exit_code = 2


class StoreError(MlmetaError):
    """The store could not be opened, read or written."""


class StoreLockedError(StoreError):
    """Another process (for example ``mlmeta serve``) holds the store directory."""


class RemoteStoreError(StoreError):
    """A remote SPARQL endpoint answered with an error or could not be reached."""

    def __init__(
        self, message: str, hint: str | None = None, *, url: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.url = url
        self.status = status


class QueryError(MlmetaError):
    """A SPARQL query is malformed or failed to run."""


class SavedQueryNotFound(UsageError):
    """No saved query has the requested name."""


@dataclass(frozen=True)
class Violation:
    """One problem with one record: where it came from, which field, and why."""

    record_id: str
    field: str
    message: str
    source: str = ""
    focus_node: str = ""
    severity: str = "Violation"

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}record {self.record_id!r}, field {self.field!r}: {self.message}"


class RecordError(MlmetaError):
    """A record could not be read or does not conform; ``violations`` lists every problem."""

    def __init__(self, message: str, violations: list[Violation] | None = None) -> None:
        super().__init__(message)
        self.violations: list[Violation] = list(violations or [])


class ValidationError(RecordError):
    """A record violates the SHACL shapes. Nothing of it was stored."""


class InputFormatError(RecordError):
    """A record file is malformed (broken YAML/JSON, unknown field, wrong type)."""


class CrawlError(MlmetaError):
    """A crawl could not continue (source unreachable after retries, bad state file)."""


class SourceNotFound(CrawlError):
    """A crawl source (a file, a URL) does not exist: HTTP 404 / 410, or no such path."""


@dataclass
class Warnings:
    """Collects non-fatal, specific warnings while parsing messy sources."""

    items: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.items.append(message)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)
