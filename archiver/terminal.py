"""Text from outside (titles, URLs, reasons, file names) made safe to show on a terminal.

A page title or a reason phrase can hold ESC and BEL: printed raw, they set the window
title, move the cursor or rewrite what is already on screen. C0 controls (but tab and
newline where a layout needs them), DEL and the C1 controls (0x80–0x9f, which some
terminals obey as ESC sequences) are removed; a single line also loses its line breaks.
Rich parses ``[link=…]`` markup in the strings it prints: `markup` escapes it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rich.markup import escape as _escape_markup
from rich.text import Text

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # keeps \t and \n
_LINE_BREAKS = re.compile(r"[\t\n]")
_C1_AND_DEL = re.compile(r"[\x7f-\x9f]")  # JSON leaves these raw with ensure_ascii=False
_ALL_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean(text: Any) -> str:
    """``text`` without control characters, tabs and newlines kept."""
    return _CONTROLS.sub("", str(text))


def one_line(text: Any) -> str:
    """``text`` as one printable line: controls removed, tabs and newlines made spaces."""
    return _LINE_BREAKS.sub(" ", clean(text))


def escape_controls(text: Any) -> str:
    """Controls, newlines too, as visible escapes (``\\x1b``, ``\\n``): for log lines,
    where a file name holding a newline must not forge a second line."""
    return _ALL_CONTROLS.sub(lambda m: repr(m.group())[1:-1], str(text))


def markup(text: Any) -> str:
    """One line for a place where Rich reads markup: controls gone, ``[…]`` escaped."""
    return _escape_markup(one_line(text))


def cell(text: Any) -> Text:
    """A Rich table cell or title: shown literally (no markup), one line, no controls."""
    return Text(one_line("" if text is None else text))


def json_text(value: Any) -> str:
    """Indented JSON for a terminal: non-ASCII kept, C0 escaped by json, DEL and C1 too.

    The escapes are JSON's own (``\\u009b``), so a tool reading the output gets the
    same strings back.
    """
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return _C1_AND_DEL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
