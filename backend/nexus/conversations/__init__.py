"""Conversations and runs: the questions asked, how each was answered, and the graph's memory."""
