"""Agents that join the orchestrator by registering in ``nexus.graph.registry``."""
