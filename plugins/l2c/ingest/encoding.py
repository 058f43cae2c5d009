"""Decode: one export file -> UTF-8 bytes for its reader, and the encoding it came in.

Chinese exports come as UTF-8, UTF-8 with a BOM (Excel's "CSV UTF-8") or GBK/GB18030 (Excel's plain
"CSV" on a Chinese Windows). DuckDB only reads UTF-8 here, so anything else is transcoded to a
temporary UTF-8 file first; newlines and quotes are ASCII in all of these, so physical line numbers
survive transcoding.

:func:`decode` is the step of the loader; the rest are its parts. For a CSV file the answer may be
*tentative*: validating every byte of a large file in Python would cost more than reading it, so a
UTF-8 guess rests on the first MiB and DuckDB, which validates every byte it parses, checks the
rest. When it finds bytes that are not UTF-8, the loader asks :func:`recheck` whether the whole file
is a legacy codec after all, and reads it again decoded that way.
"""

from __future__ import annotations

import codecs
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from l2c.errors import L2CInputError
from l2c.ingest.landing import ExportFile

log = logging.getLogger(__name__)

_SAMPLE = 1 << 20
_CHUNK = 8 << 20
#: traditional-Chinese codecs charset-normalizer may name (tried before GB18030 when it does)
_BIG5_FAMILY = {"big5", "big5hkscs", "cp950"}


@dataclass(frozen=True)
class Decoded:
    """One export file, ready for its reader."""

    file: ExportFile
    #: the bytes to read: the file itself (UTF-8, perhaps with a BOM, or XLSX) or a UTF-8 copy
    path: Path
    #: what the file was encoded in, for the load audit (None: XLSX, a binary format)
    encoding: str | None
    #: UTF-8 judged from the first MiB only (CSV): the reader reports invalid bytes further on
    tentative: bool = False


def decode(file: ExportFile, workdir: Path) -> Decoded:
    """The file as UTF-8 (a transcoded copy in ``workdir`` when it is not UTF-8).

    Raises :class:`L2CInputError` when no codec decodes a CSV file. A JSON Lines file that is
    neither UTF-8 nor a legacy codec is read as UTF-8: its reader quarantines the lines that do not
    decode, one by one, because each line is a record of its own.
    """
    if file.format == "xlsx":
        return Decoded(file, file.path, None)
    if file.format == "jsonl":
        return _decode_lines(file, workdir)
    path = file.path
    encoding = sniff_encoding(path)
    if encoding == LEGACY:
        read_path, encoding = transcode_legacy(path, workdir)
        return Decoded(file, read_path, encoding)
    if encoding in ("utf-8", "utf-8-sig"):
        return Decoded(file, path, encoding, tentative=encoding == "utf-8")
    return Decoded(file, transcode_to_utf8(path, encoding, workdir), encoding)


def recheck(decoded: Decoded, workdir: Path) -> Decoded | None:
    """The file decoded as a legacy codec, when a reader found invalid UTF-8 in a tentative guess.

    None when the guess stands: the file is not GB18030 either, so it is UTF-8 with a few corrupt
    rows, which the reader quarantines. GB18030 decodes real GBK files completely and real UTF-8
    Chinese text almost never, so it decides (the legacy file may still turn out to be Big5: see
    :func:`transcode_legacy`).
    """
    path = decoded.file.path
    if not decoded.tentative or decodes_as(path, "gb18030") is not None or decodes_as(path, "utf-8") is None:
        return None
    read_path, encoding = transcode_legacy(path, workdir)
    return replace(decoded, path=read_path, encoding=encoding, tentative=False)


def _decode_lines(file: ExportFile, workdir: Path) -> Decoded:
    """JSON Lines: the whole file is checked here (the reader decodes it in memory anyway)."""
    path = file.path
    with open(path, "rb") as fh:
        bom = fh.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8
    if decodes_as(path, "utf-8") is None:
        return Decoded(file, path, "utf-8-sig" if bom else "utf-8")
    if not bom:  # a BOM says UTF-8: no legacy codec is tried then
        try:
            encoding = detect_legacy(path)
        except L2CInputError:
            pass
        else:
            # with Python's codec, which detect_legacy just validated the whole file with
            return Decoded(file, transcode_to_utf8(path, encoding, workdir, iconv=False), encoding)
    return Decoded(file, path, "utf-8")  # mostly UTF-8: the reader quarantines the broken lines


# --------------------------------------------------------------------------------------------------
# the parts


def _utf8_ok(data: bytes, final: bool) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(data, final=final)
    except UnicodeDecodeError:
        return False
    return True


def sniff_encoding(path: Path) -> str:
    """A cheap first guess from the first MiB: ``utf-8-sig``, ``utf-16``, ``utf-8`` or :data:`LEGACY`.

    A ``utf-8`` answer is tentative (only the sample was checked); the CSV reader learns the truth
    from DuckDB, which validates every byte it parses (see :func:`recheck`).
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


def transcode_to_utf8(path: Path, encoding: str, dest_dir: Path, *, iconv: bool = True) -> Path:
    """Write a UTF-8 copy of ``path`` (without BOM) into ``dest_dir`` and return its path.

    ``iconv``: try the ``iconv`` program first (faster); False keeps to Python's codec, e.g. when
    that codec has just validated the file. Raises :class:`L2CInputError` (with the line of the
    first bad byte) when ``encoding`` does not decode the whole file.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / (path.stem + ".utf8" + path.suffix)
    if iconv and _iconv(path, encoding, dest):
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
