"""The random draw (双随机): which outlets are audited, by which inspectors, on which day.

A pure function of its inputs and a seed: store both and anyone can re-run the draw and get the same audits.
``draw_plan`` (format 2) spreads a plan over the working days of a period; ``draw`` (format 1) is the one-day
draw of plans stored before periods existed, kept unchanged so that they still verify.
"""
from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import asdict, dataclass, field

from audits.errors import DrawImpossible

MIN_WEIGHT = 0.1
"""Every outlet keeps at least this weight, so each has a non-zero chance (fairness)."""



@dataclass(frozen=True)
class Candidate:
    outlet_code: str
    weight: float
    covered: bool = False  # audited within the coverage window (a year)


@dataclass(frozen=True)
class DrawInputs:
    """Everything the draw depends on, in a canonical order."""

    candidates: tuple[Candidate, ...]
    inspectors: tuple[str, ...]
    outlets: int
    per_audit: int = 2
    last_inspectors: dict[str, tuple[str, ...]] = field(default_factory=dict)
    busy: tuple[str, ...] = ()
    min_uncovered: int = 0

    def to_json(self) -> dict:
        doc = asdict(self)
        doc["candidates"] = [asdict(c) for c in self.candidates]
        doc["last_inspectors"] = {k: list(v) for k, v in self.last_inspectors.items()}
        return doc

    @classmethod
    def from_json(cls, doc: dict) -> DrawInputs:
        return cls(
            candidates=tuple(Candidate(**c) for c in doc["candidates"]),
            inspectors=tuple(doc["inspectors"]),
            outlets=doc["outlets"],
            per_audit=doc["per_audit"],
            last_inspectors={k: tuple(v) for k, v in doc.get("last_inspectors", {}).items()},
            busy=tuple(doc.get("busy", ())),
            min_uncovered=doc.get("min_uncovered", 0),
        )


@dataclass(frozen=True)
class Drawn:
    outlet_code: str
    inspectors: tuple[str, ...]


def _drawable(candidates, outlets: int) -> list:
    """The candidates in a stable order, when ``outlets`` of them can be drawn; raises DrawImpossible otherwise."""
    if outlets < 1:
        raise DrawImpossible("validation_error.draw_no_outlets", field="outlets")
    if outlets > len(candidates):
        raise DrawImpossible("validation_error.draw_too_few_outlets", field="outlets", available=len(candidates),
                             wanted=outlets)
    return sorted(candidates, key=lambda c: c.outlet_code)


def draw(inputs: DrawInputs, seed: int) -> list[Drawn]:
    """Format 1 (plans stored before 2026-12). Draw ``inputs.outlets`` outlets without replacement, each with probability proportional to its weight
    (Efraimidis–Spirakis keys), first ``min_uncovered`` of them among outlets not covered this year; then give
    each ``per_audit`` inspectors: never one who audited that outlet last time, never one inspector twice in the
    plan (all its audits fall on one day), never one already busy that day.

    Raises DrawImpossible when there are too few outlets or free inspectors.
    """
    candidates = _drawable(inputs.candidates, inputs.outlets)
    rng = random.Random(seed)
    keys = {c.outlet_code: rng.random() ** (1.0 / max(c.weight, MIN_WEIGHT)) for c in candidates}
    uncovered = [c for c in candidates if not c.covered]
    first = sorted(uncovered, key=lambda c: -keys[c.outlet_code])[:min(inputs.min_uncovered, inputs.outlets)]
    chosen = {c.outlet_code for c in first}
    rest = sorted((c for c in candidates if c.outlet_code not in chosen), key=lambda c: -keys[c.outlet_code])
    picked = [c.outlet_code for c in first] + [c.outlet_code for c in rest[:inputs.outlets - len(first)]]

    busy = set(inputs.busy)
    free = [i for i in sorted(inputs.inspectors) if i not in busy]
    needed = inputs.outlets * inputs.per_audit
    if len(free) < needed:
        raise DrawImpossible("validation_error.draw_too_few_inspectors", field="outlets", audits=inputs.outlets,
                             per_audit=inputs.per_audit, needed=needed, free=len(free))
    assigned: set[str] = set()
    result = []
    for code in picked:
        previous = set(inputs.last_inspectors.get(code, ()))
        eligible = [i for i in free if i not in assigned and i not in previous]
        if len(eligible) < inputs.per_audit:
            raise DrawImpossible("validation_error.draw_no_fresh_team", field="outlets", outlet=code)
        team = tuple(sorted(rng.sample(eligible, inputs.per_audit)))
        assigned.update(team)
        result.append(Drawn(code, team))
    return result


FORMAT = 2
"""The format of the draws made now (``PlanInputs``); stored inputs without a ``version`` are format 1."""
SEARCH_BUDGET = 20_000
"""How many (day, team) choices the scheduler may try before it gives up on a plan."""


@dataclass(frozen=True)
class PlanInputs:
    """Everything a plan over a period depends on, in a canonical order (format 2).

    ``days`` are the working days of the period (ISO dates, ascending); ``capacity`` the audits an inspector
    takes a day; ``booked`` the audits each inspector already has on a day (other plans, targeted audits,
    follow-ups); ``away`` each inspector's days of absence in the period; ``last_teams`` each outlet's last team.
    """

    candidates: tuple[Candidate, ...]
    inspectors: tuple[str, ...]
    outlets: int
    per_audit: int
    days: tuple[str, ...]
    capacity: int = 2
    booked: dict[str, dict[str, int]] = field(default_factory=dict)
    away: dict[str, tuple[str, ...]] = field(default_factory=dict)
    last_teams: dict[str, tuple[str, ...]] = field(default_factory=dict)
    min_uncovered: int = 0

    def to_json(self) -> dict:
        return {"version": FORMAT, "candidates": [asdict(c) for c in self.candidates],
                "inspectors": list(self.inspectors), "outlets": self.outlets, "per_audit": self.per_audit,
                "days": list(self.days), "capacity": self.capacity,
                "booked": {d: dict(v) for d, v in self.booked.items()},
                "away": {k: list(v) for k, v in self.away.items()},
                "last_teams": {k: list(v) for k, v in self.last_teams.items()}, "min_uncovered": self.min_uncovered}

    @classmethod
    def from_json(cls, doc: dict) -> PlanInputs:
        return cls(candidates=tuple(Candidate(**c) for c in doc["candidates"]), inspectors=tuple(doc["inspectors"]),
                   outlets=doc["outlets"], per_audit=doc["per_audit"], days=tuple(doc["days"]),
                   capacity=doc["capacity"], booked={d: dict(v) for d, v in doc.get("booked", {}).items()},
                   away={k: tuple(v) for k, v in doc.get("away", {}).items()},
                   last_teams={k: tuple(v) for k, v in doc.get("last_teams", {}).items()},
                   min_uncovered=doc.get("min_uncovered", 0))


@dataclass(frozen=True)
class Planned:
    outlet_code: str
    inspectors: tuple[str, ...]
    day: str  # ISO date


def pick_outlets(rng: random.Random, candidates: list[Candidate], outlets: int, min_uncovered: int) -> list[str]:
    """``outlets`` outlets without replacement, each with probability proportional to its weight
    (Efraimidis–Spirakis keys), the first ``min_uncovered`` of them among outlets not covered this year."""
    keys = {c.outlet_code: rng.random() ** (1.0 / max(c.weight, MIN_WEIGHT)) for c in candidates}
    uncovered = [c for c in candidates if not c.covered]
    first = sorted(uncovered, key=lambda c: -keys[c.outlet_code])[:min(min_uncovered, outlets)]
    chosen = {c.outlet_code for c in first}
    rest = sorted((c for c in candidates if c.outlet_code not in chosen), key=lambda c: -keys[c.outlet_code])
    return [c.outlet_code for c in first] + [c.outlet_code for c in rest[:outlets - len(first)]]


def _days(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def draw_plan(inputs: PlanInputs, seed: int) -> list[Planned]:
    """Draw the outlets as ``draw`` does, then give each audit a working day of the period and a team of
    ``per_audit`` inspectors free that day: nobody over ``capacity`` audits a day (counting what they have
    booked), nobody on a day of absence, never the outlet's last team (inspectors who did not audit it last
    time come first), the audits spread over the days and the work over the inspectors, ties broken by the seed.

    Raises DrawImpossible when there are too few outlets, when the period cannot hold the plan (saying how many
    inspector-days are missing), or when no schedule satisfies the rules.
    """
    candidates = _drawable(inputs.candidates, inputs.outlets)
    if not inputs.days:
        raise DrawImpossible("validation_error.plan_no_working_days", field="due_date")
    rng = random.Random(seed)
    picked = pick_outlets(rng, candidates, inputs.outlets, inputs.min_uncovered)
    inspectors = sorted(inputs.inspectors)
    free = {(d, i): 0 if d in inputs.away.get(i, ()) else max(0, inputs.capacity - inputs.booked.get(d, {}).get(i, 0))
            for d in inputs.days for i in inspectors}
    needed, slots = inputs.outlets * inputs.per_audit, sum(free.values())
    if slots < needed:
        raise DrawImpossible(
            "validation_error.plan_period_too_short", field="due_date", audits=inputs.outlets,
            per_audit=inputs.per_audit, capacity=inputs.capacity, needed=_days(needed / inputs.capacity),
            free=_days(slots / inputs.capacity), missing=math.ceil((needed - slots) / inputs.capacity),
            days=len(inputs.days), start=inputs.days[0], end=inputs.days[-1])
    plan_load: Counter[str] = Counter()
    day_load: Counter[str] = Counter()
    result: list[Planned] = []
    budget, deepest = [SEARCH_BUDGET], [0]

    def options(code: str) -> list[tuple[str, tuple[str, ...]]]:
        last = set(inputs.last_teams.get(code, ()))
        keys = {i: rng.random() for i in inspectors}
        day_keys = {d: rng.random() for d in inputs.days}
        found = []
        for d in inputs.days:
            available = sorted((i for i in inspectors if free[(d, i)] > 0),
                               key=lambda i: (i in last, plan_load[i], keys[i]))
            if len(available) < inputs.per_audit:
                continue
            team = available[:inputs.per_audit]
            if last and set(team) == last:
                if len(available) == inputs.per_audit:
                    continue
                team = team[:-1] + [available[inputs.per_audit]]
            found.append(((day_load[d], len(set(team) & last), day_keys[d]), d, tuple(sorted(team))))
        return [(d, team) for _, d, team in sorted(found)]

    def place(k: int) -> bool:
        deepest[0] = max(deepest[0], k)
        if k == len(picked):
            return True
        for d, team in options(picked[k]):
            budget[0] -= 1
            if budget[0] < 0:
                return False
            for i in team:
                free[(d, i)] -= 1
                plan_load[i] += 1
            day_load[d] += 1
            result.append(Planned(picked[k], team, d))
            if place(k + 1):
                return True
            result.pop()
            day_load[d] -= 1
            for i in team:
                free[(d, i)] += 1
                plan_load[i] -= 1
        return False

    if not place(0):
        stuck = picked[min(deepest[0], len(picked) - 1)]
        raise DrawImpossible("validation_error.draw_no_fresh_team", field="outlets", outlet=stuck)
    return result
