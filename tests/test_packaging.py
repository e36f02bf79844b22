"""What a plain `pip install .` brings is enough for every module of the package.

Every third-party module that `archiver/` imports must come from `[project]
dependencies` in pyproject.toml (directly, or as a requirement of one of them, extras
not counted): the test extra installs more, so the suite alone would never notice a
runtime import that only an extra provides (issue 16: `cdxj_indexer`). `make test` also
installs the wheel with no extras into a fresh venv and drives every command
(scripts/smoke-install.sh); this is the fast, static half of that.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def imported_modules(package: Path) -> set[str]:
    """Top-level names of every absolute import in the package's sources."""
    names: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def third_party(names: set[str], own: str) -> set[str]:
    return {n for n in names if n not in sys.stdlib_module_names and n != own}


def runtime_closure(direct: list[str]) -> set[str]:
    """The distributions a plain install brings: ``direct`` and what they require,
    without any extra's requirements (markers are evaluated for this interpreter)."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in direct]
    while todo:
        req = todo.pop()
        name = _norm(req.name)
        if name in seen or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        try:
            todo += [Requirement(r) for r in md.requires(req.name) or ()]
        except md.PackageNotFoundError:
            continue  # not installed here: its own requirements are unknown
    return seen


def _dependencies() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["dependencies"]


def test_every_runtime_import_comes_with_a_plain_install():
    providers = md.packages_distributions()
    bundled = runtime_closure(_dependencies())
    missing = {}
    for module in sorted(third_party(imported_modules(ROOT / "archiver"), "archiver")):
        dists = {_norm(d) for d in providers.get(module, ())}
        if not dists & bundled:
            missing[module] = sorted(dists) or ["not installed at all"]
    assert not missing, f"imported by archiver/ but not in [project] dependencies: {missing}"


def test_the_check_sees_an_import_that_only_an_extra_provides(tmp_path):
    """The check itself: a module importing a test-only library is caught."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text(
        "import os\nfrom trustme import CA\nfrom . import b\nimport pkg.c\n", encoding="utf-8"
    )
    found = third_party(imported_modules(tmp_path / "pkg"), "pkg")
    assert found == {"trustme"}
    assert "trustme" not in runtime_closure(_dependencies())


@pytest.mark.parametrize(
    ("req", "brought"),
    [
        ("requests", {"requests", "urllib3", "idna"}),  # what it requires comes with it
        ("requests; python_version < '3'", set()),  # not for this interpreter
        ("rich; extra == 'fancy'", set()),  # only with an extra
    ],
)
def test_the_closure_follows_requirements_and_honours_markers(req, brought):
    assert brought <= runtime_closure([req])
    if not brought:
        assert runtime_closure([req]) == set()
