"""Logs, metrics, request context and error reporting."""
