"""Article intake: watched folders and RSS/Atom feeds turned into articles, unattended.

`run_intake(app)` is the one entry point (`archive intake`, the daemon's `intake` job):
folders on every pass, feeds when due (`intake.feed_every`, conditional GET, backoff on
failure). New articles are stored exactly as `archive add` stores them; their citations
wait as pending targets for capture.
"""

from archiver.intake.run import IntakeSummary, SourceReport, intake_status, run_intake

__all__ = ["IntakeSummary", "SourceReport", "intake_status", "run_intake"]
