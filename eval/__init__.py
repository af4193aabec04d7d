"""Evaluation harness: question sets in, accuracy and latency out (``python -m eval``)."""
