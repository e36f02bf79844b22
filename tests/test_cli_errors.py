"""Bad input to every command: one `Error: …` line on stderr, a non-zero exit, no traceback.

Through CliRunner for every command and every kind of bad input, and through the installed
`archive` script for a few; with `--debug` a traceback is allowed (and shown).

An unreadable article: tests run as root here, and root reads a chmod-000 file, so that
case runs the installed script as the user ``nobody`` (skipped when not root; as any other
user the plain chmod-000 case covers it). Other unreadable paths: a symlink loop and a
path through a regular file, which root cannot read either.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver import config
from archiver.cli import cli

from .conftest import write_config

ARCHIVE = str(Path(sys.executable).parent / "archive")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"

# Every command that opens an archive, with arguments that make it use the archive.
COMMANDS: dict[str, list[str]] = {
    "add": ["--queue", "{article}"],
    "capture": [],
    "check": [],
    "daemon": ["--once"],
    "export": ["{article_id}", "--csv"],
    "index": [],
    "intake": ["--once", "--queue"],
    "key": ["show"],
    "manifest": [],
    "migrate": ["--to", "sqlite:///{tmp}/copy.db"],
    "replay": [],
    "review": ["{article_id}:1", "--approve"],
    "screenshots": ["{article_id}"],
    "serve": ["--host", "0.0.0.0"],  # refused with no accounts: never starts serving
    "status": [],
    "user": ["list"],
    "verify": [],
}
# these never open the store: a database that is not one is not their business
NO_STORE = {"index", "key", "replay"}


@pytest.fixture
def arch(tmp_path) -> Path:
    """An archive with one article (two cited links), queued; returns config.toml."""
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    article = tmp_path / "article.txt"
    article.write_text(
        "A good article\n\nIt cites https://example.org/one and https://example.org/two.\n",
        encoding="utf-8",
    )
    cfg = tmp_path / "a" / config.CONFIG_NAME
    result = CliRunner().invoke(cli, ["--config", str(cfg), "add", "--queue", str(article)])
    assert result.exit_code == 0, result.output
    return cfg


def _args(command: str, cfg: Path) -> list[str]:
    values = {
        "article": str(cfg.parent.parent / "article.txt"),
        "article_id": "a-good-article",
        "tmp": str(cfg.parent.parent),
    }
    return [command, *(a.format(**values) for a in COMMANDS[command])]


def one_error(result, *, exit_code: int | None = None) -> str:
    """The single `Error: ` line of a failed run (CliRunner result); no traceback anywhere."""
    assert result.exit_code != 0, result.output
    if exit_code is not None:
        assert result.exit_code == exit_code, (result.exit_code, result.stderr)
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), repr(result.exception)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def run(cfg: Path | str, *args: str, input=None):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args], input=input)


def test_every_command_has_bad_input_rows():
    missing = set(cli.commands) - {"init"} - set(COMMANDS)
    assert not missing, f"add a row to COMMANDS for: {', '.join(sorted(missing))}"


# ---------------------------------------------------------------- a broken config


def _missing_root(cfg: Path) -> Path:
    return cfg.parent.parent / "no-such-archive" / config.CONFIG_NAME


def _write(text: str | bytes):
    def breaker(cfg: Path) -> Path:
        if isinstance(text, bytes):
            cfg.write_bytes(text)
        else:
            cfg.write_text(text, encoding="utf-8")
        return cfg

    return breaker


def _edit(old: str, new: str):
    def breaker(cfg: Path) -> Path:
        text = cfg.read_text(encoding="utf-8")
        assert old in text
        cfg.write_text(text.replace(old, new, 1), encoding="utf-8")
        return cfg

    return breaker


def _capture_value(key: str, value):
    def breaker(cfg: Path) -> Path:
        database = config.load_settings(cfg).database
        write_config(cfg.parent, top={"database": database}, capture={key: value})
        return cfg

    return breaker


def _folder(cfg: Path) -> Path:
    return cfg.parent  # --config names a folder


CONFIG_CASES = {
    "missing-root": (_missing_root, "no archive here"),
    "config-is-a-folder": (_folder, "cannot read"),
    "bad-toml": (_write("[capture\nworkers = 2\n"), "is not valid TOML"),
    "binary-config": (_write(bytes(range(256)) * 4), "is not UTF-8 text"),
    "unknown-key": (_edit("[capture]\n", "[capture]\nspeed = 3\n"), "unknown key 'capture.speed'"),
    "unknown-section": (_write("[nope]\na = 1\n"), "unknown key 'nope'"),
    "wrong-type": (_capture_value("workers", "four"), "capture.workers must be int"),
    "bad-duration": (_capture_value("read_timeout", "soon"), "not a duration"),
    "out-of-range": (_capture_value("gzip_level", 42), "capture.gzip_level must be 1..9"),
    "section-not-a-table": (_edit("[capture]\n", "capture = 3\n[capture2]\n"), "must be a table"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_a_broken_config(case, command, arch):
    breaker, message = CONFIG_CASES[case]
    args = _args(command, arch)  # before breaking: the article path is next to the root
    cfg = breaker(arch)
    line = one_error(run(cfg, *args), exit_code=3)
    assert message in line, line


@pytest.mark.sqlite_only  # overwrites archive.db
@pytest.mark.parametrize("command", sorted(set(COMMANDS) - NO_STORE))
def test_a_database_that_is_not_sqlite(command, arch):
    args = _args(command, arch)
    (arch.parent / "archive.db").write_bytes(b"this is not a database\n" * 200)
    for name in ("archive.db-wal", "archive.db-shm"):
        (arch.parent / name).unlink(missing_ok=True)
    result = run(arch, *args)
    if command == "daemon":
        # the daemon logs each failed job (one line each) and exits 1 without a traceback
        assert result.exit_code == 1 and "Traceback" not in result.stderr
        assert "file is not a database" in result.stderr
        return
    if command == "intake":  # no intake sources is found before the store is opened
        assert "no intake sources" in one_error(result, exit_code=2)
        return
    assert "file is not a database" in one_error(result, exit_code=5)


# ---------------------------------------------------------------- init


def test_init_on_a_file(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("x")
    assert "is a file" in one_error(CliRunner().invoke(cli, ["init", str(path)]), exit_code=2)


def test_init_through_a_file(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("x")
    result = CliRunner().invoke(cli, ["init", str(path / "archive")])
    line = one_error(result, exit_code=7)
    assert line.startswith("Error: cannot create an archive in ") and "Not a directory" in line


def test_init_where_nothing_can_be_created():
    result = CliRunner().invoke(cli, ["init", "/proc/archiver-cannot-live-here"])
    assert one_error(result, exit_code=7).startswith("Error: cannot create an archive in /proc/")


def test_init_on_a_read_only_disk(tmp_path):
    where = tmp_path / "ro"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(where)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {done.stderr.strip()}")
    try:
        result = CliRunner().invoke(cli, ["init", str(where / "archive")])
        assert "Read-only file system" in one_error(result, exit_code=7)
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_init_over_a_broken_config(arch):
    arch.write_text("[capture\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["init", str(arch.parent)])
    assert "is not valid TOML" in one_error(result, exit_code=3)


# ---------------------------------------------------------------- add: bad articles


def _loop(tmp_path: Path) -> Path:
    a, b = tmp_path / "loop-a.txt", tmp_path / "loop-b.txt"
    a.symlink_to(b)
    b.symlink_to(a)
    return a


def _through_a_file(tmp_path: Path) -> Path:
    (tmp_path / "plain.txt").write_text("x")
    return tmp_path / "plain.txt" / "article.txt"


def _huge(tmp_path: Path) -> Path:
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:
        f.truncate(60 * 2**20)  # 60 MB, sparse: the size is refused before a byte is read
    return path


def _file(name: str, content: bytes):
    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        path.write_bytes(content)
        return path

    return make


SOURCES = {
    "empty": (_file("empty.txt", b""), "the article is empty"),
    "whitespace": (_file("blank.md", b" \n\t\n"), "the article is empty"),
    "binary": (_file("image.txt", PNG), "binary file"),
    "binary-html": (_file("page.html", b"<html>\x00\x01\x02" * 100), "binary file"),
    "huge": (_huge, "is too large for an article"),
    "symlink-loop": (_loop, "cannot read"),
    "through-a-file": (_through_a_file, "cannot read"),
    "missing": (lambda p: p / "missing.txt", "no such file"),
    "folder": (lambda p: (p / "dir.txt").mkdir() or p / "dir.txt", "is a folder"),
    "pdf": (_file("paper.pdf", b"%PDF-1.7\n"), "unsupported file type '.pdf'"),
    "no-links": (_file("words.txt", b"Only words here, no links."), "no http(s) links found"),
    "undecodable": (_file("latin.txt", bytes(range(128, 256)) * 50), ""),
}


@pytest.mark.parametrize("case", sorted(SOURCES))
def test_add_a_bad_article(case, arch, tmp_path):
    make, message = SOURCES[case]
    path = make(tmp_path)
    result = run(arch, "add", "--queue", str(path))
    if case == "undecodable" and result.exit_code == 0:
        return  # bytes that decode as some charset are an article without links…
    line = one_error(result, exit_code=4)
    assert message in line, line


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/a.txt", "not an http(s) URL"),
        ("https://", "not an http(s) URL"),
        ("http://[::1", "not an http(s) URL"),
        ("http://localhost/article", "refused: local host name 'localhost'"),
        ("http://127.0.0.1:9/article", "refused: loopback address 127.0.0.1"),
        ("http://169.254.169.254/latest/meta-data/", "refused: link-local address"),
        ("file:///etc/passwd", "not an http(s) URL"),
    ],
)
def test_add_a_bad_article_url(url, message, arch):
    assert message in one_error(run(arch, "add", "--queue", url), exit_code=4)


def test_add_binary_and_huge_stdin(arch):
    assert "binary file" in one_error(run(arch, "add", "--queue", "-", input=PNG), exit_code=4)
    huge = b"https://example.org/x " * (3 * 2**20)  # 66 MB
    assert "too large" in one_error(run(arch, "add", "--queue", "-", input=huge), exit_code=4)


def test_add_an_unreadable_article(arch, tmp_path):
    path = tmp_path / "locked.txt"
    path.write_text("A locked article cites https://example.org/locked\n", encoding="utf-8")
    path.chmod(0)
    if os.geteuid() != 0:
        assert "permission denied" in one_error(run(arch, "add", "--queue", str(path)), exit_code=4)
        return
    # root reads a mode-000 file: run the command as `nobody` instead. The interpreter
    # may live where nobody can read (~root/.pyenv), so the child imports what `add`
    # needs as root, then drops to nobody and runs the command.
    base = Path(tempfile.mkdtemp(prefix="archiver-nobody-"))
    try:
        base.chmod(0o755)
        shutil.copytree(arch.parent, base / "a")
        locked = base / "locked.txt"
        shutil.copy(path.with_name("article.txt"), locked)
        locked.chmod(0)
        p = subprocess.run(
            [sys.executable, "-c", AS_NOBODY, str(base / "a" / "config.toml"), str(locked)],
            cwd=base, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if p.returncode == 99:
            pytest.skip(f"cannot become nobody here: {p.stderr.strip()}")
        assert p.returncode == 4, p.stderr
        assert p.stderr.strip() == f"Error: {locked}: permission denied"
    finally:
        shutil.rmtree(base, ignore_errors=True)


AS_NOBODY = r"""
import os, pwd, sys
import archiver.runs.capture, archiver.manifest, archiver.progress, archiver.runs.add
import archiver.runs.capture, archiver.manifest, archiver.progress, archiver.runs.add
from archiver.cli import main
try:
    nobody = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)
