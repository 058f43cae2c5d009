"""The landing zone: which files make up one export, and how their bytes are encoded.

Layout: ``<landing>/<source>/<YYYY-MM-DD>/<entity>.<ext>`` (``ext`` in csv, jsonl, xlsx); the mapping
YAML may list other file stems per entity (``files:``). A complete export has exactly one file per
entity of the source: anything else is an :class:`~l2c.errors.L2CInputError` naming the directory,
because loading half an export would silently drop a day of data downstream.

Encodings: Chinese exports come as UTF-8, UTF-8 with a BOM (Excel's "CSV UTF-8") or GBK/GB18030
(Excel's plain "CSV" on a Chinese Windows). DuckDB only reads UTF-8 here, so anything else is
transcoded to a temporary UTF-8 file first; newlines and quotes are ASCII in all of these, so physical
line numbers survive transcoding.
"""

from __future__ import annotations

import codecs
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from l2c import schema
from l2c.config import Settings
from l2c.config import settings as load_settings
from l2c.errors import L2CInputError
from l2c.ingest.mapping import SourceMapping, load_mapping

log = logging.getLogger(__name__)

#: file extension -> format
FORMATS: dict[str, str] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx"}

_SAMPLE = 1 << 20
_CHUNK = 8 << 20
#: traditional-Chinese codecs charset-normalizer may name (tried before GB18030 when it does)
_BIG5_FAMILY = {"big5", "big5hkscs", "cp950"}


@dataclass(frozen=True)
class ExportFile:
    """One entity file of one export."""

    source: str
    entity: str
    path: Path
    format: str
    relpath: str  #: posix path relative to the landing dir (the lineage ``_source_file``)


def export_dir(source: str, export_date: date, settings: Settings | None = None) -> Path:
    cfg = settings or load_settings()
    return cfg.landing_dir / source / export_date.isoformat()


def find_export(
    source: str,
    export_date: date,
    settings: Settings | None = None,
    mapping: SourceMapping | None = None,
) -> dict[str, ExportFile]:
    """The file of every entity of ``source`` in the export of ``export_date``.

    Raises :class:`L2CInputError` (naming the directory) when the directory is missing, an entity
    has no file, or an entity has more than one.
    """
    cfg = settings or load_settings()
    mapping = mapping or load_mapping(source, cfg)
    directory = export_dir(source, export_date, cfg)
    if not directory.is_dir():
        raise L2CInputError(
            f"export directory not found: no {source} export for {export_date.isoformat()}",
            file=directory,
            hint=f"wait for the {source} export to land (or check L2C_LANDING_DIR={cfg.landing_dir})",
        )
    stem_owner = {stem: em.entity for em in mapping.entities.values() for stem in em.files}
    found: dict[str, list[Path]] = {e.name: [] for e in schema.entities_of(source)}
    for path in sorted(directory.iterdir()):
        if path.name.startswith((".", "_")) or not path.is_file():
            continue  # hidden files, _SUCCESS markers and the like
        fmt = FORMATS.get(path.suffix.lower())
        owner = stem_owner.get(path.stem.casefold()) if fmt else None
        if owner is None:
            log.warning("%s: ignoring %s (not an entity file of %s)", directory, path.name, source)
            continue
        found[owner].append(path)
    problems = []
    for entity, paths in found.items():
        if not paths:
            names = "/".join(mapping.entity(entity).files)
            problems.append(f"no file for {source}.{entity} (expected {names}.csv|jsonl|xlsx)")
        elif len(paths) > 1:
            problems.append(
                f"{len(paths)} files for {source}.{entity} ({', '.join(p.name for p in paths)}); "
                "expected exactly one"
            )
    if problems:
        raise L2CInputError(
            "incomplete or ambiguous export: " + "; ".join(problems),
            file=directory,
            hint="complete the export (one file per entity) and re-run the load for this date",
        )
    return {
        entity: ExportFile(
            source=source,
            entity=entity,
            path=paths[0],
            format=FORMATS[paths[0].suffix.lower()],
            relpath=paths[0].relative_to(cfg.landing_dir).as_posix()
            if paths[0].is_relative_to(cfg.landing_dir)
            else paths[0].as_posix(),
        )
        for entity, paths in found.items()
    }


# --------------------------------------------------------------------------------------------------
# encodings


def _utf8_ok(data: bytes, final: bool) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(data, final=final)
    except UnicodeDecodeError:
        return False
    return True


def sniff_encoding(path: Path) -> str:
    """A cheap first guess from the first MiB: ``utf-8-sig``, ``utf-16``, ``utf-8`` or :data:`LEGACY`.

    A ``utf-8`` answer is tentative (only the sample was checked); the CSV reader learns the truth
    from DuckDB, which validates every byte it parses, and transcodes the file if needed.
    """
    with open(path, "rb") as fh:
        head = fh.read(_SAMPLE)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _utf8_ok(head, final=len(head) < _SAMPLE):
        return "utf-8"
    return LEGACY  # decided (and validated) while transcoding: see transcode_legacy


#: :func:`sniff_encoding`'s answer for "not UTF-8": some legacy Chinese codec, GB18030 most likely
LEGACY = "legacy"


