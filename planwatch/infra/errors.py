"""Named errors of the local infrastructure manager."""

from __future__ import annotations


class InfraError(RuntimeError):
    """Base class: the local infrastructure could not be built, started, reached or stopped."""


class ToolMissingError(InfraError):
    """A required program (java, mvn, go) is not installed or not on PATH."""


class BuildError(InfraError):
    """Building a server artefact (Kafka jars, FerretDB binary) failed."""


class PortTakenError(InfraError):
    """A port we need is held by a process that this manager did not start."""


class StartupError(InfraError):
    """A server did not become ready in time, or exited while starting."""


class UnreachableError(InfraError):
    """An external (environment-configured) server does not answer."""
