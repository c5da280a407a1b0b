"""A routing file's problems, each with the line it is about (`file:line: reason`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    line: int  # 1-based; 0 when the file could not be read at all
    message: str


class RoutingConfigError(ValueError):
    """A routing file that cannot be used; ``issues`` lists every problem with its line."""

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = sorted(issues, key=lambda i: i.line)
        super().__init__("\n".join(f"{source}:{i.line}: {i.message}" for i in self.issues))
