"""The analyst's sandbox: an AST policy, RestrictedPython, and throw-away children of warm workers.

See docs/sandbox.md for the layers and what each one stops.
"""
