"""Reading the settings: a TOML file, overridden key by key by environment variables.

Every key lives in a section (``[upstream] base_url``) and can be overridden by
``SCIM_PROXY_<SECTION>_<KEY>`` (``SCIM_PROXY_UPSTREAM_BASE_URL``).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import fields
from enum import Enum
from pathlib import Path
from typing import Any, get_origin, get_type_hints

from .sections import Settings
from .validation import ConfigError, validate

ENV_PREFIX = "SCIM_PROXY_"
CONFIG_ENV = "SCIM_PROXY_CONFIG"


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the TOML file (``path``, else ``$SCIM_PROXY_CONFIG``, else none) and the environment."""
    environ = os.environ if environ is None else environ
    data = _read_file(path, environ)
    sections: dict[str, Any] = {}
    for section_field in fields(Settings):
        section_type = get_type_hints(Settings)[section_field.name]
        raw = data.pop(section_field.name, {})
        if not isinstance(raw, dict):
            raise ConfigError(f"[{section_field.name}] must be a table of keys")
        sections[section_field.name] = _section(section_field.name, section_type, raw, environ)
    if data:
        raise ConfigError(
            f"Unknown configuration section(s): {', '.join(sorted(data))}; "
            f"known sections are {', '.join(f.name for f in fields(Settings))}"
        )
    _refuse_unknown_variables(environ)
    settings = Settings(**sections)
    validate(settings)
    return settings