def transcode_legacy(path: Path, dest_dir: Path) -> tuple[Path, str]:
    """UTF-8 copy of a file that is not UTF-8, and the codec it was in.

    The codecs of :func:`_candidates` are tried in order, each validated by transcoding the whole
    file (no separate decoding pass); :class:`L2CInputError` when none decodes it.
    """
    with open(path, "rb") as fh:
        sample = fh.read(_SAMPLE)
    for enc in _candidates(sample):
        try:
            return transcode_to_utf8(path, enc, dest_dir), enc
        except L2CInputError:
            continue
    detect_legacy(path, sample)  # raises the detailed "cannot decode" error
    raise AssertionError("unreachable")  # pragma: no cover


def _candidates(sample: bytes) -> list[str]:
    """Codecs to try, best first: GB18030 (a superset of GBK/GB2312), or Big5 when
    charset-normalizer says the sample is traditional Chinese.

    Single-byte codecs (cp1252, latin-1, ...) decode any bytes at all, so a guess of one of those
    would turn a corrupt file into silent mojibake: they are never tried.
    """
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(sample).best()
    except Exception:  # noqa: BLE001 - a detector failure must not hide the real problem
        best = None
    guess = codecs.lookup(best.encoding).name if best is not None else None
    out = []
    if guess in _BIG5_FAMILY:
        out.append(guess)
    out.append("gb18030")
    return list(dict.fromkeys(out))


def decodes_as(path: Path, encoding: str) -> int | None:
    """None when the whole file decodes strictly with ``encoding``, else the first bad byte offset."""
    dec = codecs.getincrementaldecoder(encoding)("strict")
    offset = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            try:
                dec.decode(chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            offset += len(chunk)
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset
    return None


def detect_legacy(path: Path, sample: bytes | None = None) -> str:
    """The codec of a file that is not UTF-8; raises :class:`L2CInputError` when none decodes it."""
    if sample is None:
        with open(path, "rb") as fh:
            sample = fh.read(_SAMPLE)
    tried = []
    for enc in _candidates(sample):
        bad = decodes_as(path, enc)
        if bad is None:
            log.info("%s: detected encoding %s", path, enc)
            return enc
        tried.append(f"{enc} (fails at byte {bad})")
    utf8_bad = decodes_as(path, "utf-8")
    raise L2CInputError(
        "cannot decode the file: it is not valid UTF-8"
        + (f" (first bad byte at offset {utf8_bad})" if utf8_bad is not None else "")
        + f" and no other codec decodes it either (tried {', '.join(tried)})",
        file=path,
        line=_line_at(path, utf8_bad) if utf8_bad is not None else None,
        hint="re-export the file as UTF-8 (Excel: 'CSV UTF-8') and re-run the load",
    )


def _line_at(path: Path, offset: int) -> int:
    with open(path, "rb") as fh:
        return fh.read(offset).count(b"\n") + 1


#: codecs glibc's iconv converts about three times faster than Python's codecs
_ICONV_NAMES = {"gb18030": "GB18030", "big5": "BIG5", "big5hkscs": "BIG5-HKSCS", "cp950": "CP950"}


def _iconv(path: Path, encoding: str, dest: Path) -> bool:
    """Transcode with the ``iconv`` program when there is one; False when it is missing or fails."""
    exe = shutil.which("iconv")
    name = _ICONV_NAMES.get(codecs.lookup(encoding).name)
    if exe is None or name is None:
        return False
    with open(dest, "wb") as out:
        done = subprocess.run(
            [exe, "-f", name, "-t", "UTF-8", str(path)], stdout=out, stderr=subprocess.PIPE, check=False
        )
    return done.returncode == 0


def transcode_to_utf8(path: Path, encoding: str, dest_dir: Path) -> Path:
    """Write a UTF-8 copy of ``path`` (without BOM) into ``dest_dir`` and return its path.

    Raises :class:`L2CInputError` (with the line of the first bad byte) when ``encoding`` does not
    decode the whole file.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / (path.stem + ".utf8" + path.suffix)
    if _iconv(path, encoding, dest):
        log.info("%s: transcoded %s -> UTF-8 with iconv (%s bytes)", path, encoding, os.path.getsize(dest))
        return dest
    dec = codecs.getincrementaldecoder(encoding)("strict")
    offset = 0
    with open(path, "rb") as src, open(dest, "wb") as out:
        first = True
        while chunk := src.read(_CHUNK):
            try:
                text = dec.decode(chunk)
            except UnicodeDecodeError as exc:
                raise L2CInputError(
                    f"cannot decode the file as {encoding} at byte {offset + exc.start}",
                    file=path,
                    line=_line_at(path, offset + exc.start),
                    hint="re-export the file as UTF-8 and re-run the load",
                ) from None
            if first and text.startswith("\ufeff"):
                text = text[1:]
            first = False
            out.write(text.encode("utf-8"))
            offset += len(chunk)
        out.write(dec.decode(b"", final=True).encode("utf-8"))
    log.info("%s: transcoded %s -> UTF-8 (%s bytes)", path, encoding, os.path.getsize(dest))
    return dest
