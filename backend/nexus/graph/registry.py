"""The agents the orchestrator can route to: each later agent is one module that registers itself.

An agent takes the run's state and its dependencies and returns the state updates it made: at
least ``answer`` and ``status``, and whatever shows its work (``plan``, ``sql``, ``result``...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nexus.graph.state import Deps, RunState

AgentFn = Callable[[RunState, Deps], dict[str, Any]]

# Every route the router knows, whether or not its agent has arrived yet (issues 6-8 add theirs).
ROUTES = ("sql", "analyst", "visualiser", "timeseries", "retrieval")


@dataclass(frozen=True)
class Agent:
    """A registered agent."""

    name: str
    description: str
    run: AgentFn


AGENTS: dict[str, Agent] = {}


def register(name: str, description: str) -> Callable[[AgentFn], AgentFn]:
    """Register an agent under one of ROUTES."""
    if name not in ROUTES:
        raise ValueError(f"unknown route {name!r}; add it to ROUTES first")

    def decorate(fn: AgentFn) -> AgentFn:
        AGENTS[name] = Agent(name=name, description=description, run=fn)
        return fn

    return decorate
