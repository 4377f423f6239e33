"""The keys warroom.yaml may hold at each place, so that a misspelt one can name the right one."""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

# Top-level keys starting with this are ignored: they hold YAML anchors (`x-weekly: &weekly`).
EXTENSION_PREFIX = "x-"


def unknown_key(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """Say that the key at `loc` is not known there, with the nearest known key if any."""
    key, keys = str(loc[-1]), known_keys(model, loc[:-1])
    what = "section" if len(loc) == 1 else "field"
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    if close:
        return f"unknown {what} {key!r} — did you mean {close[0]!r}?"
    if len(loc) == 1:  # perhaps a block kept for YAML anchors: say how to keep it
        return (
            f"unknown section {key!r}; known: {', '.join(keys)} "
            f"(a block that only holds YAML anchors may be named x-{key})"
        )
    if keys:
        return f"unknown {what} {key!r}; known: {', '.join(keys)}"
    return f"unknown {what} {key!r}"


def known_keys(model: type[BaseModel], path: tuple[Any, ...]) -> list[str]:
    """Return the keys the mapping at `path` below `model` may hold ([] if unknown)."""
    annotations: list[Any] = [model]
    for part in path:
        annotations = [child for annotation in annotations for child in _below(annotation, part)]
    return sorted(
        {
            info.alias or name
            for annotation in annotations
            for found in _models(annotation)
            for name, info in found.model_fields.items()
        }
    )


def _below(annotation: Any, part: Any) -> list[Any]:
    """Return the annotations one step (`part`: a key or an index) below a value of this one."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _below(args[0], part)
    if origin in (Union, types.UnionType):
        return [child for arg in args for child in _below(arg, part)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [
            info.annotation
            for name, info in annotation.model_fields.items()
            if part in (name, info.alias)
        ]
    if origin is list and isinstance(part, int):
        return [args[0]]
    if origin is dict:
        return [args[1]]
    return []


def _models(annotation: Any) -> list[type[BaseModel]]:
    """Return the models a value of this annotation can be."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _models(args[0])
    if origin in (Union, types.UnionType):
        return [found for arg in args for found in _models(arg)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []
