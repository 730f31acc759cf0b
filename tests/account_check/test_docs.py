"""The docs name every write item and every deviation the code has."""

from __future__ import annotations

from pathlib import Path

from scim_proxy.account_check.step_texts import ITEMS
from scim_proxy.simulator.deviations import DEVIATIONS

DOCS = Path(__file__).parents[2] / "docs"


def test_operations_lists_every_write_item_in_order() -> None:
    text = (DOCS / "operations.md").read_text()
    rows = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    listed = [row for row in rows if row in ITEMS]
    assert listed == list(ITEMS)


def test_the_docs_name_every_deviation() -> None:
    contract = (DOCS / "telemetrytv-api.md").read_text()
    operations = (DOCS / "operations.md").read_text()
    for name in DEVIATIONS:
        assert f"| `{name}` |" in contract
        assert f"`{name}`" in operations
