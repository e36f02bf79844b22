"""A pytest plugin that adds up what the fault, crash and fuzz suites tried, and prints it.

Registered in tests/conftest.py (``pytest_plugins``). Tests record through the
``figures`` fixture; the terminal summary then says, for example::

    faults: 34 tried, 34 survived, 0 data lost
    crash loop: 20 kills, 0 committed snapshots lost (312 checked after the kills)
    disk full: 3 cases, 0 data lost
    fuzz: 14 properties, 2,800 examples

Set ``ARCHIVER_FIGURES=path.json`` to also write the figures as JSON (for CI notes).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field

import pytest


@dataclass
class Figures:
    faults_tried: int = 0
    faults_survived: int = 0
    faults_lost: int = 0
    failed_faults: list[str] = field(default_factory=list)
    crash_kills: int = 0
    crash_lost: int = 0
    crash_checked: int = 0
    disk_full_cases: int = 0
    disk_full_lost: int = 0
    fuzz_examples: Counter = field(default_factory=Counter)

    def fault(self, name: str, *, survived: bool, lost: int = 0) -> None:
        self.faults_tried += 1
        self.faults_survived += int(survived)
        self.faults_lost += lost
        if not survived:
            self.failed_faults.append(name)

    def crash(self, *, kills: int, lost: int, checked: int) -> None:
        self.crash_kills += kills
        self.crash_lost += lost
        self.crash_checked += checked

    def disk_full(self, *, lost: int) -> None:
        self.disk_full_cases += 1
        self.disk_full_lost += lost

    def fuzz(self, prop: str) -> None:
        self.fuzz_examples[prop] += 1

    def lines(self) -> list[str]:
        out = []
        if self.faults_tried:
            line = (
                f"faults: {self.faults_tried} tried, {self.faults_survived} survived, "
                f"{self.faults_lost} data lost"
            )
            if self.failed_faults:
                line += f" (did not survive: {', '.join(self.failed_faults)})"
            out.append(line)
        if self.crash_kills:
            out.append(
                f"crash loop: {self.crash_kills} kills, {self.crash_lost} committed snapshots "
                f"lost ({self.crash_checked} checked after the kills)"
            )
        if self.disk_full_cases:
            out.append(f"disk full: {self.disk_full_cases} cases, {self.disk_full_lost} data lost")
        if self.fuzz_examples:
            total = sum(self.fuzz_examples.values())
            out.append(f"fuzz: {len(self.fuzz_examples)} properties, {total:,} examples")
        return out

    def as_dict(self) -> dict:
        return {
            "faults": {
                "tried": self.faults_tried,
                "survived": self.faults_survived,
                "data_lost": self.faults_lost,
                "did_not_survive": self.failed_faults,
            },
            "crash_loop": {
                "kills": self.crash_kills,
                "lost_snapshots": self.crash_lost,
                "checked": self.crash_checked,
            },
            "disk_full": {"cases": self.disk_full_cases, "data_lost": self.disk_full_lost},
            "fuzz_examples": dict(self.fuzz_examples),
        }


FIGURES = pytest.StashKey[Figures]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[FIGURES] = Figures()


@pytest.fixture(scope="session")
def figures(pytestconfig: pytest.Config) -> Figures:
    """Where the fault, crash and fuzz tests count what they tried."""
    return pytestconfig.stash[FIGURES]


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    figures = config.stash.get(FIGURES, None)
    if figures is None:
        return
    lines = figures.lines()
    if lines:
        terminalreporter.section("faults, crash safety and fuzzing")
        for line in lines:
            terminalreporter.write_line(line)
    path = os.environ.get("ARCHIVER_FIGURES")
    if path and lines:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(figures.as_dict(), f, indent=2)
