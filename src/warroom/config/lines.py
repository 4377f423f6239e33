"""Where each key of a YAML document is, so that errors can name its line."""

from __future__ import annotations

from typing import Any

import yaml

# Ends a path whose line is that of the key itself, not of its value (a misspelt key).
KEY = object()


def line_index(node: yaml.Node | None) -> dict[tuple[Any, ...], int]:
    """Map each key path in the YAML document to its 1-based line number.

    A path gives the line where its value starts; the same path followed by `KEY` gives the
    line of the key.
    """
    index: dict[tuple[Any, ...], int] = {}

    def walk(current: yaml.Node, path: tuple[Any, ...]) -> None:
        index[path] = current.start_mark.line + 1
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                key = key_node.value
                index[(*path, key)] = key_node.start_mark.line + 1
                index[(*path, key, KEY)] = key_node.start_mark.line + 1
                walk(value_node, (*path, key))
        elif isinstance(current, yaml.SequenceNode):
            for position, item in enumerate(current.value):
                walk(item, (*path, position))

    if node is not None:
        walk(node, ())
    return index


def nearest_line(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int:
    """Return the line of the deepest part of `loc` that exists in the document."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1
