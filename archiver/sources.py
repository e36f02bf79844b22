"""Read an article source — a file, an article URL or stdin — into text and a kind."""

from __future__ import annotations

import errno
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from bs4 import UnicodeDammit

from archiver import urls
from archiver.errors import SourceError
from archiver.net.fetch import Client

MAX_SOURCE_BYTES = 50 * 2**20
KINDS = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
}


@dataclass(frozen=True)
class Source:
    spec: str  # as the user gave it
    text: str
    kind: str  # "text" | "markdown" | "html"
    url: str | None  # the article's own URL when it was fetched


def decode(data: bytes, spec: str, declared: str | None = None) -> str:
    """Bytes → text; binary data or an undecodable file is a SourceError."""
    if not data.strip():
        raise SourceError(f"{spec}: the article is empty")
    if b"\x00" in data[:8192]:
        raise SourceError(f"{spec}: binary file, not an article (.txt, .md or .html)")
    # UTF-8 (strict) is tried right after a declared charset, before bs4's guess from
    # the bytes: the guess loads chardet's models (~22 MB of RSS for the whole run)
    # and UTF-8 is what an article file almost always is
    guess = UnicodeDammit(data, [*([declared] if declared else []), "utf-8"], is_html=False)
    if guess.unicode_markup is None:
        raise SourceError(f"{spec}: cannot decode the text (not UTF-8 or a known charset)")
    text = guess.unicode_markup
    if not text.strip():
        raise SourceError(f"{spec}: the article is empty")
    return text


def sniff_kind(text: str) -> str:
    head = text.lstrip()[:1000].lower()
    if head.startswith(("<!doctype html", "<html")) or "<body" in head:
        return "html"
    if "](" in text or "\n# " in "\n" + text[:2000]:
        return "markdown"
    return "text"


_NOT_REGULAR = (
    (stat.S_ISDIR, "is a folder, not an article"),
    (stat.S_ISLNK, "is a symbolic link: links are not followed here"),
    (stat.S_ISFIFO, "is a named pipe, not a regular file"),
    (stat.S_ISSOCK, "is a socket, not a regular file"),
    (stat.S_ISCHR, "is a device, not a regular file"),
    (stat.S_ISBLK, "is a device, not a regular file"),
)


def not_regular(mode: int) -> str | None:
    """Why a file of this st_mode is not read as an article (None: a regular file)."""
    if stat.S_ISREG(mode):
        return None
    return next((why for test, why in _NOT_REGULAR if test(mode)), "is not a regular file")


def too_large(size: int) -> str | None:
    if size > MAX_SOURCE_BYTES:
        return f"{size:,} bytes is too large for an article (at most {MAX_SOURCE_BYTES:,})"
    return None


def open_regular(path: Path, *, follow_symlinks: bool = True) -> tuple[int, os.stat_result]:
    """(fd, stat) of ``path`` opened for reading: a regular file, else SourceError-ready
    OSError/ValueError. O_NONBLOCK: a named pipe never blocks the open; O_NOFOLLOW (when
    links are not followed) refuses a symbolic link in the last path component."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        why = not_regular(st.st_mode)
        if why:
            raise ValueError(why)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_file(path: Path, spec: str, *, follow_symlinks: bool = True) -> Source:
    """A regular file of at most MAX_SOURCE_BYTES (a pipe, a device or — for intake —
    a symbolic link is refused before a byte is read)."""
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise SourceError(
            f"{spec}: unsupported file type {path.suffix or '(none)'!r} (use .txt, .md or .html)"
        )
    try:
        fd, st = open_regular(path, follow_symlinks=follow_symlinks)
        with os.fdopen(fd, "rb") as f:
            if too_large(st.st_size):
                raise ValueError(too_large(st.st_size))
            data = f.read(MAX_SOURCE_BYTES + 1)
        if too_large(len(data)):
            raise ValueError(too_large(len(data)))
    except ValueError as exc:
        raise SourceError(f"{spec}: {exc}") from None
    except FileNotFoundError:
        raise SourceError(f"{spec}: no such file") from None
    except PermissionError:
        raise SourceError(f"{spec}: permission denied") from None
    except IsADirectoryError:
        raise SourceError(f"{spec}: is a folder, not an article") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise SourceError(f"{spec}: {not_regular(stat.S_IFLNK)}") from None
        raise SourceError(f"{spec}: cannot read: {exc.strerror}") from None
    return Source(spec=spec, text=decode(data, spec), kind=kind, url=None)


def read_url(url: str, client: Client) -> Source:
    """Fetch an article page through the same session rules as capture (no recording)."""
    chain = client.fetch_chain(url, record=False, max_bytes=MAX_SOURCE_BYTES)
    try:
        if chain.error is not None:
            raise SourceError(f"{url}: {chain.error}")
        final = chain.final
        if final is None or final.status is None or not 200 <= final.status < 300:
            status = final.status if final else "no response"
            raise SourceError(f"{url}: the article page answered {status}")
        if final.truncated:
            raise SourceError(f"{url}: the article page is larger than {MAX_SOURCE_BYTES} bytes")
        ctype = final.header("content-type") or ""
        charset = ctype.split("charset=")[-1].strip() if "charset=" in ctype else None
        text = decode(final.head, url, charset)
        kind = "html" if "html" in ctype or sniff_kind(text) == "html" else "text"
        return Source(spec=url, text=text, kind=kind, url=final.url)
    finally:
        chain.close()


def read_source(spec: str, client_factory, *, follow_symlinks: bool = True) -> Source:
    """SOURCE as given on the command line: '-', an http(s) URL or a file path."""
    if spec == "-":
        data = sys.stdin.buffer.read(MAX_SOURCE_BYTES + 1)
        if len(data) > MAX_SOURCE_BYTES:
            raise SourceError("stdin: too large for an article")
        text = decode(data, "stdin")
        return Source(spec="-", text=text, kind=sniff_kind(text), url=None)
    if "://" in spec[:12]:
        if not urls.is_http_url(spec):
            raise SourceError(f"{spec}: not an http(s) URL")
        return read_url(spec, client_factory())
    return read_file(Path(spec), spec, follow_symlinks=follow_symlinks)
