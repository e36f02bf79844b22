"""archiver.tagstack: the open-element stack the page parsers share."""

from __future__ import annotations

import time

from archiver.judge import markup_of
from archiver.pages import page_title
from archiver.tagstack import TagStack


def test_close_pops_to_the_most_recent_namesake_and_ignores_strays():
    s = TagStack(frozenset({"script"}))
    for tag in ("html", "body", "div", "script", "b"):
        s.push(tag)
    assert s.any_watched() and "b" in s and s.innermost == "b"
    s.close("p")  # not open: closes nothing
    assert len(s) == 5
    s.close("script")  # closes b and script
    assert len(s) == 3 and s.innermost == "div"
    assert not s.any_watched() and "b" not in s and "script" not in s


def test_namesakes_are_counted():
    s = TagStack(frozenset({"div"}))
    s.push("div")
    s.push("div")
    s.close("div")
    assert "div" in s and s.any_watched()
    s.close("div")
    assert "div" not in s and not s.any_watched() and s.innermost == ""


def test_deep_never_closed_markup_costs_no_stack_walks():
    """A hostile page nesting ~80,000 open tags: both parsers stay fast (they scanned
    the whole stack at every text event before: minutes for 8 MiB)."""
    unit = "<div class=a><p><span><b>nested <i>text & <table><tr><td>cell "
    html = "<html><head><title>Huge</title></head><body>" + unit * 10_000  # ~640 KiB
    started = time.process_time()
    assert page_title(html) == "Huge"
    markup_of(html)
    # a loose bound: ~1 s of CPU here (lxml itself); the stack walk took over 15 s
    assert time.process_time() - started < 10
