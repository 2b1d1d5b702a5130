"""The compiled dump plans (``greenshield.dumping``) give what marshmallow gives, and every route's response
schema goes through them. (The whole suite also checks each response it dumps: tests/conftest.py.)"""
from __future__ import annotations

import datetime as dt
import enum

import pytest
from marshmallow import Schema, fields, post_dump

from greenshield.dumping import Out, plan


class Colour(enum.Enum):
    RED = "red"


class Inner(Out):
    at = fields.DateTime()
    on = fields.Date()
    n = fields.Integer()


class Sample(Out):
    name = fields.String()
    code = fields.String(attribute="outlet.code")
    renamed = fields.Integer(data_key="renamedKey", attribute="source")
    ratio = fields.Float()
    flag = fields.Boolean()
    flag_text = fields.Boolean()
    data = fields.Dict()
    tags = fields.List(fields.String())
    when = fields.List(fields.DateTime())
    inner = fields.Nested(Inner, allow_none=True)
    inners = fields.List(fields.Nested(Inner))
    many_inner = fields.Nested(Inner, many=True)
    colour = fields.Enum(Colour)
    computed = fields.Function(lambda obj: f"<{obj['name'] if isinstance(obj, dict) else obj.name}>")
    formatted = fields.DateTime(format="%Y年%m月%d日")
    stamp = fields.DateTime(format="timestamp")


class Outlet:
    code = "NM-0001"


AT = dt.datetime(2026, 3, 2, 8, 30, 15, 120000, tzinfo=dt.timezone(dt.timedelta(hours=8)))
FULL = {"name": "张三", "outlet": {"code": "NM-0001"}, "source": "7", "ratio": 1, "flag": 1, "flag_text": "false",
        "data": {"b": 1, "a": [2]}, "tags": ["a", 3], "when": [AT], "inner": {"at": AT, "on": AT.date(), "n": 2.0},
        "inners": [{"at": None, "on": None, "n": None}, {}], "many_inner": [{"n": "4"}], "colour": Colour.RED,
        "formatted": AT, "stamp": AT}


@pytest.mark.parametrize("obj", [
    FULL,
    {"name": "李四"},                                              # most keys missing: left out, as marshmallow does
    {**{k: None for k in FULL}, "name": "王五"},                   # None kept for every field
    type("Row", (), {**FULL, "outlet": Outlet()})(),                # attributes instead of keys
    {"name": 5, "outlet": None, "flag": "yes", "ratio": "0.5"},    # values converted as the fields would
], ids=["full", "sparse", "nones", "object", "converted"])
def test_a_plan_dumps_what_marshmallow_dumps(obj):
    schema = Sample()
    assert plan(schema) is not None
    expected = Schema.dump(schema, obj)
    got = schema.dump(obj)
    assert got == expected
    assert list(got) == list(expected)


def test_many_and_empty_lists():
    schema = Sample(many=True)
    objs = [FULL, {"name": "x"}]
    assert schema.dump(objs) == Schema.dump(schema, objs)
    assert Sample().dump([], many=True) == []


def test_schemas_the_plan_does_not_copy_are_dumped_by_marshmallow():
    class Hooked(Out):
        name = fields.String()

        @post_dump
        def upper(self, data, **_):
            return {k: v.upper() for k, v in data.items()}

    class Defaulted(Out):
        name = fields.String(dump_default="无")

    assert plan(Hooked()) is None and Hooked().dump({"name": "abc"}) == {"name": "ABC"}
    assert plan(Defaulted()) is None and Defaulted().dump({}) == {"name": "无"}
    assert plan(Sample(only=("name",))) is None and Sample(only=("name",)).dump(FULL) == {"name": "张三"}


def test_a_nested_schema_with_only_is_dumped_by_its_field():
    class Parent(Out):
        inner = fields.Nested(Inner, only=("n",))

    assert Parent().dump({"inner": {"n": 3, "at": AT}}) == {"inner": {"n": 3}}


def test_the_plan_is_faster_than_marshmallow():
    """Not a timing test: the plan must do less work per object, counted in Python calls."""
    import cProfile
    import pstats

    objs = [FULL] * 200
    counts = []
    fast = getattr(Out.dump, "__wrapped__", Out.dump)  # without the suite's comparison with marshmallow

    def marshmallow():  # all the way down: a nested Out would otherwise dump through its plan
        Out.dump = Schema.dump
        try:
            return Schema.dump(Sample(many=True), objs)
        finally:
            Out.dump = current

    current = Out.dump
    for dump in (marshmallow, lambda: fast(Sample(many=True), objs)):
        dump()  # compile the plan before counting
        profile = cProfile.Profile()
        profile.runcall(dump)
        counts.append(pstats.Stats(profile).total_calls)
    assert counts[1] * 3 < counts[0], counts


def test_every_route_dumps_through_a_plan(app):
    """A response schema that is not an ``Out`` would bypass the plans (and this check of them)."""
    plain = []
    for endpoint, view in app.view_functions.items():
        for responses in getattr(view, "_apidoc", {}).get("response", {}).get("responses", {}).values():
            for doc in responses:
                schema = doc.get("schema") if isinstance(doc, dict) else None  # else an error response's name
                if schema is None or isinstance(schema, dict):  # none, or a file (an OpenAPI type)
                    continue
                schema = schema if isinstance(schema, Schema) else schema()
                if not isinstance(schema, Out):
                    plain.append(f"{endpoint}: {type(schema).__name__}")
    assert not plain, plain


def test_json_responses_say_what_the_standard_provider_says(app):
    """orjson writes the body; the document is the one Flask's own provider writes (UTF-8 instead of escapes)."""
    import decimal
    import json
    import uuid
    from dataclasses import dataclass

    from flask.json.provider import DefaultJSONProvider
    from flask_babel import lazy_gettext

    from greenshield.jsonprovider import FastJSONProvider

    @dataclass
    class Point:
        x: int
        label: str

    value = {"张三": [1, 2.5, None, True], "b": dt.datetime(2026, 3, 2, 8, 30, tzinfo=dt.timezone.utc),
             "a": dt.date(2026, 3, 2), "ints": {2: "乙", 1: "甲"}, "d": decimal.Decimal("1.10"), "u": uuid.UUID(int=5), "p": Point(1, "甲"),
             "lazy": lazy_gettext("绿盾"), "nested": {"z": 1, "y": {"x": [Colour.RED.value]}}}
    assert isinstance(app.json, FastJSONProvider)
    with app.test_request_context():
        fast = app.json.response(value)
        standard = DefaultJSONProvider(app).response(value)
    assert fast.mimetype == standard.mimetype == "application/json"
    assert json.loads(fast.get_data()) == json.loads(standard.get_data())
    assert "张三".encode() in fast.get_data()  # not \\u5f20\\u4e09
    assert list(json.loads(fast.get_data())) == sorted(["张三", "b", "a", "ints", "d", "u", "p", "lazy", "nested"])
    with app.test_request_context():
        big = app.json.response({"n": 2**70})  # over 64 bits: the standard way
    assert json.loads(big.get_data()) == {"n": 2**70}
