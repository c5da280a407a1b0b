"""The routing file's YAML layer: its text as plain data (dicts, lists, `Scalar`s) with the
line of every value and key, within bounds checked before anything recurses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from services.notify.domain.config_issues import ConfigIssue, RoutingConfigError

# Bounds on the YAML tree, checked before the file is read (aliases count each time they are
# used, so an alias bomb or an alias cycle is refused too): no parse recursing without end.
MAX_NESTING = 50
MAX_NODES = 100_000

Path = tuple[str | int, ...]  # keys and list indexes from the top, as pydantic's `loc`
_YAML_TAG = "tag:yaml.org,2002:"
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Scalar:
    """A YAML scalar as written, with the type YAML 1.1 gives it (`str`, `int`, `bool`,
    `null`, `float`, ...): `0x10` stays the text `0x10` typed `int`, so the schema, not
    PyYAML, decides what it accepts."""

    text: str
    kind: str


@dataclass(slots=True)
class YamlTree:
    data: object  # dict[str, object] | list[object] | Scalar | None (an empty file)
    lines: dict[Path, int] = field(default_factory=dict)  # each value's first line
    key_lines: dict[Path, int] = field(default_factory=dict)  # each mapping key's line
    issues: list[ConfigIssue] = field(default_factory=list)  # duplicate or non-string keys


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _shape_issue(root: Node) -> ConfigIssue | None:
    """The first breach of MAX_NESTING or MAX_NODES, walking the tree (aliases expanded)
    without recursion."""
    stack: list[tuple[Node, int]] = [(root, 1)]
    seen = 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            return ConfigIssue(_line(node), f"more than {MAX_NODES} YAML nodes (aliases expanded)")
        if depth > MAX_NESTING:
            return ConfigIssue(_line(node), f"nested deeper than {MAX_NESTING} levels")
        if isinstance(node, SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                stack.extend(((key, depth + 1), (value, depth + 1)))
    return None


def _flow_depth_issue(text: str) -> ConfigIssue | None:
    """Flow collections (`[`, `{`) opened deeper than MAX_NESTING, counted on the raw text
    before YAML reads it: PyYAML's scanner takes quadratic time in that depth (2,000 `[` cost
    a second) before its composer runs out of stack."""
    depth = 0
    for index, char in enumerate(text):
        if char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                line = text.count("\n", 0, index) + 1
                return ConfigIssue(line, f"nested deeper than {MAX_NESTING} levels")
        elif char in "]}" and depth > 0:
            depth -= 1
    return None


def _compose(text: str, source: str) -> Node | None:
    """The YAML node tree; RoutingConfigError for anything that is not YAML or too deep."""
    if (issue := _flow_depth_issue(text)) is not None:
        raise RoutingConfigError(source, [issue])
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise RoutingConfigError(source, [ConfigIssue(line, f"not YAML: {exc.problem}")]) from exc
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, controls)
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character
        code = char if isinstance(char, int) else ord(char)
        issue = ConfigIssue(line, f"not YAML: character #x{code:04x}: {exc.reason}")
        raise RoutingConfigError(source, [issue]) from exc
    except yaml.YAMLError as exc:
        raise RoutingConfigError(source, [ConfigIssue(1, f"not YAML: {exc}")]) from exc
    except RecursionError:  # the YAML composer recurses per level: far beyond MAX_NESTING
        issue = ConfigIssue(1, f"nested deeper than {MAX_NESTING} levels")
        raise RoutingConfigError(source, [issue]) from None


def _plain(node: Node, path: Path, tree: YamlTree) -> object:
    """The node as plain data (recursive: only after `_shape_issue` bounded the depth)."""
    tree.lines[path] = _line(node)
    if isinstance(node, ScalarNode):
        return Scalar(str(node.value), node.tag.removeprefix(_YAML_TAG))
    if isinstance(node, SequenceNode):
        return [_plain(item, (*path, index), tree) for index, item in enumerate(node.value)]
    result: dict[str, object] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            tree.issues.append(ConfigIssue(_line(key_node), "a key must be a plain string"))
            continue
        key = str(key_node.value)
        if _SURROGATE.search(key):  # pydantic cannot read such a key (nor report it as unknown)
            tree.issues.append(ConfigIssue(_line(key_node), f"key {key!r} is not valid Unicode"))
            continue
        if key in result:
            tree.issues.append(ConfigIssue(_line(key_node), f"duplicate key {key!r}"))
            continue
        tree.key_lines[(*path, key)] = _line(key_node)
        result[key] = _plain(value_node, (*path, key), tree)
    return result


def read_yaml(text: str, source: str) -> YamlTree:
    """The text as plain data with its lines; RoutingConfigError if it is not YAML or is
    beyond the bounds."""
    root = _compose(text, source)
    if root is None:
        return YamlTree(None)
    if (issue := _shape_issue(root)) is not None:
        raise RoutingConfigError(source, [issue])
    tree = YamlTree(None)
    tree.data = _plain(root, (), tree)
    return tree
