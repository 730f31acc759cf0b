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
