"""The draw is a pure function of its inputs and seed; it honours weights and its constraints."""
from __future__ import annotations

import math
from collections import Counter

import pytest

from audits.draw import Candidate, DrawImpossible, DrawInputs, draw
from audits.risk import RiskFactors, risk_weight

INSPECTORS = tuple(f"insp{i}" for i in range(10))


def inputs(**overrides) -> DrawInputs:
    base = dict(candidates=tuple(Candidate(f"OUT-{i:02d}", 1.0 + i % 3) for i in range(12)), inspectors=INSPECTORS,
                outlets=3, per_audit=2)
    return DrawInputs(**{**base, **overrides})


def test_same_inputs_and_seed_same_draw():
    assert draw(inputs(), 42) == draw(inputs(), 42)
    assert draw(DrawInputs.from_json(inputs().to_json()), 42) == draw(inputs(), 42)


def test_different_seeds_differ():
    results = {tuple(d.outlet_code for d in draw(inputs(), seed)) for seed in range(20)}
    assert len(results) > 10


def test_candidate_order_does_not_matter():
    shuffled = inputs(candidates=tuple(reversed(inputs().candidates)))
    assert draw(shuffled, 7) == draw(inputs(), 7)


def test_weights_are_honoured_over_many_seeds():
    weights = {"LOW": 1.0, "MID": 3.0, "HIGH": 6.0}
    spec = DrawInputs(candidates=tuple(Candidate(k, w) for k, w in weights.items()), inspectors=INSPECTORS,
                      outlets=1, per_audit=2)
    runs = 6000
    counts = Counter(draw(spec, seed)[0].outlet_code for seed in range(runs))
    total = sum(weights.values())
    chi2 = sum((counts[k] - runs * w / total) ** 2 / (runs * w / total) for k, w in weights.items())
    assert chi2 < 13.8  # chi-square, 2 degrees of freedom, p = 0.001


def test_every_outlet_has_a_chance_even_at_zero_weight():
    spec = DrawInputs(candidates=(Candidate("ZERO", 0.0), Candidate("BIG", 50.0)), inspectors=INSPECTORS,
                      outlets=1, per_audit=1)
    assert any(draw(spec, seed)[0].outlet_code == "ZERO" for seed in range(3000))


def test_no_outlet_twice_and_no_inspector_twice_in_a_plan():
    for seed in range(200):
        result = draw(inputs(outlets=5), seed)
        assert len({d.outlet_code for d in result}) == 5
        team = [i for d in result for i in d.inspectors]
        assert len(team) == len(set(team)) == 10


def test_last_inspectors_are_never_drawn_again_for_that_outlet():
    last = {c.outlet_code: ("insp0", "insp1") for c in inputs().candidates}
    for seed in range(200):
        for d in draw(inputs(last_inspectors=last), seed):
            assert not {"insp0", "insp1"} & set(d.inspectors)


def test_busy_inspectors_are_left_out():
    for seed in range(100):
        for d in draw(inputs(busy=("insp2", "insp3")), seed):
            assert not {"insp2", "insp3"} & set(d.inspectors)


def test_coverage_target_draws_uncovered_outlets_first():
    candidates = tuple(Candidate(f"C-{i}", 20.0, covered=True) for i in range(8)) + (
        Candidate("NEVER-1", 0.5), Candidate("NEVER-2", 0.5))
    for seed in range(100):
        codes = {d.outlet_code for d in draw(inputs(candidates=candidates, min_uncovered=2), seed)}
        assert {"NEVER-1", "NEVER-2"} <= codes


@pytest.mark.parametrize("overrides,code,params", [
    ({"outlets": 13}, "validation_error.draw_too_few_outlets", {"available": 12, "wanted": 13}),
    ({"outlets": 0}, "validation_error.draw_no_outlets", {}),
    ({"outlets": 6}, "validation_error.draw_too_few_inspectors", {"audits": 6, "per_audit": 2, "needed": 12,
                                                                  "free": 10}),
])
def test_impossible_draws_say_why(overrides, code, params):
    with pytest.raises(DrawImpossible) as refused:
        draw(inputs(**overrides), 1)
    assert (refused.value.code, refused.value.params, refused.value.field) == (code, params, "outlets")


