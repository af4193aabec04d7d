"""Problems a code run can end in, each a problem+json answer."""

from __future__ import annotations

from nexus.errors import NexusError


class CodeRejected(NexusError):
    """The code broke the sandbox policy, before it ran (``rule``, ``line``) or while it ran."""

    status = 400
    type_slug = "code-rejected"


class CodeFailed(NexusError):
    """The code ran and raised an error, or left a ``result`` that cannot be returned."""

    status = 422
    type_slug = "code-error"


class SandboxTimeout(NexusError):
    """The code ran past its wall-clock or CPU-time limit and was stopped."""

    status = 408
    type_slug = "sandbox-timeout"


class SandboxMemoryExceeded(NexusError):
    """The code asked for more memory than its limit."""

    status = 413
    type_slug = "sandbox-memory"


class SandboxOutputTooLarge(NexusError):
    """The result, as JSON, is larger than its limit."""

    status = 413
    type_slug = "sandbox-output-too-large"


class SandboxInputTooLarge(NexusError):
    """A table has more rows than the sandbox takes."""

    status = 413
    type_slug = "sandbox-input-too-large"


class SandboxCrashed(NexusError):
    """The run's process died without answering."""

    status = 500
    type_slug = "sandbox-crashed"


class SandboxBusy(NexusError):
    """Every sandbox worker stayed busy for as long as a run may take."""

    status = 503
    type_slug = "sandbox-busy"
