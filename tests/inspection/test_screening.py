import random

from inspection.identity import gb11643_check_char
from inspection.screening import IdNumbers, _runs_of_strings, sequential_runs


def resident(prefix: str, sequence: int) -> str:
    body = f"{prefix}{sequence:03d}"
    return body + gb11643_check_char(body)


def test_sequential_runs_are_consecutive_sequence_codes_under_one_prefix():
    numbers = [resident("11010519900101", n) for n in (5, 6, 7, 9, 10)] + [resident("11010519900102", n)
                                                                           for n in (1, 2)]
    assert sequential_runs(numbers, 3) == [[resident("11010519900101", n) for n in (5, 6, 7)]]
    assert sequential_runs(numbers, 2) == [[resident("11010519900101", n) for n in (5, 6, 7)],
                                           [resident("11010519900101", n) for n in (9, 10)],
                                           [resident("11010519900102", n) for n in (1, 2)]]


def test_a_run_never_crosses_into_the_next_prefix_and_repeats_count_once():
    numbers = [resident("11010519900101", 998), resident("11010519900101", 999), resident("11010519900102", 0),
               resident("11010519900102", 1)] * 3
    assert sequential_runs(numbers, 3) == []
    assert sequential_runs(numbers, 2) == [numbers[:2], numbers[2:4]]


def test_ids_that_do_not_fit_eight_bytes_take_the_general_path_with_the_same_result():
    rng = random.Random(5)
    numbers = [resident(rng.choice(["11010519900101", "44030119851231"]), rng.randrange(1000)) for _ in range(3000)]
    expected = _runs_of_strings(numbers, 3)
    assert sequential_runs(numbers, 3) == expected
    odd = IdNumbers()
    for number in [*numbers, "H1234567890123456A", "12345678"]:  # letters, and no sequence code at all
        odd.add(number)
    assert len(odd) == len(numbers) + 1
    assert odd.runs(3) == expected


def test_many_numbers_spill_to_a_temporary_file_with_the_same_runs(monkeypatch):
    monkeypatch.setattr(IdNumbers, "SPILL", 7)
    rng = random.Random(6)
    numbers = [resident(rng.choice(["11010519900101", "44030119851231"]), rng.randrange(200)) for _ in range(500)]
    spilled = IdNumbers()
    for number in numbers:
        spilled.add(number)
    assert len(spilled) == 500
    assert spilled.runs(3) == _runs_of_strings(numbers, 3)


def test_runs_of_any_minimum_length_match_the_string_algorithm():
    rng = random.Random(8)
    numbers = [resident("11010519900101", rng.randrange(300)) for _ in range(400)]
    for min_run in (1, 2, 3, 4, 7):
        assert sequential_runs(numbers, min_run) == _runs_of_strings(numbers, min_run), min_run
