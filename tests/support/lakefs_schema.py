"""A JSON answer checked against lakeFS's schema as ``lakefs_sdk`` generates it from lakeFS's
``api/swagger.yml``: every required field present with its strict type, no field the schema
does not name, and no ``null`` where lakeFS leaves an optional field out."""

from __future__ import annotations

from typing import Any


def conforms(model: Any, body: Any) -> Any:
    """``body`` parsed as ``model`` (a ``lakefs_sdk.models`` class); AssertionError if not
    lakeFS's shape, recursing into nested models and lists of them."""
    assert isinstance(body, dict), body
    fields = model.__fields__
    names = {f.alias: f for f in fields.values()}
    assert set(body) <= set(names), f"{model.__name__}: unknown {sorted(set(body) - set(names))}"
    for name, field in names.items():
        if field.required:
            assert name in body, f"{model.__name__}: {name} is required"
        if name in body:
            assert body[name] is not None, f"{model.__name__}: {name} is null, lakeFS omits it"
            _nested(field.outer_type_, body[name])
    return model.parse_obj(body)


def _nested(annotation: Any, value: Any) -> None:
    fields = getattr(annotation, "__fields__", None)
    if fields is not None and isinstance(value, dict) and hasattr(annotation, "parse_obj"):
        conforms(annotation, value)
    args = getattr(annotation, "__args__", ())
    if isinstance(value, list) and args:
        for item in value:
            _nested(args[0], item)
