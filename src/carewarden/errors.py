"""The few errors a user sees. Each says where it came from, so it can be acted on."""

from __future__ import annotations


class CarewardenError(Exception):
    """Base of every error Carewarden reports to a user (CLI exit code 1 or 2)."""


class StoreError(CarewardenError):
    """The store cannot be opened, read or written."""


class StoreBusyError(StoreError):
    """Another process holds the store for writing."""


class ConfigError(CarewardenError):
    """A configuration or mapping file is invalid; the message names the file and field."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class SourceError(CarewardenError):
    """A whole source file cannot be read (as opposed to one bad record, which is quarantined)."""

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")


class RequestError(CarewardenError):
    """A command names something that does not exist or asks for what cannot be done (an
    unknown case id, closing a closed case); the message names it. CLI exit code 2."""


class BackupError(CarewardenError):
    """A backup archive cannot be made, opened or trusted (a wrong key, a damaged, truncated
    or extended archive, a checksum that does not match); the message says which."""
