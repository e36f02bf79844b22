"""Every error archiver expects to raise.

ArchiverError                    base; carries an exit code and a one-line message
 ├── ConfigError                 config.toml missing, unreadable or invalid (exit 3)
 ├── ArchiveNotFound             no archive root / store where one was expected (exit 3)
 ├── SourceError                 an article source cannot be read or holds no citations (exit 4)
 │    └── TooManyCitations       an article cites more URLs than `max_citations`
 ├── UsageError                  a bad argument a user can fix (unknown article, bad id) (exit 2)
 ├── MissingExtra                an optional extra is needed and not installed (exit 3)
 ├── StoreError                  the database refused an operation (exit 5)
 ├── FetchError                  one fetch failed; caught per target, never fatal (exit 6)
 │    ├── RefusedAddress         SSRF guard refused a scheme, name or address
 │    ├── FetchTimeout           connect/read/page time limit exceeded
 │    └── TsaError               a time-stamping service failed or answered badly
 ├── ArchiveWriteError           a file of the archive could not be written (disk full) (exit 7)
 │    └── WarcWriteError         a WARC file could not be written (disk full, permissions)
 ├── VerifyFailed                `archive verify` found problems (exit 8)
 ├── ReplayStartError            pywb (the replay beside `archive serve`) did not start (exit 9)
 └── ChromiumMissing             `archive screenshots` has no headless Chromium to run (exit 10)

Lower-level errors (requests, OSError, SQLAlchemy) become these at one boundary each,
chained with ``from exc``.
"""


class ArchiverError(Exception):
    """Base of every expected archiver error; ``str()`` is the one-line message."""

    exit_code = 1


class ConfigError(ArchiverError):
    """config.toml is missing, not TOML, or has an unknown key or a wrong type."""

    exit_code = 3


class ArchiveNotFound(ArchiverError):
    """No archive where one was expected (run `archive init`)."""

    exit_code = 3


class SourceError(ArchiverError):
    """An article source cannot be read, is binary or empty, or of an unsupported type."""

    exit_code = 4


class TooManyCitations(SourceError):
    """An article cites more distinct URLs than the `max_citations` setting allows."""


class UsageError(ArchiverError):
    """A bad argument the user can fix: unknown article, malformed citation id."""

    exit_code = 2


class MissingExtra(ArchiverError):
    """An optional extra (e.g. `archiver[replay]` for pywb) is needed and not installed."""

    exit_code = 3


class StoreError(ArchiverError):
    """The store refused an operation (locked, schema too new, connection failed)."""

    exit_code = 5


class FetchError(ArchiverError):
    """One HTTP fetch failed (network, TLS, protocol); recorded per target."""

    exit_code = 6


class RefusedAddress(FetchError):
    """The SSRF guard refused a scheme, host name or connected address."""


class FetchTimeout(FetchError):
    """A connect, read or whole-page time limit was exceeded."""


class TsaError(FetchError):
    """A time-stamping service was unreachable, too slow, or answered no valid token."""


class ArchiveWriteError(ArchiverError):
    """A file of the archive (ledger, manifest) could not be written (disk full, permissions)."""

    exit_code = 7


class WarcWriteError(ArchiveWriteError):
    """A WARC file could not be written (disk full, permissions)."""


class VerifyFailed(ArchiverError):
    """`archive verify` found at least one problem."""

    exit_code = 8


class ReplayStartError(ArchiverError):
    """pywb, run beside `archive serve` or `archive screenshots`, did not start."""

    exit_code = 9


class ChromiumMissing(ArchiverError):
    """No headless Chromium to render screenshots with (install Debian's `chromium`)."""

    exit_code = 10
