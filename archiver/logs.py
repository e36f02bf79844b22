"""Log handlers for a long-running entry point: one line per record on stderr.

Only entry points call `setup_logging` (`archive daemon`); library code just uses
`logging.getLogger(__name__)` with context in ``extra=``, which the JSON format keeps
as fields (``job``, ``worker``, ``duration``, ``summary``, ``error``, …).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from archiver.terminal import escape_controls
from archiver.times import iso_milli

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _utc(record: logging.LogRecord) -> str:
    when = datetime.fromtimestamp(record.created, UTC)
    return iso_milli(when)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": _utc(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        doc.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            doc["traceback"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``2025-03-02T10:14:03.112Z INFO archiver.daemon: message`` (UTC); controls in the
    message (a file name's newline, a title's ESC) are escaped, one record one line."""

    def format(self, record: logging.LogRecord) -> str:
        message = escape_controls(record.getMessage())
        line = f"{_utc(record)} {record.levelname} {record.name}: {message}"
        if record.exc_info:  # only with --debug: the daemon logs tracebacks at debug level
            line += "\n" + self.formatException(record.exc_info)
        return line


class CliFormatter(logging.Formatter):
    """``WARNING archiver.intake.folders: message`` for the commands' stderr."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{record.levelname} {record.name}: {escape_controls(record.getMessage())}"
        if record.exc_info:  # only with --debug
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(log_format: str = "text", *, debug: bool = False) -> None:
    """Replace the root handlers: text or JSON lines on stderr, INFO (DEBUG with --debug)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    level = logging.DEBUG if debug else logging.INFO
    logging.basicConfig(level=level, handlers=[handler], force=True)
    if not debug:
        # "skipped: maximum number of running instances reached" on every tick is noise:
        # the daemon's job wrapper already logs one line per run
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
        for noisy in ("urllib3", "charset_normalizer", "trafilatura", "htmldate"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
