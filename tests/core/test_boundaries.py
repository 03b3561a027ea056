"""The two hard boundaries: `app.core` imports neither Textual nor openai (nor the UI or agent
packages), and `sandbox` imports nothing of `app`. Checked three ways: import-linter's contracts,
our own walk over every import statement (including ones inside functions), and what really
lands in `sys.modules` when the core is imported."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            out.add(node.args[0].value)
    return out


def offenders(package: Path, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for py in sorted(package.rglob("*.py")):
        for mod in imports_of(py):
            if any(mod == f or mod.startswith(f + ".") for f in forbidden):
                bad.append(f"{py.relative_to(ROOT)} imports {mod}")
    return bad


def test_core_imports_no_screen_and_no_vendor() -> None:
    assert offenders(ROOT / "app" / "core", ("textual", "openai", "app.ui", "app.agent")) == []


def test_sandbox_imports_nothing_of_app() -> None:
    assert offenders(ROOT / "sandbox", ("app", "textual", "openai")) == []


def test_importing_the_core_loads_neither_textual_nor_openai() -> None:
    code = (
        "import sys, app.core.pipeline, app.core.audit, app.core.verify, app.core.resume;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'openai'));"
        "print(','.join(bad))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_import_linter_contracts_are_kept() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    tool = str(exe) if exe.exists() else shutil.which("lint-imports")
    if tool is None:
        pytest.skip("import-linter is not installed")
    r = subprocess.run([tool, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


def test_no_import_circle_anywhere_in_app() -> None:
    """#20: import-linter's acyclic contract compares siblings; this also catches a package and
    one of its own modules importing each other (imports inside functions and under
    TYPE_CHECKING count: they are dependencies all the same)."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("app", include_external_packages=False)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert circles == []
