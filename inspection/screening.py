"""Abnormal real-name data (异常实名信息): the patterns that real audits find behind a perfect rate.

Pure rules over counts and ID numbers; the database queries that feed them live in the app.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

SHARED_ID = "shared_id"            # one ID number for items of many different sender names (自寄件, 代填)
MANY_OUTLETS = "id_many_outlets"   # one ID at implausibly many outlets in a day
MANY_ITEMS = "id_many_items"       # one ID on implausibly many items in a day
STAFF_ID = "staff_id"              # the ID of a courier or screener used as a sender's
BIRTH_DATE = "implausible_age"     # an impossible or implausible birth date / age
SEQUENTIAL = "sequential_ids"      # a run of consecutive ID numbers (fabricated identities)
KINDS = (SHARED_ID, MANY_OUTLETS, MANY_ITEMS, STAFF_ID, BIRTH_DATE, SEQUENTIAL)


@dataclass(frozen=True)
class Thresholds:
    """When a pattern counts as abnormal; each is configurable (``SCREENING_*`` settings)."""

    names_per_id: int = 3
    outlets_per_id: int = 3
    items_per_id: int = 20
    sequential_run: int = 3


def id_usage_kinds(items: int, names: int, outlets: int, t: Thresholds) -> list[str]:
    """The kinds an ID's use on one day falls under, given its item, distinct-name and outlet counts."""
    kinds = []
    if names >= t.names_per_id:
        kinds.append(SHARED_ID)
    if outlets >= t.outlets_per_id:
        kinds.append(MANY_OUTLETS)
    if items >= t.items_per_id:
        kinds.append(MANY_ITEMS)
    return kinds


def sequential_runs(id_numbers: Iterable[str], min_run: int) -> list[list[str]]:
    """Runs of at least ``min_run`` 18-character IDs that share area and birth date (first 14 characters) and
    whose sequence codes (characters 15-17) are consecutive. Each run is sorted."""
    groups: dict[str, set[int]] = defaultdict(set)
    full: dict[tuple[str, int], str] = {}
    for number in id_numbers:
        if len(number) == 18 and number[14:17].isdigit():
            groups[number[:14]].add(int(number[14:17]))
            full[(number[:14], int(number[14:17]))] = number
    runs = []
    for prefix, codes in groups.items():
        ordered = sorted(codes)
        start = 0
        for i in range(1, len(ordered) + 1):
            if i == len(ordered) or ordered[i] != ordered[i - 1] + 1:
                if i - start >= min_run:
                    runs.append([full[(prefix, c)] for c in ordered[start:i]])
                start = i
    return runs
