"""The package rules a reader relies on: one-way dependencies and one exception base.

Dependencies run core <- exporters and core <- collector: ``onex_otel`` imports neither service
package (not even lazily, inside a function, or by a module name given to ``importlib``), and the
two service packages do not import each other. The CLI reaches the services' commands and the
publisher through entry points (``pyproject.toml``), which this test does not follow.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "onex_otel": ROOT / "src" / "onex_otel",
    "onex_exporters": ROOT / "exporters" / "onex_exporters",
    "onex_collector": ROOT / "collector" / "onex_collector",
}
#: Which packages each package must not reach.
FORBIDDEN = {
    "onex_otel": ("onex_exporters", "onex_collector"),
    "onex_exporters": ("onex_collector",),
    "onex_collector": ("onex_exporters",),
}
_DYNAMIC_IMPORTS = {"import_module", "__import__"}


def imported_names(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """``(line, module)`` of every import in ``tree``: statements anywhere and ``importlib`` calls.

    Relative imports stay inside their package and are skipped.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                yield node.lineno, node.module
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in _DYNAMIC_IMPORTS and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    yield node.lineno, first.value


def violations(package: str) -> list[str]:
    """``file:line: module`` for each import of ``package`` that reaches a forbidden package."""
    found = []
    for path in sorted(PACKAGES[package].rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, module in imported_names(tree):
            if module.split(".")[0] in FORBIDDEN[package]:
                found.append(f"{path.relative_to(ROOT)}:{line}: imports {module}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_run_one_way(package: str) -> None:
    assert violations(package) == []


def test_the_walk_sees_every_kind_of_import() -> None:
    source = (
        "import onex_collector.rows\n"
        "from onex_exporters import publish\n"
        "def f():\n"
        "    from onex_collector.migrate import migrate\n"
        "    importlib.import_module('onex_exporters.daemon')\n"
        "    __import__('onex_collector')\n"
        "from . import sibling\n"
    )
    assert list(imported_names(ast.parse(source))) == [
        (1, "onex_collector.rows"),
        (2, "onex_exporters"),
        (4, "onex_collector.migrate"),
        (5, "onex_exporters.daemon"),
        (6, "onex_collector"),
    ]


def _modules(package: str) -> Iterator[str]:
    yield package
    for info in pkgutil.walk_packages([str(PACKAGES[package])], prefix=f"{package}."):
        if not info.name.endswith(".__main__"):  # importing it runs the program
            yield info.name


#: Modules that need an optional extra this environment may lack (skipped, not failed, then).
_OPTIONAL = ("onex_exporters.bridge.receiver", "onex_exporters.bridge._http")


def test_every_exception_derives_from_the_one_base() -> None:
    from onex_otel.errors import OnexError

    classes = []
    for package in PACKAGES:
        for name in _modules(package):
            try:
                module = importlib.import_module(name)
            except ImportError:
                if name.startswith(_OPTIONAL):
                    continue
                raise
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == name and issubclass(cls, BaseException):
                    classes.append(cls)
    assert len(classes) >= 20
    strays = [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, OnexError)]
    assert strays == []


def test_the_base_is_public() -> None:
    import onex_otel
    from onex_otel.errors import OnexError

    assert onex_otel.OnexError is OnexError
    assert "OnexError" in onex_otel.__all__
