"""``python -m tests.web serve``: run the fixture web in the foreground until signalled.

    python -m tests.web serve --state later --ready-file /tmp/web.json

Once listening it prints one JSON line (proxy_url, ca_path, http_port, https_port, pid)
and writes the same object to the ready file, atomically, so a waiting script never reads
half a file. The CA certificate sits next to it (``<ready-file>.ca.pem``). Both files
are removed on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from tests.web import Web, start_web
from tests.web.world import STATES


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.web",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the fixture web until SIGTERM/SIGINT")
    serve.add_argument("--state", choices=STATES, default="now", help="world to start in")
    serve.add_argument("--ready-file", type=Path, help="write the JSON here once listening")
    serve.add_argument("--debug", action="store_true", help="log every connection to stderr")
    return parser.parse_args(argv)


def ready_info(web: Web) -> dict[str, object]:
    return {
        "proxy_url": web.proxy_url,
        "ca_path": web.ca_path,
        "http_port": web.http_port,
        "https_port": web.https_port,
        "pid": os.getpid(),
    }


def write_atomically(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def serve(state: str, ready_file: Path | None) -> None:
    ca_path = None
    if ready_file is not None:
        ready_file.unlink(missing_ok=True)  # a stale file must not look like this run's
        ca_path = ready_file.with_name(ready_file.name + ".ca.pem")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    web = start_web(state, ca_path=ca_path)
    try:
        line = json.dumps(ready_info(web))
        if ready_file is not None:
            write_atomically(ready_file, line + "\n")
        print(line, flush=True)
        while not stop.wait(0.5):  # a bare wait() would not wake for the signal handler
            pass
    finally:
        web.stop()
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)
            Path(web.ca_path).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, format="%(threadName)s %(message)s")
    serve(args.state, args.ready_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
