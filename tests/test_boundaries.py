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
    assert {"connectors/mediawiki/client.py", "service/app.py", "sandbox/wiki.py"} <= scanned
    assert not any(path.startswith(".venv/") for path in scanned)
    sample = (
        "import mwclient.errors\n"
        "def f():\n"
        "    from pydiscourse import DiscourseClient\n"
        "    importlib.import_module('mwclient.page')\n"
        "from . import mwclient\n"
    )
    assert imported_roots(sample) == {"mwclient", "pydiscourse"}


# -- the wall clock ---------------------------------------------------------------------------

# Product code takes the time from core/clock.py, so a test (or a replay) that chooses a
# moment is obeyed everywhere. Reading durations (time.monotonic, perf_counter) is fine.
CLOCK_MODULE = "core/clock.py"
# Not product code: tests choose their clocks themselves, and benchmarks only measure.
CLOCK_FREE_DIRS = ("tests/", "bench/")
WALL_CLOCK_ATTRIBUTES = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "clock_gettime"),
    ("time", "clock_gettime_ns"),
}
# These read the wall clock only when called without the moment to convert.
WALL_CLOCK_WITHOUT_ARGUMENT = {
    ("time", "localtime"),
    ("time", "gmtime"),
    ("time", "ctime"),
    ("time", "asctime"),
    ("utils", "formatdate"),
    ("utils", "localtime"),
}
WALL_CLOCK_IMPORTS = {
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "clock_gettime"),
    ("time", "clock_gettime_ns"),
}


def wall_clock_reads(source: str) -> list[int]:
    """The lines of ``source`` that read the wall clock."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and any(
            (node.module, alias.name) in WALL_CLOCK_IMPORTS for alias in node.names
        ):
            found.append(node.lineno)
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        base = node.func.value
        owner = base.id if isinstance(base, ast.Name) else getattr(base, "attr", None)
        pair = (owner, node.func.attr)
        if pair in WALL_CLOCK_ATTRIBUTES or (
            pair in WALL_CLOCK_WITHOUT_ARGUMENT and not node.args and not node.keywords
        ):
            found.append(node.lineno)
    return sorted(found)


def test_only_the_clock_module_reads_the_wall_clock() -> None:
    offenders = []
    for path in python_files():
        relative = path.relative_to(ROOT).as_posix()
        if relative == CLOCK_MODULE or relative.startswith(CLOCK_FREE_DIRS):
            continue
        offenders += [f"{relative}:{line}" for line in wall_clock_reads(path.read_text())]
    assert offenders == []


def test_the_clock_scan_finds_every_way_of_reading_the_wall_clock() -> None:
    sample = (
        "import datetime as dt, time, email.utils\n"
        "a = datetime.now(UTC)\n"
        "b = dt.datetime.utcnow()\n"
        "c = date.today()\n"
        "d = time.time()\n"
        "e = time.gmtime()\n"
        "from time import time_ns\n"
        "f = email.utils.formatdate()\n"
        "g = dt.date.today()\n"
        # durations and conversions of a given moment are not reads of the wall clock
        "h = time.monotonic() + time.perf_counter()\n"
        "i = time.gmtime(1700000000) or email.utils.formatdate(1700000000)\n"
        "j = clock.now()\n"
    )
    assert wall_clock_reads(sample) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert CLOCK_MODULE in {path.relative_to(ROOT).as_posix() for path in python_files()}
    assert wall_clock_reads((ROOT / CLOCK_MODULE).read_text()) != []  # the one place
