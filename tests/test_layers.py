"""Which layer may import what, where a rule is easy to break by accident."""

from __future__ import annotations

import ast
from pathlib import Path

import scim_proxy

PACKAGE = Path(scim_proxy.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """The modules ``path`` imports, relative imports resolved against the package."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


# What each layer may import from the package (docs/architecture.md, "Layers"): each knows
# only the layers below it. ``ops`` and ``directory`` are used by every layer and import
# none of them; the composition roots (cli, serving, demo, account_check) may use any.
ALLOWED = {
    "ops": set(),
    "directory": set(),
    "telemetrytv": {"ops", "directory"},
    "scim": {"ops", "directory"},
    "translation": {"ops", "directory", "scim", "telemetrytv"},
    "http": {"ops", "directory", "scim", "telemetrytv", "translation"},
    "connections": {"ops"},
    "simulator": {"ops"},
}
_TOP_LEVEL_NAMES = {"__version__"}  # scim_proxy/__init__.py's own names, not a layer


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "scim_proxy" or len(parts) < 2 or parts[1] in _TOP_LEVEL_NAMES:
        return None
    return parts[1]


def test_each_layer_imports_only_the_layers_below_it() -> None:
    offenders: dict[str, list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        own = _layer("scim_proxy." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        if own not in ALLOWED:
            continue
        wrong = sorted(
            module
            for module in imported_modules(path)
            if (layer := _layer(module)) is not None and layer != own and layer not in ALLOWED[own]
        )
        if wrong:
            offenders[str(path.relative_to(PACKAGE))] = wrong
    assert offenders == {}


# TelemetryTV's paths and field names, as the adapter spells them on the wire.
_WIRE_NAMES = ("/users", "/user-groups", "user_group_ids", "first_name", "last_name")
_WIRE_NAMES += ("Total-Records-Count", "created_at", "updated_at", "user_group_id")


def _string_constants(path: Path) -> list[str]:
    """The string literals of a module, docstrings left out (prose may name a field)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_only_the_adapter_knows_telemetrytv_paths_and_field_names() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): names
        for layer in ("http", "scim", "translation", "ops", "directory.py")
        for path in (
            [PACKAGE / layer] if layer.endswith(".py") else (PACKAGE / layer).rglob("*.py")
        )
        if (
            names := sorted(
                {name for text in _string_constants(path) for name in _WIRE_NAMES if name in text}
            )
        )
    }
    assert offenders == {}


def test_the_http_layer_carries_no_command_line_check_text() -> None:
    # scim-proxy check's findings belong to the CLI and the probe, not to the request path.
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            m
            for m in imported_modules(path)
            if m.startswith(("scim_proxy.telemetrytv.probe", "scim_proxy.cli"))
        )
        for path in (PACKAGE / "http").rglob("*.py")
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}


def test_the_account_check_leaves_telemetrytv_paths_and_fields_to_the_adapter() -> None:
    # check --write orchestrates through the adapter; what went over the wire is shown
    # from the adapter's exchange log, never spelled out here.
    # ("email", "disabled" and "password" are also plain words of its report.)
    wire_names = ('"/users', "'/users", "/user-groups", "user_group_ids", "first_name", "last_name")
    wire_names += ("Total-Records-Count", "created_at", "updated_at")
    offenders = {
        str(path.relative_to(PACKAGE)): [name for name in wire_names if name in path.read_text()]
        for path in (PACKAGE / "account_check").rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}
