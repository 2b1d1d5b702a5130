"""Dump as marshmallow does, faster: each output schema's fields turned once into a plan of plain functions.

``Schema.dump`` walks every field of every object through several layers of calls (``serialize``,
``get_value``, ``_serialize``, the nested schema's ``dump`` with its hooks and options); for the long lists of
a trace (each chain with its versions, X-ray events and timeline) that was a quarter of a request. ``Out`` is
the base of the response schemas: its ``dump`` runs a plan compiled from the schema's own fields the first time
it is used, so the schema stays the one home of the response's shape (and of its OpenAPI document), and the
output is the same as marshmallow's: the same keys, in the same order, missing values left out, ``None`` kept,
every value converted as the field would (the test suite compares the two on every response it dumps).

Plain field types (String, Integer, Float, Boolean, DateTime and Date in ISO format, Dict without inner
fields, Function, List, Nested without ``only``/``exclude``) are converted inline; any other field falls back to
its own ``_serialize``. A schema with dump hooks (``pre_dump``, ``post_dump``), ``only`` or ``exclude``, a custom
accessor or a field with ``dump_default`` falls back to marshmallow as a whole.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields, missing

Plan = Callable[[Any], Any]

_MISSING = missing


def _get(obj: Any, key: str) -> Any:
    """``marshmallow.utils._get_value_for_key`` without its layers."""
    if isinstance(obj, dict):
        return obj.get(key, _MISSING)
    if not hasattr(obj, "__getitem__"):
        return getattr(obj, key, _MISSING)
    try:
        return obj[key]
    except (KeyError, IndexError, TypeError, AttributeError):
        return getattr(obj, key, _MISSING)


def _dotted(path: str) -> Callable[[Any], Any]:
    """The value at a dotted attribute (``outlet.code``), as marshmallow reads it."""
    parts = path.split(".")

    def dotted(obj: Any) -> Any:
        for part in parts:
            obj = _get(obj, part)
            if obj is _MISSING:
                return _MISSING
        return obj
    return dotted


def _inline(field: fields.Field) -> str | None:
    """The conversion of a plain field as an expression of ``v`` (written into the plans as it is), or None."""
    kind = type(field)
    if kind is fields.String:
        return "v if v is None or v.__class__ is str else str(v)"
    if kind is fields.Integer and not field.as_string:
        return "v if v is None or v.__class__ is int else int(v)"
    if kind is fields.Float and not field.as_string:
        return "v if v is None or v.__class__ is float else float(v)"
    if kind._serialize is fields.Field._serialize:  # Boolean, Raw: the value as it is
        return "v"
    return None


def _formatted(field: fields.DateTime | fields.Date) -> Callable[[Any], Any]:
    format_ = field.SERIALIZATION_FUNCS[field.format or field.DEFAULT_FORMAT]
    return lambda value: None if value is None else format_(value)


def _mapping(value: Any) -> Any:
    return None if value is None else dict(value)


def _converter(field: fields.Field) -> Callable[[Any], Any] | None:
    """A function of the value alone for the plain field types; None when the field must convert itself."""
    expression = _inline(field)
    if expression is not None:
        return eval(f"lambda v: {expression}")  # noqa: S307 - one of _inline's own expressions
    kind = type(field)
    if kind in (fields.DateTime, fields.Date) and (field.format or field.DEFAULT_FORMAT) in field.SERIALIZATION_FUNCS:
        return _formatted(field)
    if kind is fields.Dict and field.key_field is None and field.value_field is None:
        return _mapping
    if kind is fields.Nested and not field.only and not field.exclude:
        inner = plan(field.schema)
        many = field.schema.many or field.many
        if inner is None:
            return None
        return (lambda value: None if value is None else [inner(each) for each in value]) if many else \
            (lambda value: None if value is None else inner(value))
    if kind is fields.List:
        inner = _converter(field.inner)
        if inner is None:
            return None
        return lambda value: None if value is None else [inner(each) for each in value]
    return None


def _lines(index: int, name: str, field: fields.Field, env: dict) -> list[str]:
    """Source lines for one field: read the value, convert it, set it under its data key (or leave it out)."""
    key = field.data_key if field.data_key is not None else name
    attribute = field.attribute or name
    env[f"F{index}"] = field
    if isinstance(field, fields.Function | fields.Method) or not field._CHECK_ATTRIBUTE:
        return [f"v = F{index}._serialize(None, {attribute!r}, obj)",
                f"if v is not M: out[{key!r}] = v"]
    if "." in attribute:
        env[f"G{index}"] = _dotted(attribute)
        read = f"v = G{index}(obj)"
    else:
        read = f"v = get({attribute!r}, M)"
    value = _inline(field)
    if value is None:
        convert = _converter(field)
        if convert is None:
            value = f"F{index}._serialize(v, {attribute!r}, obj)"
        else:
            env[f"C{index}"] = convert
            value = f"C{index}(v)"
    return [read, f"if v is not M: out[{key!r}] = {value}"]


def _compile(schema: Schema) -> Plan:
    env: dict[str, Any] = {"M": _MISSING, "_get": _get}
    body = [line for i, (name, field) in enumerate(schema.dump_fields.items()) for line in _lines(i, name, field, env)]
    source = "\n".join([
        "def dump(obj):",
        "    out = {}",
        "    get = obj.get if obj.__class__ is dict else (lambda key, default: _get(obj, key))",
        *(f"    {line}" for line in body),
        "    return out"])
    exec(compile(source, f"<dump plan of {type(schema).__name__}>", "exec"), env)  # noqa: S102 - our own source
    return env["dump"]


def _marshmallow_only(schema: Schema) -> bool:
    """What the plan does not copy: dump hooks, a custom accessor or dict class, dump defaults."""
    return bool(schema._hooks.get("pre_dump") or schema._hooks.get("post_dump")
                or type(schema).get_attribute is not Schema.get_attribute or schema.dict_class is not dict
                or any(f.dump_default is not _MISSING for f in schema.dump_fields.values()))


_PLANS: dict[tuple, Plan | None] = {}


def plan(schema: Schema) -> Plan | None:
    """The plan of a schema (for one object), or None when only marshmallow can dump it. Compiled once per
    schema class and set of load-only fields (``only`` and ``exclude`` fall back to marshmallow)."""
    if schema.only or schema.exclude:
        return None
    key = (type(schema), frozenset(schema.load_only))
    if key not in _PLANS:
        _PLANS[key] = None if _marshmallow_only(schema) else _compile(schema)
    return _PLANS[key]


class Out(Schema):
    """Base of response schemas: ``dump`` by the compiled plan (same output as ``Schema.dump``)."""

    def dump(self, obj: Any, *, many: bool | None = None):
        one = plan(self)
        if one is None:
            return super().dump(obj, many=many)
        many = self.many if many is None else bool(many)
        if many:
            return [one(each) for each in obj] if obj is not None else one(obj)
        return one(obj)