def _read_file(path: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> dict[str, Any]:
    """The TOML file's tables (``path``, else ``$SCIM_PROXY_CONFIG``, else none)."""
    named_by = "--config"
    if not path and environ.get(CONFIG_ENV):
        path, named_by = environ[CONFIG_ENV], CONFIG_ENV
    if not path:
        return {}
    try:
        with Path(path).open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            f"Configuration file {str(path)!r} (from {named_by}) does not exist: "
            f"fix the path, or unset {named_by}"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Configuration file {str(path)!r} is not valid TOML: {exc}") from None


def given_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The settings the file or the environment set, ``section.key`` -> where from: the
    variable's name, else ``the configuration`` (the file). Read after
    :func:`load_settings` accepted the same ones."""
    environ = os.environ if environ is None else environ
    data = _read_file(path, environ)
    given: dict[str, str] = {}
    for section_field in fields(Settings):
        raw = data.get(section_field.name, {})
        for key in (f.name for f in fields(get_type_hints(Settings)[section_field.name])):
            env_name = f"{ENV_PREFIX}{section_field.name}_{key}".upper()
            if env_name in environ:
                given[f"{section_field.name}.{key}"] = env_name
            elif isinstance(raw, dict) and key in raw:
                given[f"{section_field.name}.{key}"] = "the configuration"
    return given


def _platform_variable(name: str) -> bool:
    """Kubernetes' service-link variables (``SCIM_PROXY_METRICS_SERVICE_HOST``...)."""
    return "_SERVICE_" in name or name.endswith("_PORT") or "_PORT_" in name


def _refuse_unknown_variables(environ: Mapping[str, str]) -> None:
    """A mistyped override would be silently ignored: refuse it, as unknown file keys are."""
    # Only names shaped like an override count: Kubernetes, for one, injects
    # SCIM_PROXY_PORT and SCIM_PROXY_SERVICE_HOST for a Service named scim-proxy.
    known: set[str] = set()
    prefixes = []
    for section_field in fields(Settings):
        section_type = get_type_hints(Settings)[section_field.name]
        prefix = f"{ENV_PREFIX}{section_field.name}_".upper()
        prefixes.append(prefix)
        known |= {f"{prefix}{f.name}".upper() for f in fields(section_type)}
    unknown = sorted(
        k
        for k in environ
        if k.upper().startswith(tuple(prefixes))
        and k.upper() not in known
        and not _platform_variable(k.upper())
    )
    if unknown:
        raise ConfigError(
            f"Unknown environment variable(s) {', '.join(unknown)}: check the spelling against "
            "config.example.toml (SCIM_PROXY_<SECTION>_<KEY>)"
        )


def _section(name: str, section_type: Any, raw: dict[str, Any], environ: Mapping[str, str]) -> Any:
    hints = get_type_hints(section_type)
    known = {f.name for f in fields(section_type)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(
            f"Unknown key(s) in [{name}]: {', '.join(sorted(unknown))}; "
            f"known keys are {', '.join(sorted(known))}"
        )
    values: dict[str, Any] = {}
    for key in known:
        env_name = f"{ENV_PREFIX}{name}_{key}".upper()
        if env_name in environ:
            values[key] = _coerce(f"{env_name}", hints[key], environ[env_name], from_env=True)
            source, given = env_name, True
        elif key in raw:
            values[key] = _coerce(f"{name}.{key}", hints[key], raw[key], from_env=False)
            # An empty list written in the file is a choice; blank entries are not.
            source, given = f"{name}.{key}", raw[key] != []
        else:
            continue
        if given and not values[key] and (name, key) in _FAIL_CLOSED:
            raise ConfigError(_FAIL_CLOSED[name, key].format(source=source))
    return section_type(**values)


_FAIL_CLOSED = {
    ("auth", "allowed_token_sha256"): (
        "{source} is set but holds no digest, which would let every token through: list "
        "the digests of the tokens this deployment serves (`scim-proxy token-sha256 < "
        "token-file`; comma-separated in a variable), or unset {source} to run without an "
        "allowlist"
    ),
}
"""List settings whose emptiness turns a defence off: set, they must hold an entry. An
empty override (``SCIM_PROXY_AUTH_ALLOWED_TOKEN_SHA256=""``, a template that expanded to
nothing) would otherwise quietly replace the configured digests with none."""


def _coerce(setting: str, kind: Any, value: Any, *, from_env: bool) -> Any:
    origin = get_origin(kind)
    if origin is list or origin is tuple:
        # Only lists of strings exist; a tuple field keeps the frozen settings hashable.
        return origin(_strings(setting, value, from_env=from_env))
    if isinstance(kind, type) and issubclass(kind, Enum):
        choices = ", ".join(str(m.value) for m in kind)
        try:
            return kind(str(value).strip().lower())
        except ValueError:
            raise ConfigError(f"{setting} = {value!r} is not valid: use one of {choices}") from None
    if kind is bool:
        if isinstance(value, bool):
            return value
        if from_env and str(value).strip().lower() in ("1", "true", "yes", "on"):
            return True
        if from_env and str(value).strip().lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{setting} = {value!r} is not valid: use true or false")
    if kind is int or kind is float:
        what = "a whole number" if kind is int else "a number of seconds"
        if isinstance(value, int | float) and not isinstance(value, bool):
            if kind is int and not isinstance(value, int):
                raise ConfigError(f"{setting} = {value!r} is not valid: use {what}")
            return kind(value)
        if from_env:
            try:
                return kind(str(value).strip())
            except ValueError:
                pass
        raise ConfigError(f"{setting} = {value!r} is not valid: use {what}")
    if not isinstance(value, str):
        raise ConfigError(f"{setting} = {value!r} is not valid: use a string")
    return value


def _strings(setting: str, value: Any, *, from_env: bool) -> list[str]:
    """A list of strings: a TOML array, or a comma-separated environment variable."""
    if from_env and isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    raise ConfigError(
        f"{setting} is not valid: use a list of strings "
        "(in an environment variable: comma-separated)"
    )


_SETTING_NAME = re.compile(r"\b([a-z]+)\.([a-z_]+)\b")


def naming_variables(message: str, environ: Mapping[str, str] | None = None) -> str:
    """``message`` about ``section.key`` settings, naming the variables that set them.

    Validation sees only values, not where they came from; an operator who set
    ``SCIM_PROXY_SCIM_MAX_COUNT`` should not have to work out that ``scim.max_count`` is it.
    """
    environ = os.environ if environ is None else environ
    known = {
        f.name: {k.name for k in fields(get_type_hints(Settings)[f.name])} for f in fields(Settings)
    }
    variables = []
    for section, key in _SETTING_NAME.findall(message):
        name = f"{ENV_PREFIX}{section}_{key}".upper()
        if key in known.get(section, ()) and name in environ and name not in variables:
            variables.append(name)
    if not variables:
        return message
    return f"{message} (set by {', '.join(variables)})"
