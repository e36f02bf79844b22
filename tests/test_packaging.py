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


# Subpackages that only an extra's command loads (after checking the extra is there,
# with one `Error:` line naming it otherwise): their imports may come from that extra.
EXTRA_PACKAGES = {"web": "serve"}  # archiver/web: `archive serve`


def imported_modules(package: Path, *, skip: tuple[str, ...] = ()) -> set[str]:
    """Top-level names of every absolute import in the package's sources (not below the
    subfolders named in ``skip``)."""
    names: set[str] = set()
    for path in package.rglob("*.py"):
        if path.relative_to(package).parts[0] in skip:
            continue
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


def _project() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _dependencies() -> list[str]:
    return _project()["dependencies"]


def _missing(modules: set[str], bundled: set[str]) -> dict[str, list[str]]:
    providers = md.packages_distributions()
    missing = {}
    for module in sorted(third_party(modules, "archiver")):
        dists = {_norm(d) for d in providers.get(module, ())}
        if not dists & bundled:
            missing[module] = sorted(dists) or ["not installed at all"]
    return missing


def test_every_runtime_import_comes_with_a_plain_install():
    modules = imported_modules(ROOT / "archiver", skip=tuple(EXTRA_PACKAGES))
    missing = _missing(modules, runtime_closure(_dependencies()))
    assert not missing, f"imported by archiver/ but not in [project] dependencies: {missing}"


@pytest.mark.parametrize(("sub", "extra"), sorted(EXTRA_PACKAGES.items()))
def test_an_extras_package_needs_only_that_extra(sub, extra):
    modules = imported_modules(ROOT / "archiver" / sub)
    requires = _dependencies() + _project()["optional-dependencies"][extra]
    missing = _missing(modules, runtime_closure(requires))
    assert not missing, f"archiver/{sub} imports what [{extra}] does not bring: {missing}"


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
