"""Architecture rules that hold for the whole source tree, checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_LIBRARIES = {"mwclient", "pydiscourse"}
# Only the connectors talk to the platforms; their own tests may reach into the library
# (for example to record mwclient's retry waits instead of sleeping). The forum sandbox's
# tests and the session's ``forum`` fixture use pydiscourse on purpose: they prove the
# sandbox answers the real client as Discourse would.
ALLOWED = ("connectors/", "tests/connectors/", "tests/sandbox/forum/", "tests/conftest.py")
SKIPPED_DIRS = {".venv", "venv", "build", "dist", "node_modules", "__pycache__", ".git", "var"}


def python_files() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*.py")
        if not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts)
        and not any(part.endswith(".egg-info") for part in path.parts)
    ]


def imported_roots(source: str) -> set[str]:
    """The top-level package of every import in ``source``, wherever it appears."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and (getattr(node.func, "id", None) or getattr(node.func, "attr", None))
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def test_only_connectors_import_the_platform_libraries() -> None:
    offenders = []
    for path in python_files():
        relative = path.relative_to(ROOT).as_posix()
        used = imported_roots(path.read_text()) & PLATFORM_LIBRARIES
        if used and not relative.startswith(ALLOWED):
            offenders.append(f"{relative}: {', '.join(sorted(used))}")
    assert offenders == []


def test_the_scan_sees_the_tree_and_every_kind_of_import() -> None:
    scanned = {path.relative_to(ROOT).as_posix() for path in python_files()}
    assert {"connectors/mediawiki/client.py", "core/app.py", "sandbox/wiki.py"} <= scanned
    assert not any(path.startswith(".venv/") for path in scanned)
    sample = (
        "import mwclient.errors\n"
        "def f():\n"
        "    from pydiscourse import DiscourseClient\n"
        "    importlib.import_module('mwclient.page')\n"
        "from . import mwclient\n"
    )
    assert imported_roots(sample) == {"mwclient", "pydiscourse"}
