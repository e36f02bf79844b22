"""`archive daemon`: APScheduler decides *when*; the jobs are the CLI's own service calls.

Jobs: recover (leftover `.open` WARCs, claims of dead workers) once at start, then
intake (when `[intake]` has sources), capture, screenshots, check and manifest on their
`[daemon]` intervals. Screenshots need Chromium and the replay extra: without either
the job is left out, with one line at start saying why. Each run writes a heartbeat
row and logs one line; a failing run logs one line and the daemon carries on. `--once`
runs each job once, in that order.

Shutdown (SIGTERM/SIGINT): stop taking work, let in-flight work finish within
`daemon.shutdown_grace`, close the WARC file, release claims, exit 0. Past the grace
period (or on a second signal) in-flight fetches are abandoned: nothing uncommitted is
lost for good, because the targets are released and captured again next time.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from archiver.errors import ArchiverError, WarcWriteError
from archiver.runs.capture import capture_pending, index_new_warcs, make_sink, recover
from archiver.runs.screenshots import take_screenshots, unavailable
from archiver.runs.stamps import stamp_pending
from archiver.warcfiles.writer import WarcSink
from archiver.workers import WorkerLock, release_dead, worker_id

logger = logging.getLogger(__name__)

# intake (only with [intake] folders or feeds) runs before capture, so --once captures
# what it just added
# capture closes its WARC file under --once, so screenshots and stamp find this run's
# captures; screenshots before stamp: their own WARC file is stamped in the same run
ONCE_ORDER = ("recover", "intake", "capture", "screenshots", "stamp", "check", "manifest")
# job → the [daemon] setting holding its interval
SCHEDULED = {
    "intake": "intake_every",
    "capture": "capture_every",
    "screenshots": "screenshot_every",
    "check": "check_every",
    "manifest": "manifest_every",
    "stamp": "timestamp_every",
}


# ---------------------------------------------------------------- the WARC sink


class DaemonSink(WarcSink):
    """The daemon's long-lived WARC sink: once shut, no thread can open another file."""

    shut = False

    def _open(self) -> None:
        if self.shut:  # runs under the sink's lock, so it cannot race `shut_down`
            raise WarcWriteError("daemon shutting down: no new WARC file is opened")
        super()._open()

    def shut_down(self) -> None:
        with self._lock:
            self.shut = True
            self._close_locked()


def daemon_sink(app, worker: str | None = None) -> DaemonSink:
    s = make_sink(app, worker)  # the CLI's sink settings and on-close bookkeeping, unchanged
    return DaemonSink(
        root=s.root,
        warcs_dir=s.warcs_dir,
        max_size=s.max_size,
        gzip_level=s.gzip_level,
        on_close=s.on_close,
        clock=s.clock,
        name_tag=s.name_tag,  # the worker id in every file name (workers sharing warcs/)
    )


# ---------------------------------------------------------------- the daemon


