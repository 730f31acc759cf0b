"""config.example.toml documents every setting, with the defaults the code has."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from scim_proxy.ops.config import Settings, load_settings

EXAMPLE = Path(__file__).parents[2] / "config.example.toml"


def test_the_example_loads_to_the_defaults() -> None:
    assert load_settings(EXAMPLE, environ={}) == Settings()


def test_the_example_names_every_key_of_every_section() -> None:
    document = tomllib.loads(EXAMPLE.read_text())
    for section in dataclasses.fields(Settings):
        declared = {f.name for f in dataclasses.fields(getattr(Settings(), section.name))}
        assert set(document[section.name]) == declared, section.name
