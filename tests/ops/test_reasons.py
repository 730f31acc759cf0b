"""One table of ``reason`` codes: the code's list, docs/logging.md and the code that uses
them agree (a refused request's event always carries one: tests/e2e/test_error_reasons.py
and the hostile fuzz run check that at run time, mypy at every construction site)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import scim_proxy
from scim_proxy.ops.reasons import REASONS

PACKAGE = Path(scim_proxy.__file__).parent
LOGGING_DOC = PACKAGE.parent / "docs" / "logging.md"
OPERATIONS_DOC = PACKAGE.parent / "docs" / "operations.md"


def documented() -> list[str]:
    """The codes of docs/logging.md's reason table, in order."""
    section = LOGGING_DOC.read_text().split("### `reason` codes", 1)[1]
    rows = re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", section, re.MULTILINE)
    return [code for code, _ in rows]


def test_the_documented_table_is_the_list_of_codes() -> None:
    assert documented() == list(REASONS)
    assert len(set(REASONS)) == len(REASONS)


def test_every_code_is_used_by_the_proxy() -> None:
    # A code nothing raises is a row an operator looks for in vain.
    literals: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name == "reasons.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                literals.add(node.value)
    assert [code for code in REASONS if code not in literals] == []


def test_the_operations_guide_names_only_codes_of_the_table() -> None:
    section = OPERATIONS_DOC.read_text().split("## Reading the logs", 1)[1].split("\n## ", 1)[0]
    # The first cell of each row: "401, `token_not_allowed` (and an `auth_refused` event...)";
    # what is in parentheses names events, not reasons.
    cells = [re.sub(r"\(.*?\)", "", c) for c in re.findall(r"^\| (\d{3}[^|]*)\|", section, re.M)]
    named = {code for cell in cells for code in re.findall(r"`([a-z]+(?:_[a-z]+)+)`", cell)}
    assert named, "the operations guide's table of reasons is missing"
    assert named - set(REASONS) == set()
