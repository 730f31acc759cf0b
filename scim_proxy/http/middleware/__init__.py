"""ASGI middleware of the HTTP surface, one per module."""
