"""Errors that stop a load because the input, not the code, is wrong.

An :class:`L2CInputError` means "a person has to look at this export": its message says which file,
where in it, and what to do. The DAG lets it fail the task without retrying forever, and nothing of
the export is written (see :mod:`l2c.ingest.load`).
"""

from __future__ import annotations

from pathlib import Path


class L2CInputError(Exception):
    """An export file (or the export as a whole) cannot be loaded as it is.

    ``file``, ``line`` and ``column`` locate the problem as precisely as it is known; ``hint`` says
    what to do about it. ``str(err)`` renders all of them, so a log line is enough to act on.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.column = column
        self.hint = hint

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"file {self.file}")
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = f"{', '.join(where)}: {self.message}" if where else self.message
        if self.hint:
            text += f" -> {self.hint}"
        return text

    def __reduce__(self):  # keep file/line/column when pickled (Airflow, multiprocessing)
        return (
            _rebuild,
            (self.message, self.file, self.line, self.column, self.hint),
        )


def _rebuild(message, file, line, column, hint):
    return L2CInputError(message, file=file, line=line, column=column, hint=hint)
