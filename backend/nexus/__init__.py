"""Nexus: a self-hosted platform to ask questions of your own data."""

__version__ = "0.1.0"
