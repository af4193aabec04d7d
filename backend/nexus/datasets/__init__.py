"""Datasets: uploads sniffed, typed, profiled and stored in DuckDB as immutable versions."""
