"""What a response's body costs: marshmallow's ``Schema.dump`` against the compiled plans of
``greenshield.dumping``, and the standard library's JSON against orjson (``greenshield.jsonprovider``).

    python benchmarks/dump_bench.py [--results 100] [--rows 2000] [--repeat 30]

Two bodies of realistic shape, built from the response schemas themselves (every field filled, as a case's
investigator sees them): a trace of ``--results`` chains (each with two versions, an X-ray event with its
review and three timeline steps; ``TraceOut``) and the league table of ``--rows`` outlets
(``SummaryRowOut(many=True)``). Each step is run ``--repeat`` times after one untimed run (the plans are
compiled then); prints the median milliseconds per body and checks that both ways give the same document.
Figures, not tests.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_facts, print_table  # noqa: E402

AT = dt.datetime(2026, 3, 2, 8, 30, 15, tzinfo=dt.timezone.utc)


def filled(schema, n: int = 0) -> dict:
    """One object with every field of ``schema`` filled (nested schemas too), varied by ``n``."""
    from marshmallow import fields

    out: dict = {}
    for name, field in schema.dump_fields.items():
        key = field.attribute or name
        if isinstance(field, fields.Function | fields.Method):
            continue
        if isinstance(field, fields.Nested):
            inner = filled(field.schema, n)
            value = [inner, filled(field.schema, n + 1)] if field.many else inner
        elif isinstance(field, fields.List):
            value = [filled(field.inner.schema, n + i) for i in range(2)] \
                if isinstance(field.inner, fields.Nested) else [f"项目{n}"]
        elif isinstance(field, fields.DateTime):
            value = AT + dt.timedelta(minutes=n)
        elif isinstance(field, fields.Date):
            value = AT.date()
        elif isinstance(field, fields.Integer):
            value = n
        elif isinstance(field, fields.Float):
            value = n / 7
        elif isinstance(field, fields.Boolean):
            value = n % 2 == 0
        elif isinstance(field, fields.Dict):
            value = {"batch_id": n, "row": n + 1}
        else:
            value = f"内蒙古 {name} {n}"
        if "." in key:
            head, rest = key.split(".", 1)
            out.setdefault(head, {})[rest] = value
        else:
            out[key] = value
    return out


def median_ms(step, repeat: int) -> float:
    step()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=100)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    import orjson
    from marshmallow import Schema

    from greenshield.compliance.schemas import SummaryRowOut
    from greenshield.dumping import Out
    from greenshield.trace.schemas import ChainOut, TraceOut

    print_facts({"results": args.results, "rows": args.rows, "repeat": args.repeat})
    chain_schema = ChainOut()
    trace = {"count": args.results, "truncated": False, "case_no": "公(2026)001", "query_type": "sender_id",
             "results": [filled(chain_schema, i) for i in range(args.results)]}
    league_schema = SummaryRowOut(many=True)
    league = [filled(SummaryRowOut(), i) for i in range(args.rows)]
    options = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
    fast_dump = getattr(Out.dump, "__wrapped__", Out.dump)

    def marshmallow_dump(schema, body):
        """marshmallow all the way down: nested schemas would otherwise dump through their own plans."""
        Out.dump = Schema.dump
        try:
            return Schema.dump(schema, body)
        finally:
            Out.dump = fast_dump

    table = []
    for label, schema, body in ((f"trace, {args.results} chains", TraceOut(), trace),
                                (f"league table, {args.rows} outlets", league_schema, league)):
        slow, fast = marshmallow_dump(schema, body), fast_dump(schema, body)
        assert slow == fast, f"{label}: the plan and marshmallow differ"
        standard = json.dumps(slow, sort_keys=True, separators=(",", ":"))
        assert json.loads(orjson.dumps(fast, option=options)) == json.loads(standard)
        dump_ms = median_ms(lambda: marshmallow_dump(schema, body), args.repeat)
        plan_ms = median_ms(lambda: fast_dump(schema, body), args.repeat)
        json_ms = median_ms(lambda: json.dumps(slow, sort_keys=True, separators=(",", ":")), args.repeat)
        orjson_ms = median_ms(lambda: orjson.dumps(fast, option=options), args.repeat)
        table.append([label, f"{len(standard) / 1024:,.0f}", f"{dump_ms:.2f}", f"{plan_ms:.2f}",
                      f"{dump_ms / plan_ms:.1f}x", f"{json_ms:.2f}", f"{orjson_ms:.2f}", f"{json_ms / orjson_ms:.1f}x",
                      f"{dump_ms + json_ms:.2f}", f"{plan_ms + orjson_ms:.2f}"])
    print()
    print_table(["body", "KiB", "marshmallow ms", "plan ms", "faster", "json ms", "orjson ms", "faster",
                 "before ms", "now ms"], table)


if __name__ == "__main__":
    main()
