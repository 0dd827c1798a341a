"""The SDK's imports flow one way, facade -> roles -> session, with no cycle anywhere in
computerails/ (issue 10): read from the source with `ast`, so an import hidden inside a
function or under `if TYPE_CHECKING:` counts too, and checked by importing each module alone
in a fresh interpreter."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "computerails"
FACADE = "computerails.rails"
ROLES = {
    f"computerails.{m}"
    for m in ("client", "provider", "payer", "collector", "oracle", "governance", "views", "keeper", "arbitrator")
}
SESSION = "computerails.session"
SHARED = "computerails.shared"


def _modules() -> dict[str, Path]:
    """Dotted name -> file, for every module and package of computerails/ (subpackages too)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The package's modules that `name` imports anywhere in its source. ``from pkg import x``
    counts as importing the submodule ``pkg.x`` when there is one, else ``pkg`` itself."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in MODULES}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                if f"{source}.{alias.name}" in MODULES:
                    found.add(f"{source}.{alias.name}")
                elif source in MODULES:
                    found.add(source)
    found.discard(name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    done: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> list[str] | None:
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target in on_stack:
                return stack[stack.index(target) :] + [target]
            if target not in done:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        on_stack.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done:
            found = visit(start)
            if found:
                return found
    return None


def test_graph__walk__finds_the_layers():
    assert {FACADE, SESSION, SHARED, *ROLES} <= set(MODULES)
    assert ROLES <= GRAPH[FACADE] and SESSION in GRAPH[FACADE]
    assert all(SESSION in GRAPH[role] for role in ROLES)


def test_cycle__a_known_cycle__reported_as_a_path():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_package__import_graph__acyclic():
    cycle = _cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_facade__imported_by__only_its_users():
    """The package's __init__, the CLI and the applications in subpackages (computerails.sim)
    use the facade as any user does; nothing the facade is built from imports it."""
    importers = {name for name, targets in GRAPH.items() if FACADE in targets}
    assert all(name in ("computerails", "computerails.cli") or name.count(".") >= 2 for name in importers), importers


def test_roles__import__neither_the_facade_nor_each_other():
    for role in sorted(ROLES):
        assert not GRAPH[role] & (ROLES | {FACADE}), role


def test_session_and_shared__import__nothing_above_them():
    assert not GRAPH[SESSION] & (ROLES | {FACADE, SHARED, "computerails.cli"})
    assert not GRAPH[SHARED] & (ROLES | {FACADE, "computerails.cli"})


def test_building_blocks__import__nothing_above_the_session():
    """_rpc, tx, errors, types ... (the package's other top-level modules) are below the session."""
    above = ROLES | {FACADE, SHARED, SESSION, "computerails", "computerails.cli"}
    blocks = {name for name, path in MODULES.items() if name.count(".") == 1 and path.name != "__init__.py"} - above
    assert {"computerails._rpc", "computerails.tx", "computerails.errors", "computerails.types"} <= blocks
    for block in sorted(blocks):
        assert not GRAPH[block] & above, block


#: Run in one fresh interpreter: load the third-party libraries the package imports, then the
#: package itself (``computerails/__init__.py``), then fork once per module and import that module
#: alone in the child. As good as an interpreter per module for the package's own import order:
#: importing any ``computerails.x`` in a fresh interpreter runs the package's ``__init__`` to the
#: end first, so each child starts from the state a fresh interpreter reaches before ``x`` (and a
#: module the ``__init__`` imports is imported in the order the ``__init__`` gives, as always).
#: Without paying web3's import time (~0.8 s) and the package's (~0.15 s) 136 times over.
_IMPORT_EACH_ALONE = """
import importlib, json, os, sys, traceback
for library in sys.argv[2].split(","):
    importlib.import_module(library)
assert not [m for m in sys.modules if m.partition(".")[0] == "computerails"]
try:
    importlib.import_module("computerails")
except BaseException:
    print(json.dumps({"computerails": traceback.format_exc()[-2000:]}))
    sys.exit(0)
failures = {}
for name in sys.argv[1].split(","):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(name)
            code = 0
        except BaseException:
            os.write(write, traceback.format_exc()[-2000:].encode())
            code = 1
        os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        message = pipe.read()
    if os.waitpid(pid, 0)[1] != 0:
        failures[name] = message or "the child died"
print(json.dumps(failures))
"""


def _third_party() -> set[str]:
    """Top-level names of the libraries the package imports, that are installed."""
    names = set()
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.partition(".")[0])
    names.discard("computerails")
    return {n for n in names if n not in sys.stdlib_module_names and importlib.util.find_spec(n) is not None}


def test_each_module__imported_alone_in_a_fresh_interpreter__no_error():
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH_ALONE, ",".join(sorted(MODULES)), ",".join(sorted(_third_party()))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    failures = json.loads(result.stdout)
    assert not failures, "\n".join(f"{name}:\n{message}" for name, message in failures.items())


#: What `import computerails` must not load: each is needed by one feature only (a kept voucher
#: book, a rewards file fetched by URL, the indexer, the model), and loads when that is used.
NOT_ON_IMPORT = ("sqlalchemy", "alembic", "httpx", "numpy")


@pytest.mark.parametrize("module", ["computerails", "computerails.cli"])
def test_package_and_cli__imported__load_no_single_feature_library(module):
    """`import computerails` and the CLI's start stay light (every SDK user and every CLI call
    pays for them): the indexer alone cost the CLI about 0.3 s, SQLAlchemy the package 0.2 s."""
    probe = f"import sys, {module}; print([m for m in {NOT_ON_IMPORT!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("module", ["computerails.indexer", "computerails.oracle_node.serve"])
def test_indexer_and_oracle_node__imported__alembic_loads_only_when_an_index_opens(module):
    """Alembic runs an index's migrations when one is opened; importing the indexer does not load
    it, so an oracle node without the rewards duty (no index) starts about 0.2 s sooner."""
    probe = f"import sys, {module}; print('alembic' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "False"