def test_declarations_no_machine_saw_weigh_in_the_draw():
    honest = risk_weight(RiskFactors(days_since_last_audit=10))
    assert risk_weight(RiskFactors(days_since_last_audit=10, xray_unverified=0.28)) == pytest.approx(honest + 0.84)
    assert risk_weight(RiskFactors(days_since_last_audit=10, xray_unverified=5.0)) == pytest.approx(honest + 3)


def test_risk_weight_grows_with_risk_and_stays_positive():
    clean = risk_weight(RiskFactors(days_since_last_audit=10))
    risky = risk_weight(RiskFactors(days_below_threshold=12, open_alerts=5, findings=3, past_rectifications=1,
                                    days_since_last_audit=400))
    assert 1.0 <= clean < risky
    assert math.isclose(risk_weight(RiskFactors(days_below_threshold=1000, open_alerts=1000, findings=1000,
                                                flagged_xray=1000, past_rectifications=1000)), 15.5)


# --- format 2: plans over a period -----------------------------------------------------------------------------

from audits.draw import PlanInputs, draw_plan  # noqa: E402

DAYS = tuple(f"2026-12-{d:02d}" for d in (7, 8, 9, 10, 11, 14, 15, 16, 17, 18))


def period(**overrides) -> PlanInputs:
    base = dict(candidates=tuple(Candidate(f"OUT-{i:02d}", 1.0 + i % 3) for i in range(14)),
                inspectors=("a", "b", "c"), outlets=10, per_audit=2, days=DAYS, capacity=2)
    return PlanInputs(**{**base, **overrides})


def test_three_inspectors_hold_ten_outlets_over_two_weeks_within_capacity():
    last = {f"OUT-{i:02d}": ("a", "b") for i in range(14)}
    for seed in range(50):
        planned = draw_plan(period(last_teams=last), seed)
        assert len({p.outlet_code for p in planned}) == 10
        load = Counter((p.day, i) for p in planned for i in p.inspectors)
        assert max(load.values()) <= 2 and all(p.day in DAYS for p in planned)
        assert all(len(set(p.inspectors)) == 2 and set(p.inspectors) != {"a", "b"} for p in planned)


def test_plan_draw_is_reproducible_and_survives_its_json():
    inputs = period(booked={"2026-12-07": {"a": 2}}, away={"b": ("2026-12-08",)})
    assert draw_plan(inputs, 7) == draw_plan(PlanInputs.from_json(inputs.to_json()), 7)
    assert draw_plan(inputs, 7) != draw_plan(inputs, 8)


def test_booked_days_and_absences_are_respected():
    for seed in range(50):
        planned = draw_plan(period(booked={"2026-12-07": {"a": 2}}, away={"b": DAYS[:5]}), seed)
        for p in planned:
            assert not (p.day == "2026-12-07" and "a" in p.inspectors)
            assert not (p.day in DAYS[:5] and "b" in p.inspectors)


def test_the_same_outlets_are_drawn_as_in_the_one_day_format():
    assert [p.outlet_code for p in draw_plan(period(outlets=3, inspectors=INSPECTORS), 42)] == \
        [d.outlet_code for d in draw(inputs(candidates=period().candidates, outlets=3), 42)]


def test_a_period_too_short_says_how_many_inspector_days_are_missing():
    with pytest.raises(DrawImpossible) as refused:
        draw_plan(period(days=DAYS[:2]), 1)
    assert refused.value.code == "validation_error.plan_period_too_short"
    assert refused.value.params["missing"] == 4 and refused.value.params["needed"] == "10"
    assert refused.value.params["free"] == "6" and refused.value.field == "due_date"


def test_an_outlet_whose_only_possible_team_is_its_last_cannot_be_planned():
    with pytest.raises(DrawImpossible) as refused:
        draw_plan(period(inspectors=("a", "b"), outlets=1, candidates=(Candidate("X", 1.0),),
                         last_teams={"X": ("a", "b")}), 1)
    assert refused.value.code == "validation_error.draw_no_fresh_team"