class Daemon:
    """The jobs, their bookkeeping and the shutdown protocol; `run()` is the entry."""

    def __init__(self, app, *, worker: str | None = None) -> None:
        self.app = app
        self.settings = app.settings.daemon
        self.worker = worker or worker_id()
        self.stop = threading.Event()  # no new work
        self.failed: list[str] = []  # jobs whose last run raised, in order
        self.abandon = threading.Event()  # a second signal: do not wait for in-flight work
        self.sink = daemon_sink(app, self.worker)
        self.lock = WorkerLock(app.root, self.worker)
        self.abandoned: list[str] = []
        self._busy = threading.Condition()
        self._running: set[str] = set()
        self.no_screenshots = unavailable(app)  # why the job is left out, or None
        self.once = False  # --once: each job once, in ONCE_ORDER
        self.jobs: dict[str, Callable[[], str]] = {
            "recover": self.recover,
            "intake": self.intake,
            "capture": self.capture,
            "screenshots": self.screenshots,
            "check": self.check,
            "manifest": self.manifest,
            "stamp": self.stamp,
        }

    # ------------------------------------------------------------ the jobs

    def recover(self) -> str:
        files = recover(self.app)
        # at start, claims under our own name are a previous run's (our lock proves it)
        released = self.app.store.release_claims(self.worker) + self._release_dead()
        if not files and not released:
            return "Nothing to recover."
        return f"Recovered {len(files)} WARC files; released {released} claims of stopped workers."

    def _release_dead(self) -> int:
        """Release the claims of dead workers (daemons and CLI runs): no waiting out the lease."""
        return release_dead(self.app.store, self.app.root, self.worker)

    def _interval(self, name: str) -> float:
        """Seconds between runs of a job; intake also honours [intake] feed_every."""
        seconds = getattr(self.settings, SCHEDULED[name])
        if name == "intake":
            # folders are looked at every run; feeds only when due (next_poll_at)
            seconds = min(seconds, self.app.settings.intake.feed_every)
        return max(1.0, seconds)

    def intake(self) -> str:
        from archiver.runs.intake import run_intake

        return run_intake(self.app, stop=self.stop, worker=self.worker).line()

    def capture(self) -> str:
        # capture_pending releases dead workers' claims first (under our liveness lock)
        summary = capture_pending(self.app, sink=self.sink, stop=self.stop, worker=self.worker)
        # idle: close the file, so it is verifiable and in the ledger; with --once too, so
        # the screenshots and stamp jobs after it find this run's captures in a closed file
        if self.once or not summary.attempted:
            self.sink.close()
            index_new_warcs(self.app)
        return summary.line()

    def screenshots(self) -> str:
        return take_screenshots(self.app, stop=self.stop).line()

    def check(self) -> str:
        from archiver.runs.check import check_due

        return check_due(self.app, stop=self.stop, worker=self.worker).line()

    def manifest(self) -> str:
        from archiver.manifest import refresh

        if not self.app.store.article_ids(dirty_only=True):
            return "No manifest changed."  # leave the files (and index.html) alone
        written = refresh(self.app)  # None: every dirty article, read under its lock
        articles = sum(1 for path in written if path.suffix == ".json")
        return f"Rewrote the manifests of {articles} articles."

    def stamp(self) -> str:
        """Ask the TSAs for the queued timestamp tokens (closed WARC files, ledger head)."""
        return stamp_pending(self.app).line()

    # ------------------------------------------------------------ one run

    def run_job(self, name: str) -> bool:
        """Run one job: heartbeat row + one log line; an error never stops the daemon."""
        with self._busy:  # checked and added together, so `_finish` never misses a run
            if self.stop.is_set():
                return True
            self._running.add(name)
        try:
            return self._timed(name)
        finally:
            with self._busy:
                self._running.discard(name)
                self._busy.notify_all()

    def _timed(self, name: str) -> bool:
        started = time.monotonic()
        try:
            summary = self.jobs[name]()
        except Exception as exc:
            error = one_line(exc)
            fields = _fields(name, self.worker, started, ok=False, error=error)
            logger.error("%s failed: %s", name, error, extra=fields)
            logger.debug("%s traceback", name, exc_info=True)
            self._beat(name, ok=False, summary=None, error=error)
            if name not in self.failed:
                self.failed.append(name)
            return False
        fields = _fields(name, self.worker, started, ok=True, summary=summary)
        logger.info("%s done in %.1fs: %s", name, fields["duration"], summary, extra=fields)
        self._beat(name, ok=True, summary=summary, error=None)
        return True

    def _beat(self, name: str, *, ok: bool, summary: str | None, error: str | None) -> None:
        try:
            self.app.store.beat(name, self.worker, ok, summary, error)
        except ArchiverError as exc:  # the store is busy or gone: the next run beats again
            logger.warning("heartbeat for %s not written: %s", name, exc, extra={"job": name})

    # ------------------------------------------------------------ running

    def run(self, *, once: bool = False) -> int:
        """Run until a signal (or, with ``once``, every job once); the exit code.

        In-flight work still running past the grace period is left behind: `abandoned`
        names it, and the caller should end the process (`run_daemon` does).
        """
        self.lock.acquire()
        previous = self._install_signals()
        try:
            logger.info(
                "daemon %s starting%s (pid %d, archive %s)",
                self.worker,
                " once" if once else "",
                os.getpid(),
                self.app.root,
                extra={"worker": self.worker},
            )
            if self.no_screenshots:
                logger.info("%s", self.no_screenshots, extra={"job": "screenshots"})
            if once:
                ok = self._run_once()
            else:
                ok = self.run_job("recover")
                if not self.stop.is_set():
                    self._scheduler().start()  # blocks until _shutdown_on_stop stops it
            self._finish()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.lock.release()
        return 0 if ok or not once else 1

    def _run_once(self) -> bool:
        result: dict[str, bool] = {}
        self.once = True

        def body() -> None:
            result["ok"] = all([self.run_job(name) for name in self._enabled(ONCE_ORDER)])

        worker = threading.Thread(target=body, name="daemon-once", daemon=True)
        worker.start()
        while worker.is_alive() and not self.stop.is_set():
            worker.join(0.2)
        return result.get("ok", True)

    def _scheduler(self) -> BlockingScheduler:
        sched = BlockingScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=len(SCHEDULED))},
        )
        now = datetime.now(UTC)
        for name in self._enabled(SCHEDULED):
            sched.add_job(
                self.run_job,
                IntervalTrigger(seconds=self._interval(name), timezone=UTC),
                args=[name],
                id=name,
                name=name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,  # late is fine: run once, however late
                next_run_time=now,
            )
        watcher = threading.Thread(
            target=self._shutdown_on_stop, args=(sched,), name="daemon-stop", daemon=True
        )
        # started only once the scheduler runs, so shutdown() always finds it running
        sched.add_listener(lambda _event: watcher.start(), _scheduler_started())
        return sched

    def _enabled(self, names) -> list[str]:
        intake = self.app.settings.intake
        wanted = bool(intake.folders or intake.feeds)  # no sources: no job, no log line
        left_out = {"intake"} if not wanted else set()
        if not self.app.settings.evidence.tsa_url:  # no TSA: no stamp job
            left_out.add("stamp")
        if self.no_screenshots:  # said once at start
            left_out.add("screenshots")
        return [n for n in names if n not in left_out]

    def _shutdown_on_stop(self, sched: BlockingScheduler) -> None:
        self.stop.wait()
        sched.shutdown(wait=False)  # from this thread: never re-entered from a signal handler

    def _install_signals(self) -> dict:
        """SIGTERM/SIGINT → stop; returns the handlers they replace."""
        if threading.current_thread() is not threading.main_thread():
            return {}  # e.g. a test driving the daemon from a thread: it sets .stop itself
        return {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

    def _on_signal(self, signum: int, _frame) -> None:
        if self.stop.is_set():
            self.abandon.set()
            return
        self.stop.set()
        logger.info(
            "%s: stopping; waiting up to %.0fs for in-flight work (signal again to abandon it)",
            signal.Signals(signum).name,
            self.settings.shutdown_grace,
        )

    # ------------------------------------------------------------ shutdown

    def _finish(self) -> None:
        """Wait for in-flight jobs within the grace period, close the WARC, release claims."""
        started = time.monotonic()
        deadline = started + self.settings.shutdown_grace
        with self._busy:
            while self._running and not self.abandon.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._busy.wait(min(left, 0.2))
            abandoned = sorted(self._running)
        self.sink.shut_down()
        released = self._release()
        if abandoned:
            logger.warning(
                "abandoned in-flight %s after %.1fs; released %d claims (captured again later)",
                ", ".join(abandoned),
                time.monotonic() - started,
                released,
            )
        logger.info("daemon %s stopped", self.worker, extra={"worker": self.worker})
        self.abandoned = abandoned

    def _release(self) -> int:
        try:
            return self.app.store.release_claims(self.worker)
        except ArchiverError as exc:
            logger.warning("claims not released (they expire with the lease): %s", exc)
            return 0


def _scheduler_started() -> int:
    from apscheduler.events import EVENT_SCHEDULER_STARTED

    return EVENT_SCHEDULER_STARTED


def _fields(name: str, worker: str, started: float, **more) -> dict:
    return {"job": name, "worker": worker, "duration": round(time.monotonic() - started, 3), **more}


def one_line(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, ArchiverError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:500]


def run_daemon(app, *, once: bool = False, worker: str | None = None) -> int:
    """The `archive daemon` service call: returns the process exit code."""
    daemon = Daemon(app, worker=worker)
    code = daemon.run(once=once)
    if code and daemon.failed:
        names = ", ".join(daemon.failed)
        sys.stderr.write(f"Error: daemon --once: {names} failed (the log lines above say why)\n")
    if daemon.abandoned:
        # threads still blocked in fetches would hold up interpreter exit: leave now; the
        # WARC file is closed, the claims released, every committed row is on disk
        logging.shutdown()
        sys.stdout.flush()
        os._exit(code)
    return code
