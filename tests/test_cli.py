"""The archive command: init, add, status and their errors (CliRunner + the real script)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from archiver.cli import cli
from archiver.manifest.articles import article_doc
from archiver.store import schema as t

from .conftest import open_archive_store
from .test_extract import SAMPLE_CITED, SAMPLE_SOURCE


def run(cfg: Path, *args, input=None):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args], input=input)


@pytest.fixture
def arch(tmp_path):
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    return tmp_path / "a" / "config.toml"


def counts(cfg: Path) -> dict[str, int]:
    store = open_archive_store(cfg)
    try:
        with store.read() as conn:
            return {
                name: conn.execute(select(func.count()).select_from(tbl)).scalar_one()
                for name, tbl in (
                    ("article", t.article),
                    ("citation", t.citation),
                    ("target", t.target),
                )
            }
    finally:
        store.close()


def test_init_creates_and_is_idempotent(tmp_path):
    r = CliRunner().invoke(cli, ["init", str(tmp_path / "x")])
    assert r.exit_code == 0
    assert "created: config.toml, warcs/, manifests/, store" in r.output
    before = (tmp_path / "x" / "config.toml").read_text()
    r = CliRunner().invoke(cli, ["init", str(tmp_path / "x")])
    assert r.exit_code == 0 and "nothing changed" in r.output
    assert (tmp_path / "x" / "config.toml").read_text() == before
    assert (tmp_path / "x" / "warcs").is_dir() and (tmp_path / "x" / "manifests").is_dir()


def test_add_queue_then_status_json(arch, sample_article):
    r = run(arch, "add", "--queue", str(sample_article))
    assert r.exit_code == 0, r.output
    article_id = r.output.split("\t")[0]
    assert article_id == "prosecuting-social-media"
    r = run(arch, "status", "--json")
    listing = json.loads(r.output)
    assert listing == [
        {
            "id": article_id,
            "title": "Prosecuting Social Media Posts",
            "source_url": SAMPLE_SOURCE,
            "citations": 8,
        }
    ]
    doc = json.loads(run(arch, "status", article_id, "--json").output)
    assert set(doc) == {"article", "citations"}
    assert doc["article"]["source_url"] == SAMPLE_SOURCE
    assert doc["article"]["added_at"].endswith("Z")
    cited = [c for c in doc["citations"] if c["role"] == "cited"]
    assert [c["url"] for c in cited] == SAMPLE_CITED
    for c in doc["citations"]:
        assert {
            "id",
            "url",
            "url_as_written",
            "role",
            "context",
            "capture_state",
            "rot",
            "dead",
            "snapshots",
            "checks",
            "review",
        } <= set(c)
        assert c["capture_state"] == "pending" and c["snapshots"] == [] and c["checks"] == []
        assert c["review"]["state"] == "pending"
    assert all(c["context"] for c in cited)
    assert [c["id"] for c in doc["citations"]] == list(range(1, 9))


def test_adding_again_updates_never_duplicates(arch, sample_article, tmp_path):
    assert run(arch, "add", "--queue", str(sample_article)).exit_code == 0
    before = counts(arch)
    r = run(arch, "add", "--queue", str(sample_article))
    assert r.exit_code == 0 and "updated: 8 citations (0 new)" in r.output
    assert counts(arch) == before
    # same source URL, one more link: the same article gains one citation
    longer = tmp_path / "v2.txt"
    longer.write_text(sample_article.read_text() + "\nhttps://example.org/new-source\n")
    r = run(arch, "add", "--queue", str(longer))
    assert r.output.startswith("prosecuting-social-media\tupdated: 9 citations (1 new)")
    assert counts(arch)["article"] == 1


def test_markdown_html_and_stdin_sources(arch, tmp_path):
    md = tmp_path / "a.md"
    md.write_text("# Markdown story\n\nSee [this](https://md.example/a).\n")
    html = tmp_path / "b.html"
    html.write_text(
        "<html><head><title>HTML story</title></head><body><article>"
        "<p><a href='https://html.example/b'>b</a></p></article></body></html>"
    )
    r = run(arch, "add", "--queue", str(md), str(html))
    assert r.exit_code == 0, r.output
    r = run(arch, "add", "--queue", "-", input="Piped text with https://stdin.example/c\n")
    assert r.exit_code == 0, r.output
    titles = {a["title"] for a in json.loads(run(arch, "status", "--json").output)}
    assert titles == {"Markdown story", "HTML story", "Piped text with"}


def test_status_limits_the_table_and_totals_everything(arch, tmp_path):
    for i in range(4):
        f = tmp_path / f"story{i}.md"
        f.write_text(f"# Story {i}\n\nSee https://s{i}.example/a and https://s{i}.example/b\n")
        assert run(arch, "add", "--queue", str(f)).exit_code == 0
    ids = [a["id"] for a in json.loads(run(arch, "status", "--json").output)]
    assert len(ids) == 4
    r = run(arch, "status", "--limit", "2")
    assert r.exit_code == 0, r.output
    assert ids[2] in r.output and ids[3] in r.output
    assert ids[0] not in r.output and ids[1] not in r.output
    assert "Showing the 2 most recently added of 4 articles" in r.output
    assert "Totals: 4 articles, 8 citations: 0 archived, 0 failed, 0 rotted, 0 dead." in r.output
    # --all: every article, plain aligned columns, header first
    lines = run(arch, "status", "--all").output.splitlines()
    assert lines[0].split() == [
        "article",
        "title",
        "citations",
        "archived",
        "failed",
        "rotted",
        "dead",
    ]
    assert [line.split()[0] for line in lines[1:5]] == ids
    assert all(line.split()[-5:] == ["2", "0", "0", "0", "0"] for line in lines[1:5])
    assert "Showing" not in "\n".join(lines)
    # the default shows all four (under the limit): no "Showing" line
    r = run(arch, "status")
    assert all(i in r.output for i in ids) and "Showing" not in r.output


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.txt", None, "no such file"),
        ("empty.txt", b"   \n", "the article is empty"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary file"),
        ("doc.pdf", b"%PDF-1.4", "unsupported file type '.pdf'"),
        ("nolinks.txt", b"Just words, no links at all.", "no http(s) links found"),
        ("folder.txt", "DIR", "is a folder"),
    ],
)
def test_bad_sources_fail_cleanly_and_keep_the_store(
    arch, sample_article, tmp_path, name, content, message
):
    assert run(arch, "add", "--queue", str(sample_article)).exit_code == 0
    before = counts(arch)
    path = tmp_path / name
    if content == "DIR":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    r = run(arch, "add", "--queue", str(path))
    assert r.exit_code == 4
    errors = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("Error: ") and message in errors[0]
    assert "Traceback" not in r.output
    assert counts(arch) == before


def test_one_bad_source_does_not_stop_the_good_ones(arch, sample_article, tmp_path):
    r = run(arch, "add", "--queue", str(tmp_path / "nope.txt"), str(sample_article))
    assert r.exit_code == 4
    assert "prosecuting-social-media\tadded" in r.output
    assert counts(arch)["article"] == 1


@pytest.mark.parametrize("url", ["ftp://example.com/a", "https://"])
def test_bad_article_url(arch, url):
    r = run(arch, "add", "--queue", url)
    assert r.exit_code == 4 and r.stderr.startswith("Error: ")


def test_unknown_article_and_missing_archive(arch, tmp_path):
    r = run(arch, "status", "nope")
    assert r.exit_code == 2 and "no article 'nope'" in r.stderr
    r = CliRunner().invoke(cli, ["--config", str(tmp_path / "none" / "config.toml"), "status"])
    assert r.exit_code == 3 and "no archive here" in r.stderr


def test_bad_config_is_reported(arch):
    arch.write_text("surprise = 1\n" + arch.read_text())
    r = run(arch, "status")
    assert r.exit_code == 3 and r.stderr.strip() == "Error: config: unknown key 'surprise'"


def test_every_command_has_help():
    for name, command in cli.commands.items():
        assert command.help and command.help.strip(), name
        r = CliRunner().invoke(cli, [name, "--help"])
        assert r.exit_code == 0 and "Example" in r.output, name


def test_installed_script(tmp_path, sample_article):
    script = shutil.which("archive") or str(Path(sys.executable).parent / "archive")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    subprocess.run([script, "init", str(tmp_path / "s")], check=True, env=env, capture_output=True)
    p = subprocess.run(
        [script, "add", "--queue", str(sample_article)],
        cwd=tmp_path / "s",
        env=env,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    p = subprocess.run(
        [script, "status", "--json"], cwd=tmp_path / "s", env=env, capture_output=True, text=True
    )
    assert json.loads(p.stdout)[0]["citations"] == 8
    p = subprocess.run(
        [script, "status", "nope"], cwd=tmp_path / "s", env=env, capture_output=True, text=True
    )
    assert p.returncode == 2 and p.stderr.count("\n") == 1


def test_add_article_url_through_the_fixture_web(archive, web):
    """An article given by URL is fetched through the same session rules (proxy, CA)."""
    from archiver.runs.add import add_sources

    url = (
        "https://www.themoscowtimes.com/2018/08/15/"
        "mail-ru-asks-government-to-stop-prosecuting-social-media-posts-a62532"
    )
    report = add_sources(archive, [url], capture=False)
    assert not report.errors
    doc = article_doc(archive.store, report.results[0].article_id)
    assert doc["article"]["source_url"] == url
    assert doc["citations"][0]["role"] == "source"
    assert len(doc["citations"]) >= 2
