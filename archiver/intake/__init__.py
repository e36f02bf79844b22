"""Article intake engines: watched folders and RSS/Atom feeds, read unattended.

`feeds` fetches and parses a feed, `folders` scans a folder; both only find what is new.
The run (`archiver.runs.intake.run_intake`: `archive intake`, the daemon's `intake` job)
adds what they found exactly as `archive add` does: folders on every pass, feeds when due
(`intake.feed_every`, conditional GET, backoff on failure); the citations wait as
pending targets for capture.
"""
