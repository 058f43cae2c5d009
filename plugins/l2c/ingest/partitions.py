"""Atomic replacement of raw-zone partitions.

A partition (``.../export_date=YYYY-MM-DD/``) is written into a hidden sibling folder on the same
filesystem, and only when *every* partition of a load is written are they swapped into place:
rename the old partition aside, rename the new one in, delete the old. Readers therefore see either
the old or the new partition, a failed load leaves every previous partition as it was, and a re-run
replaces a date instead of appending to it. Hidden folders (leading dot) are skipped by the raw
zone's globs (``export_date=*/*.parquet``).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


class PartitionSet:
    """Partitions staged by one load, committed (or discarded) together."""

    def __init__(self, tag: str) -> None:
        self.tag = re.sub(r"[^A-Za-z0-9_.-]", "_", tag)[:80]
        self.staged: list[tuple[Path, Path]] = []

    def stage(self, dest: Path) -> Path:
        """A fresh, empty folder to write ``dest``'s files into."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():  # a load killed between its two renames: put the old partition back
            for old in sorted(dest.parent.glob(f".{dest.name}.old-*")):
                log.warning("restoring %s from an interrupted load", dest)
                os.rename(old, dest)
                break
        for stale in dest.parent.glob(f".{dest.name}.*"):  # left behind by a killed load
            log.warning("removing stale %s", stale)
            shutil.rmtree(stale, ignore_errors=True)
        tmp = dest.parent / f".{dest.name}.tmp-{self.tag}"
        tmp.mkdir()
        self.staged.append((tmp, dest))
        return tmp

    def discard(self) -> None:
        for tmp, _ in self.staged:
            shutil.rmtree(tmp, ignore_errors=True)
        self.staged.clear()

    def commit(self) -> None:
        """Swap every staged partition into place; undo the swaps already done if one fails."""
        done: list[tuple[Path, Path, Path | None]] = []
        try:
            for tmp, dest in self.staged:
                old = None
                if dest.exists():
                    old = dest.parent / f".{dest.name}.old-{self.tag}"
                    os.rename(dest, old)
                try:
                    os.rename(tmp, dest)
                except BaseException:
                    if old is not None:
                        os.rename(old, dest)
                    raise
                done.append((tmp, dest, old))
        except BaseException:
            for tmp, dest, old in reversed(done):
                try:
                    os.rename(dest, tmp)
                    if old is not None:
                        os.rename(old, dest)
                except OSError:  # pragma: no cover - nothing better to do than to say so
                    log.exception("could not restore %s", dest)
            self.discard()
            raise
        for _, _, old in done:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        self.staged.clear()
