"""Check specs against the Vega-Lite v5 JSON schema that altair ships, and render them with vl-convert.

The schema file is read and its Draft 7 validator compiled once, on first use (about 80 ms); a
check then costs about a millisecond. Rendering runs Vega-Lite in vl-convert's embedded JavaScript
runtime, so no browser is needed; the first render of a process starts that runtime (about 0.4 s),
later ones take tens of milliseconds.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import jsonschema  # type: ignore[import-untyped]
import vl_convert

from nexus.charts.table import scrub as scrub_text

SCHEMA_VERSION = "5.20.1"
"""The Vega-Lite schema altair 5.5 ships; specs name it in ``$schema``."""
SCHEMA_URL = f"https://vega.github.io/schema/vega-lite/v{SCHEMA_VERSION}.json"
VL_VERSION = "5.20"
"""The Vega-Lite library vl-convert renders with: the one the schema describes."""
_MESSAGE_CHARS = 300
_SAMPLE_ROWS = 3
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _map_text(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {change(key): _map_text(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_text(item, change) for item in value]
    return value


def scrub(value: Any) -> Any:
    """Return JSON data with every character XML cannot hold removed from its text.

    vl-convert measures text through SVG, and one such character in a label makes it panic and
    abort the whole process (not an exception), so none may reach it.
    """
    return _map_text(value, scrub_text)


def _drawable(text: str) -> str:
    # Vega shortens long labels a UTF-16 unit at a time, which can split an emoji's surrogate pair,
    # and vl-convert then fails on the half. Its fonts have no emoji anyway (they draw as a box),
    # so characters beyond the BMP become that box before it sees them.
    return _ASTRAL.sub("\u25a1", scrub_text(text))


class InvalidSpec(Exception):
    """A spec does not validate against the Vega-Lite schema (a bug in whoever built it)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class RenderError(Exception):
    """vl-convert could not compile or draw a spec that passed the schema."""


def _schema_path() -> Path:
    spec = importlib.util.find_spec("altair")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("altair is not installed; its Vega-Lite schema is needed to check charts")
    return (
        Path(next(iter(spec.submodule_search_locations)))
        / "vegalite"
        / "v5"
        / "schema"
        / "vega-lite-schema.json"
    )


@functools.cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(_schema_path().read_text(encoding="utf-8"))
    return schema


@functools.cache
def _validator(definition: str | None = None) -> Any:
    """Return the compiled validator for the whole schema, or for one of its top-level definitions."""
    schema = _schema()
    if definition is not None:
        schema = {"$ref": f"#/definitions/{definition}", "definitions": schema["definitions"]}
    return jsonschema.Draft7Validator(schema)


def _branch(spec: dict[str, Any]) -> str:
    """Return the top-level definition a spec means to be, for a precise error message."""
    for key, definition in (
        ("layer", "TopLevelLayerSpec"),
        ("facet", "TopLevelFacetSpec"),
        ("repeat", "TopLevelRepeatSpec"),
        ("hconcat", "TopLevelHConcatSpec"),
        ("vconcat", "TopLevelVConcatSpec"),
        ("concat", "TopLevelConcatSpec"),
    ):
        if key in spec:
            return definition
    return "TopLevelUnitSpec"


def _deepest(error: Any) -> Any:
    """Return the innermost failure among an anyOf's alternatives: the one that got furthest."""
    leaves: list[Any] = []
    stack = list(error.context or ())
    while stack:
        item = stack.pop()
        if item.context:
            stack.extend(item.context)
        else:
            leaves.append(item)
    if not leaves:
        return None
    return max(leaves, key=lambda leaf: (len(leaf.absolute_path), leaf.validator != "additionalProperties"))


def _describe(error: Any) -> InvalidSpec:
    path = "/" + "/".join(str(part) for part in error.absolute_path)
    message = str(error.message)
    if error.validator in {"anyOf", "oneOf"}:
        # The message would repeat the whole value; the closest alternative says more.
        closest = _deepest(error)
        message = "matches none of the allowed forms"
        if closest is not None:
            where = "/" + "/".join(str(part) for part in closest.absolute_path)
            message += f" (closest: {where}: {closest.message})"
    if len(message) > _MESSAGE_CHARS:
        message = message[: _MESSAGE_CHARS - 1] + "…"
    return InvalidSpec(path, message)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else "object" if isinstance(value, dict) else "other"


def _one_type(values: list[Any]) -> bool:
    """Return whether inline rows are all numbers, all text, all booleans or all objects."""
    kinds = {_json_type(value) for value in values}
    return len(kinds) == 1 and "other" not in kinds


def _sampled(value: Any) -> Any:
    """Return a spec with long inline data cut to a few rows, where the rest cannot change the verdict.

    The schema only asks inline rows to be all of one JSON type (objects are not looked into), so
    checking that here and letting the validator see three rows is the same check, and it keeps a
    5,000-row spec at milliseconds instead of a second.
    """
    if isinstance(value, list):
        return [_sampled(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: _sampled(item) if key != "values" else item for key, item in value.items()}
    rows = value.get("values")
    if isinstance(rows, list) and len(rows) > _SAMPLE_ROWS and _one_type(rows):
        out["values"] = rows[:_SAMPLE_ROWS]
    return out


def validate_spec(spec: dict[str, Any]) -> None:
    """Raise InvalidSpec with the first error's path and message unless the spec is valid Vega-Lite v5."""
    if not isinstance(spec, dict):
        raise InvalidSpec("/", "a spec must be a JSON object")
    spec = _sampled(spec)
    if _validator().is_valid(spec):
        return
    # The whole schema is an anyOf of top-level kinds, whose own error names nothing useful: the
    # branch the spec means to be says what is wrong with it.
    errors = _validator(_branch(spec)).iter_errors(spec)
    best = jsonschema.exceptions.best_match(errors) or jsonschema.exceptions.best_match(
        _validator().iter_errors(spec)
    )
    raise _describe(best)


def render(spec: dict[str, Any], fmt: Literal["png", "svg"], *, scale: float = 1.0) -> bytes:
    """Draw a valid spec as PNG or SVG bytes, with the Vega-Lite version the schema describes."""
    validate_spec(spec)
    spec = _map_text(spec, _drawable)
    try:
        if fmt == "png":
            return vl_convert.vegalite_to_png(spec, vl_version=VL_VERSION, scale=scale)
        if fmt == "svg":
            return vl_convert.vegalite_to_svg(spec, vl_version=VL_VERSION).encode("utf-8")
    except ValueError as error:
        first = str(error).strip().splitlines()
        raise RenderError(" ".join(first[:2]) if first else "the chart could not be drawn") from None
    raise ValueError(f"unknown image format {fmt!r}; use 'png' or 'svg'")
