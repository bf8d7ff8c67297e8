"""Hypothesis strategies for what arrives from outside: text meant to turn into markup, any JSON value, and hook
requests, FHIR entries and feedback built from the schemas and then bent at any point into another JSON type."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from marshmallow import Schema, fields

PAYLOADS = (
    "<img src=x onerror=alert(1)>",
    "**BOLD**",
    "[click](https://evil.example/)",
    "![x](https://evil.example/x.png)",
    "<script>alert(1)</script>",
    "<https://evil.example>",
    "https://evil.example/path",
    "www.evil.example",
    "evil.com",
    "mail@evil.example",
    "//localhost/x",
    "`code` and ``more``",
    "&lt;b&gt; &#60;i&#62; &amp;",
    "\n\n# Heading\n\n- item\n1. item\n> quote\n\n    indented code\n",
    "| a | b |\n|---|---|",
    "~~gone~~ _em_ __strong__",
    "{onclick=alert(1)}",
    "\u202eevil\u202c\x00\x07",
    "[ref]: https://evil.example/\n[ref]",
)
"""What the outside test sent, and its relatives: HTML, emphasis, links of every kind, blocks and escapes."""

_ALPHABET = "<>&\"'`*_[]()!#|~=+-.:/@\\{}$^%;?, \n\r\t\x00\u00a0\u2028\u202e0123456789xyzXYZ"

hostile_text = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(alphabet=_ALPHABET, max_size=40),
    st.lists(st.one_of(st.sampled_from(PAYLOADS), st.text(alphabet=_ALPHABET, max_size=12)), max_size=4).map(
        " ".join
    ),
)
"""Text made of markup: what an EHR's free-text field may hold. Its only letters (x, y, z) name no drug."""

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
"""Any JSON value a decoder can give."""


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def bent(draw: st.DrawFn, document: Any, *, keep: Callable[[tuple[Any, ...]], bool] = lambda path: True) -> Any:
    """``document`` (a copy) with the value at one or two of its paths replaced by any JSON value: a string where
    an object belongs, a list where a code belongs. ``keep`` leaves out paths that must stay as they are."""
    result = copy.deepcopy(document)
    paths = [path for path in _paths(result) if path and keep(path)]
    for _ in range(draw(st.integers(min_value=1, max_value=2))):
        path = draw(st.sampled_from(paths))
        target = result
        try:
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = draw(json_values)
        except (KeyError, IndexError, TypeError):  # the path went away with an earlier replacement
            continue
    return result


def _field(field: fields.Field) -> st.SearchStrategy[Any]:
    if isinstance(field, fields.Nested):
        schema = field.schema
        strategy = from_schema(schema)
        return st.lists(strategy, min_size=1, max_size=3) if field.many else strategy
    if isinstance(field, fields.List):
        return st.lists(_field(field.inner), min_size=1, max_size=3)
    if isinstance(field, fields.Url):
        return st.sampled_from(["https://ehr.example.org/fhir", "http://127.0.0.1:9/fhir"])
    if isinstance(field, fields.Integer):
        return st.integers(min_value=0, max_value=10**6)
    if isinstance(field, fields.Str):
        return st.one_of(st.text(min_size=1, max_size=30), hostile_text.filter(bool))
    return json_values


def from_schema(schema: Schema) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the schema's fields: required ones always, the others sometimes, each of its type (nested
    schemas and lists followed). Values the schema refuses come from ``bent``."""
    required = {name: _field(field) for name, field in schema.fields.items() if field.required}
    optional = {name: _field(field) for name, field in schema.fields.items() if not field.required}
    return st.fixed_dictionaries(required, optional=optional)