except (KeyError, OSError) as exc:
    print(exc, file=sys.stderr)
    sys.exit(99)
sys.argv = ["archive", "--config", sys.argv[1], "add", "--queue", sys.argv[2]]
main()
"""


# ---------------------------------------------------------------- bad references


@pytest.mark.parametrize(
    "ref", ["x", "a-good-article:0", "a-good-article:999", ":1", "nope:1", "a-good-article:x",
            "a-good-article:-1", "", "a-good-article:", "1e9", "a:b:c"],
)  # fmt: skip
def test_review_bad_references(ref, arch):
    line = one_error(run(arch, "review", ref, "--approve"), exit_code=2)
    assert ref in line or "no article" in line or "citation" in line, line


@pytest.mark.parametrize(
    "args",
    [
        ["review", "a-good-article:1"],  # neither --approve nor --flag
        ["review", "a-good-article:1", "--approve", "--flag"],
        ["export", "a-good-article"],  # no format
        ["export", "a-good-article", "--csv", "--json"],
        ["status", "--nope"],
        ["status", "--limit", "-1"],
        ["capture", "extra-argument"],
        ["review", "a-good-article:1", "--approve", "--by", "x" * 129],  # the store keeps 128
        ["review", "a-good-article:1", "--approve", "--by", "  "],
        ["daemon", "--once", "--worker-id", "w" * 129],
        ["daemon", "--once", "--worker-id", "tab\there"],
        ["user", "add", "x" * 129],
        ["user", "add", "bad\nname"],
        ["user", "add", "maria", "--role", "admin"],
        ["serve", "--port", "0"],
        ["serve", "--host", "192.168.1.10"],  # no accounts: only loopback
        ["serve", "--replay-port", "0"],
        ["serve", "--port", "8000", "--replay-port", "8000"],
        ["serve", "--replay-url", "javascript:alert(1)"],
        ["serve", "--replay-url", "https://replay.example.org/path"],
        ["screenshots", "one", "two"],
    ],
)
def test_usage_errors(args, arch):
    one_error(run(arch, *args), exit_code=2)


@pytest.mark.parametrize(
    "command", ["status", "export", "manifest", "check", "review", "screenshots"]
)
def test_an_unknown_article(command, arch):
    args = {"export": ["--csv"], "review": ["--approve"]}.get(command, [])
    target = "no-such-article:1" if command == "review" else "no-such-article"
    line = one_error(run(arch, command, target, *args), exit_code=2)
    assert "no-such-article" in line, line


def test_debug_shows_the_traceback(arch):
    arch.write_text("[capture\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(arch), "--debug", "status"])
    assert result.exit_code != 0
    assert type(result.exception).__name__ == "ConfigError"  # raised, not turned into a line


# ---------------------------------------------------------------- the installed script


def _script(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    return subprocess.run([ARCHIVE, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


@pytest.mark.parametrize(
    ("setup", "args", "code", "message"),
    [
        (None, ["--config", "{tmp}/nowhere/config.toml", "status"], 3, "no archive here"),
        ("bad-toml", ["--config", "{cfg}", "capture"], 3, "is not valid TOML"),
        pytest.param(
            "not-a-db",
            ["--config", "{cfg}", "verify"],
            5,
            "file is not a database",
            marks=pytest.mark.sqlite_only,  # overwrites archive.db
        ),
        (None, ["--config", "{cfg}", "add", "--queue", "{tmp}/image.txt"], 4, "binary file"),
        (None, ["--config", "{cfg}", "review", "x", "--approve"], 2, "ARTICLE:N"),
        (None, ["init", "{tmp}/article.txt/sub"], 7, "cannot create an archive"),
    ],
)
def test_installed_script(setup, args, code, message, arch, tmp_path):
    (tmp_path / "image.txt").write_bytes(PNG)
    if setup == "bad-toml":
        arch.write_text("[capture\n", encoding="utf-8")
    elif setup == "not-a-db":
        (arch.parent / "archive.db").write_bytes(b"not a database\n" * 100)
    argv = [a.format(tmp=tmp_path, cfg=arch) for a in args]
    p = _script(*argv)
    assert p.returncode == code, p.stderr
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], p.stderr
    assert "Traceback" not in p.stderr + p.stdout
    # with --debug the same run may show where it failed (`add` reports bad sources
    # itself and goes on with the others: no traceback to show there)
    p = _script("--debug", *argv)
    assert p.returncode != 0
    assert "Traceback" in p.stderr or "add" in argv, p.stderr
