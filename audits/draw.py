"""The random draw (双随机): which outlets are audited, and by which inspectors.

A pure function of its inputs and a seed: store both and anyone can re-run the draw and get the same audits.
"""
from __future__ import annotations

import random
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


def draw(inputs: DrawInputs, seed: int) -> list[Drawn]:
    """Draw ``inputs.outlets`` outlets without replacement, each with probability proportional to its weight
    (Efraimidis–Spirakis keys), first ``min_uncovered`` of them among outlets not covered this year; then give
    each ``per_audit`` inspectors: never one who audited that outlet last time, never one inspector twice in the
    plan (all its audits fall on one day), never one already busy that day.

    Raises DrawImpossible when there are too few outlets or free inspectors.
    """
    candidates = sorted(inputs.candidates, key=lambda c: c.outlet_code)
    if inputs.outlets < 1:
        raise DrawImpossible("validation_error.draw_no_outlets", field="outlets")
    if inputs.outlets > len(candidates):
        raise DrawImpossible("validation_error.draw_too_few_outlets", field="outlets", available=len(candidates),
                             wanted=inputs.outlets)
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
