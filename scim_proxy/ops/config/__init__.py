"""Configuration: the settings (``sections``), how they are read (``loading``) and checked
(``validation``). Import from here; the split is for readers, not callers."""

from ..redaction import redis_url_for_logs
from .coordination import Coordination, coordination_mode
from .loading import CONFIG_ENV, ENV_PREFIX, given_settings, load_settings, naming_variables
from .sections import (
    AuthScheme,
    AuthSettings,
    Deactivation,
    GroupSettings,
    LogFormat,
    LoggingSettings,
    MetricsSettings,
    RoleSettings,
    ScimSettings,
    ServerSettings,
    Settings,
    TracingMode,
    TracingSettings,
    TransportKind,
    UpstreamSettings,
    UserSettings,
)
from .validation import MAX_REQUEST_BUDGET_SECONDS, ConfigError, validate

__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "MAX_REQUEST_BUDGET_SECONDS",
    "AuthScheme",
    "AuthSettings",
    "ConfigError",
    "Coordination",
    "Deactivation",
    "GroupSettings",
    "LogFormat",
    "LoggingSettings",
    "MetricsSettings",
    "RoleSettings",
    "ScimSettings",
    "ServerSettings",
    "Settings",
    "TracingMode",
    "TracingSettings",
    "TransportKind",
    "UpstreamSettings",
    "UserSettings",
    "coordination_mode",
    "given_settings",
    "load_settings",
    "naming_variables",
    "redis_url_for_logs",
    "validate",
]
