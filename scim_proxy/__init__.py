"""scim-proxy: a thin, stateless SCIM 2.0 gateway from Okta and Entra ID to TelemetryTV."""

__version__ = "0.1.0"
__all__ = ["__version__"]
