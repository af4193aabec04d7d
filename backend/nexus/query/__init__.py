"""The query engine: questions and SQL over a user's datasets (see docs/query.md)."""
