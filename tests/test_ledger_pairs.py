"""Issue #22: every row the ledger describes has its line, even after a crash, and
`archive verify` cross-checks both ways (`archiver.ledger.pairs`).

- The real writers (capture, check, review) leave rows and lines in pairs.
- A writer killed between its commit and its lines: the next writer (or the start of
  the next command) appends exactly the missing lines, marked recovered, extending the
  chain; verify fails before, passes after.
- Tampering: a row or a line removed, changed, doubled or added behind the archiver's
  back is named, one `where: what` line each, and `archive verify` exits 8.
- Schema 3 on a schema-2 store: the column is added, old rows get recovered lines.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select, update

from archiver.app import App
from archiver.cli import cli
from archiver.ledger import ledger_for
from archiver.ledger.chain import GENESIS, Ledger, line_hash
from archiver.ledger.events import DROPPED, Paired
from archiver.ledger.pairs import add_line, complete_pairs, write_paired
from archiver.manifest.review import review_citation
from archiver.manifest.verify import verify
from archiver.runs.add import add_sources
from archiver.runs.capture import capture_pending
from archiver.runs.check import check_due
from archiver.store import open_store
from archiver.store import schema as t
from archiver.store.work import CheckOutcome

from .conftest import make_archive

URLS = [
    "https://cases.test/ok",
    "https://cases.test/chunked",
    "https://cases.test/redirect/3",
    "https://cases.test/404",
]


@pytest.fixture
def app(tmp_path, web):
    """An archive whose targets were captured and checked once, by the real writers."""
    app = make_archive(tmp_path / "a", web, capture={"workers": 2})
    article = tmp_path / "article.txt"
    article.write_text("Pairs\n\n" + "\n".join(URLS) + "\n", encoding="utf-8")
    assert not add_sources(app, [str(article)], capture=True).errors
    check_due(app, all_targets=True)
    yield app
    app.close()


def _lines(app) -> list[dict]:
    path = ledger_for(app.settings).path
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def _problems(app) -> list[str]:
    return [str(p) for p in verify(app).problems]


def _count(app, table) -> int:
    with app.store.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _rewrite(app, objs: list[dict]) -> None:
    """The ledger as a forger would leave it: every line re-chained by hand."""
    prev, out = GENESIS, []
    for seq, obj in enumerate(objs, 1):
        obj = {**obj, "seq": seq, "prev": prev}
        line = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        prev = line_hash(line)
        out.append(line + b"\n")
    ledger_for(app.settings).path.write_bytes(b"".join(out))


def _verify_cli(app, *args: str):
    return CliRunner().invoke(
        cli, ["--config", str(app.root / "config.toml"), "verify", *args], obj={}
    )


# ------------------------------------------------------------------ the writers


def test_real_writers_leave_every_row_with_its_line(app):
    aid = app.store.article_ids()[0]
    review_citation(app, f"{aid}:1", "approved", by="ed")
    review_citation(app, f"{aid}:1", "flagged", note="moved", by="ed")
    report = verify(app)
    assert report.problems == ()
    pairs = report.as_dict()["ledger_pairs"]
    assert pairs["snapshot"]["rows"] == pairs["snapshot"]["lines"] >= 3
    assert pairs["check"]["rows"] == pairs["check"]["lines"] >= 3
    # a review row is the current decision; each decision is a line
    assert pairs["review"] == {"rows": 1, "lines": 2}
    lines = _lines(app)
    named = [o for o in lines if o["event"] in ("snapshot", "check", "review", "warc-closed")]
    assert named and all("row" in o and o["digest"].startswith("sha256:") for o in named)
    with app.store.read() as conn:
        seqs = conn.execute(select(t.check.c.ledger_seq)).scalars().all()
    by_seq = {o["seq"]: o for o in lines}
    assert all(by_seq[s]["event"] == "check" for s in seqs)


# ------------------------------------------------------------------ a killed writer


class Killed(BaseException):
    """What a kill -9 between the commit and the lines looks like to the batch."""


def _killed_check_batch(app, n: int = 2) -> list:
    """Check rows committed by a writer that dies before writing their lines."""
    with app.store.read() as conn:
        targets = conn.execute(select(t.target).limit(n)).all()
    outcome_rows = []

    def commit(seqs: list[int]) -> list:
        outcome_rows.extend(app.store.record_checks(_outcomes(app, targets), seqs))
        raise Killed

    with pytest.raises(Killed):
        write_paired(ledger_for(app.settings), app.store, Paired.CHECK, n, commit)
    return outcome_rows


def _outcomes(app, targets):
    now = app.clock()
    return [
        (
            tg,
            CheckOutcome(
                checked=dict(
                    checked_at=now,
                    status=200,
                    final_url=tg.url,
                    redirects=[],
                    classification="ok",
                    similarity=1.0,
                    error=None,
                ),
                rot="ok",
                dead=False,
                consecutive_failures=0,
                first_failure_at=None,
                recapture=False,
                next_check_in=3600,
            ),
        )
        for tg in targets
    ]


def test_rows_a_killed_writer_committed_get_their_lines_at_the_next_start(app):
    before = _lines(app)
    rows = _killed_check_batch(app)
    assert len(_lines(app)) == len(before)  # committed, no line
    got = _problems(app)
    assert got == [f"check {r.id}: no ledger line (the row names seq {r.ledger_seq})" for r in rows]
    assert _verify_cli(app).exit_code == 8
    assert complete_pairs(ledger_for(app.settings), app.store) == 2
    after = _lines(app)
    added = after[len(before) :]
    assert [(o["event"], o["row"], o["recovered"]) for o in added] == [
        ("check", r.id, True) for r in rows
    ]
    assert [o["seq"] for o in added] == [r.ledger_seq for r in rows]  # the seqs they carry
    assert after[: len(before)] == before  # the chain was only extended
    assert not ledger_for(app.settings).breaks()
    assert _problems(app) == []
    assert complete_pairs(ledger_for(app.settings), app.store) == 0  # nothing twice
    assert _count(app, t.check) == verify(app).as_dict()["ledger_pairs"]["check"]["lines"]


def test_the_next_writer_completes_the_pair_before_numbering_its_own(app):
    rows = _killed_check_batch(app)
    review_citation(app, f"{app.store.article_ids()[0]}:2", "approved")  # no restart between
    added = _lines(app)[-3:]
    assert [(o["event"], o.get("recovered")) for o in added] == [
        ("check", True),
        ("check", True),
        ("review", None),
    ]
    assert [o["row"] for o in added[:2]] == [r.id for r in rows]
    assert _problems(app) == []


def test_capture_and_check_start_by_completing_pairs(app):
    _killed_check_batch(app)
    assert _problems(app)
    capture_pending(app)  # nothing due: only the recovery at its start runs
    assert _problems(app) == []
    _killed_check_batch(app)
    check_due(app)  # nothing due either
    assert _problems(app) == []


def test_a_half_written_batch_loses_no_line_and_no_row(app):
    """Killed inside the write: a torn last line is cut and its rows recovered."""
    rows = _killed_check_batch(app, n=3)
    path = ledger_for(app.settings).path
    with ledger_for(app.settings).batch() as batch:  # what the killed write got out
        for row in rows[:1]:
            add_line(batch, Paired.CHECK, row)
    whole = path.read_bytes()
    with open(path, "ab") as f:  # and half of the next line
        f.write(b'{"seq":' + str(rows[1].ledger_seq).encode() + b',"at":"2026-')
    assert complete_pairs(ledger_for(app.settings), app.store) == 2
    assert path.read_bytes().startswith(whole)
    assert [o.get("row") for o in _lines(app)[-3:]] == [r.id for r in rows]
    assert not ledger_for(app.settings).breaks()
    assert _problems(app) == []


# ------------------------------------------------------------------ tampering


def test_a_check_row_deleted_in_sql_is_named(app):
    with app.store.read() as conn:
        victim = conn.execute(select(t.check).order_by(t.check.c.id.desc()).limit(1)).one()
    with app.store.tx() as conn:
        conn.execute(delete(t.check).where(t.check.c.id == victim.id))
    n = next(i for i, o in enumerate(_lines(app), 1) if o.get("seq") == victim.ledger_seq)
    assert _problems(app) == [
        f"manifests/ledger.jsonl:line {n}: check {victim.id} is not in the store"
    ]
    res = _verify_cli(app)
    assert res.exit_code == 8
    assert f"check {victim.id} is not in the store" in res.output
    res = _verify_cli(app, "--json")
    assert res.exit_code == 8
    doc = json.loads(res.stdout)
    left = _count(app, t.check)
    assert doc["ledger_pairs"]["check"] == {"rows": left, "lines": left + 1}
    assert doc["problems"][0]["line"] == n


def test_a_ledger_line_deleted_and_rechained_is_named(app):
    objs = _lines(app)
    victim = next(o for o in objs if o["event"] == "check")
    _rewrite(app, [o for o in objs if o is not victim])
    assert not ledger_for(app.settings).breaks()  # the chain itself holds
    assert _problems(app) == [
        f"check {victim['row']}: no ledger line (the row names seq {victim['seq']})"
    ]


def test_a_row_changed_in_sql_is_named(app):
    with app.store.read() as conn:
        victim = conn.execute(select(t.check).limit(1)).one()
    with app.store.tx() as conn:
        conn.execute(update(t.check).where(t.check.c.id == victim.id).values(error="edited"))
        # and a change only the digest sees: a column no line field repeats
    assert _problems(app) == [f"check {victim.id}: content differs from its ledger line "
                              f"{_line_no(app, victim.ledger_seq)} (digest)"]  # fmt: skip
    with app.store.tx() as conn:
        q = update(t.check).where(t.check.c.id == victim.id).values(classification="gone")
        conn.execute(q)
    n = _line_no(app, victim.ledger_seq)
    assert _problems(app) == [
        f"manifests/ledger.jsonl:line {n}: check line for {victim.id} "
        "disagrees with the store on classification"
    ]


def _line_no(app, seq: int) -> int:
    return next(i for i, o in enumerate(_lines(app), 1) if o.get("seq") == seq)


def test_a_row_inserted_behind_our_back_is_named(app):
    with app.store.read() as conn:
        row = conn.execute(select(t.check).limit(1)).one()._asdict()
    for key in ("id", "ledger_seq"):
        row.pop(key)
    with app.store.tx() as conn:
        new_id = conn.execute(t.check.insert().values(**row)).inserted_primary_key[0]
    assert _problems(app) == [
        f"check {new_id}: no ledger line naming it "
        "(nor one of its target and time from before lines named rows)"
    ]


def test_a_doubled_line_is_named(app):
    objs = _lines(app)
    twin = next(o for o in objs if o["event"] == "check")
    _rewrite(app, [*objs, dict(twin)])
    assert _problems(app) == [
        f"manifests/ledger.jsonl:line {len(objs) + 1}: a second line for check {twin['row']} "
        f"(line {_line_no(app, twin['seq'])} describes the row)"
    ]


@pytest.mark.parametrize(
    "row",
    ["999999", "-1", "1e9", '"1; DROP TABLE check"', "null", "[1]", '{"a": 1}', '"\\u0000"'],
)
def test_hostile_row_names_in_lines_are_reported_not_crashed_on(app, row):
    objs = _lines(app)
    forged = {**next(o for o in objs if o["event"] == "check"), "row": json.loads(row)}
    checks = _count(app, t.check)
    _rewrite(app, [*objs, forged])
    got = _problems(app)
    assert len(got) == 1 and got[0].startswith(f"manifests/ledger.jsonl:line {len(objs) + 1}: ")
    assert _count(app, t.check) == checks  # and nothing was run


def test_hostile_digest_and_seq_fields(app):
    objs = _lines(app)
    i = next(i for i, o in enumerate(objs) if o["event"] == "check")
    objs[i] = {**objs[i], "digest": ["not", "a", "string"]}
    _rewrite(app, objs)
    (problem,) = _problems(app)
    assert problem.startswith(f"check {objs[i]['row']}: content differs from its ledger line")


# ------------------------------------------------------------------ an older store


def test_schema_5_on_a_schema_2_store_then_old_rows_get_their_lines(app, tmp_path):
    url = app.settings.database_url
    # lines written before lines named their rows
    _rewrite(app, [{k: v for k, v in o.items() if k not in ("row", "digest")} for o in _lines(app)])
    with app.store.tx() as conn:  # back to schema 2: no ledger_seq anywhere
        for table in ("snapshot", "check", "review", "warc_file"):
            q = conn.dialect.identifier_preparer.quote(table)
            conn.exec_driver_sql(f"DROP INDEX ix_{table}_ledger_seq")
            conn.exec_driver_sql(f"ALTER TABLE {q} DROP COLUMN ledger_seq")
        conn.execute(update(t.meta).where(t.meta.c.key == "schema_version").values(value="2"))
    app.store.close()
    store = open_store(url)  # migrates
    try:
        assert store.schema_version() == t.SCHEMA_VERSION
        with store.read() as conn:
            q = select(func.count()).where(t.check.c.ledger_seq.is_(None))
            assert conn.execute(q).scalar_one() == _count(app, t.check) > 0
    finally:
        store.close()
    app.store.engine.dispose()
    assert _problems(app) == []  # old rows are matched with old lines, as before the upgrade
    before = _lines(app)
    n = complete_pairs(ledger_for(app.settings), app.store)
    assert n == _count(app, t.check) + _count(app, t.snapshot) + _count(app, t.warc_file)
    assert _lines(app)[: len(before)] == before
    assert _problems(app) == []


def test_a_snapshot_dropped_by_warc_recovery_is_accounted_for_by_its_line(app):
    """Recovery of a killed writer's `.open` file may remove snapshots past its last
    whole record; it says so in a `snapshot-dropped` line, and verify accepts that."""
    with app.store.read() as conn:
        victim = conn.execute(select(t.snapshot).order_by(t.snapshot.c.id.desc())).first()
    with app.store.tx() as conn:  # as recovery drops it: with the copies it reused
        reuse = t.snapshot_reuse
        conn.execute(delete(reuse).where(reuse.c.snapshot_id == victim.id))
        conn.execute(delete(t.snapshot).where(t.snapshot.c.id == victim.id))
    problems = [p for p in _problems(app) if "is not in the store" in p]
    assert problems and f"snapshot {victim.id} is not in the store" in problems[0]
    ledger_for(app.settings).append("snapshot-dropped", warc=victim.warc, rows=[victim.id])
    assert not [p for p in _problems(app) if "is not in the store" in p]


def test_a_line_is_stamped_by_the_clock_the_ledger_was_given(tmp_path):
    """Issue 19: `Ledger.append` stamps a line with the injected clock (the App's, via
    `ledger_for`), not its own; a time the caller gives wins; microseconds, ``Z``."""
    fixed = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    ledger = Ledger(tmp_path / "ledger.jsonl", clock=lambda: fixed)
    assert ledger.append(DROPPED, rows=[])["at"] == "2026-01-02T03:04:05.678901Z"
    later = ledger.append(Paired.SNAPSHOT, at=fixed + timedelta(seconds=1))
    assert later["at"] == "2026-01-02T03:04:06.678901Z" and later["event"] == "snapshot"
    assert not ledger.breaks()


def test_a_captures_lines_are_stamped_by_the_apps_clock(tmp_path, web):
    """The clock a test injects into the App stamps the snapshot and WARC lines."""
    fixed = datetime(2020, 5, 6, 7, 8, 9, tzinfo=UTC)
    base = make_archive(tmp_path / "a", web)
    app = App(settings=base.settings, clock=lambda: fixed)
    article = tmp_path / "article.txt"
    article.write_text("Clock\n\nhttps://cases.test/ok\n", encoding="utf-8")
    assert not add_sources(app, [str(article)], capture=True).errors
    stamped = {line["event"]: line["at"] for line in _lines(app)}
    assert stamped["snapshot"] == "2020-05-06T07:08:09.000000Z"
    app.close()
    base.close()
