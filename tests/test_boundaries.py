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


# -- floors -----------------------------------------------------------------------------------

# The house in floors: a module imports from its own floor or below, never above, whether
# at module level or inside a function. The foundation (core, and schemas beside it) knows
# nothing of the rest; the wiring (service) assembles everything; the local platforms for
# the demo and tests (sandbox) stand beside the wiring, whose command line offers them;
# benchmarks measure the whole house from above.
FLOORS = {
    "core": 0,
    "schemas": 0,
    "connectors": 1,
    "community": 2,
    "webhooks": 3,
    "dashboards": 4,
    "service": 5,
    "sandbox": 5,
    "bench": 6,
}
# Imports that go up anyway, as "file: imported module" -> why. Keep it empty.
UPWARD_ALLOWED: dict[str, str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def product_modules() -> dict[str, Path]:
    """Every module of the product's packages, by dotted name (tests are not product)."""
    return {
        module_name(path): path
        for path in python_files()
        if path.relative_to(ROOT).parts[0] in FLOORS
    }


def imported_modules(source: str) -> list[tuple[str, int]]:
    """Each import in ``source`` as (the dotted name it imports, line), wherever it appears:
    ``from a.b import c`` gives ``a.b.c`` (a module or a name in ``a.b``)."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and (getattr(node.func, "id", None) or getattr(node.func, "attr", None))
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.args[0].value, node.lineno))
    return found


def test_no_import_goes_up_a_floor() -> None:
    upward = []
    for name, path in product_modules().items():
        floor = FLOORS[name.split(".")[0]]
        relative = path.relative_to(ROOT).as_posix()
        for imported, line in imported_modules(path.read_text()):
            target = imported.split(".")[0]
            if FLOORS.get(target, -1) > floor and f"{relative}: {imported}" not in UPWARD_ALLOWED:
                upward.append(f"{relative}:{line} imports {imported}")
    assert upward == []


def test_the_floor_scan_sees_every_kind_of_import() -> None:
    sample = (
        "import dashboards.web\n"
        "from core.events import Event\n"
        "def f():\n"
        "    from service import dispatch\n"
        "    importlib.import_module('webhooks.incoming')\n"
        "if TYPE_CHECKING:\n"
        "    from community.handling import HandlerContext\n"
    )
    assert sorted(imported_modules(sample), key=lambda found: found[1]) == [
        ("dashboards.web", 1),
        ("core.events.Event", 2),
        ("service.dispatch", 4),
        ("webhooks.incoming", 5),
        ("community.handling.HandlerContext", 7),
    ]
    assert set(FLOORS) <= {path.relative_to(ROOT).parts[0] for path in python_files()}


# -- cycles -----------------------------------------------------------------------------------


def import_graph() -> dict[str, set[str]]:
    """Module -> the product modules it imports, at module level or inside a function.
    ``from a import b`` leads to module ``a.b`` when there is one, else to ``a``."""
    modules = product_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for imported, _line in imported_modules(path.read_text()):
            parts = imported.split(".")
            target = next(
                (
                    ".".join(parts[:end])
                    for end in range(len(parts), 0, -1)
                    if ".".join(parts[:end]) in modules
                ),
                None,
            )
            if target is not None and target != name:
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or round a loop (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_file_level_import_cycles() -> None:
    """Inside each package, and across packages too: no module needs itself, by any road."""
    assert cycles(import_graph()) == []


def test_the_cycle_search_finds_loops() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert "service.app" in import_graph()["service.main"]
