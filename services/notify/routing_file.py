"""Reading the routing file named by `NOTIFY_ROUTING_FILE` (refused with `file:line: reason`)."""

from __future__ import annotations

from pathlib import Path

from services.notify.domain.config import (
    ConfigIssue,
    RoutingConfig,
    RoutingConfigError,
    load_routing,
)


def load_routing_file(path: Path) -> RoutingConfig:
    """The parsed routing file; RoutingConfigError (every issue with its line) if unusable,
    including a file that cannot be read (reported at line 0)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise RoutingConfigError(str(path), [ConfigIssue(0, f"cannot read: {reason}")]) from None
    return load_routing(text, str(path))
