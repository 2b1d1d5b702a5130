"""Abnormal real-name data (异常实名信息): the patterns that real audits find behind a perfect rate.

Pure rules over counts and ID numbers; the database queries that feed them live in the app.
"""
from __future__ import annotations

import tempfile
from array import array
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO

import numpy as np

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


_CHECK = {**{str(d): d for d in range(10)}, "X": 10}  # an ID's last character, as a number 0-10
_BLOCK = 1 << 20  # elements per step of the vectorised run search, so its temporaries stay a few MiB


class IdNumbers:
    """A set of ID numbers kept for ``sequential_runs`` in about 8 bytes each, so that a file of millions of
    rows screens in bounded memory: an 18-character number of 17 ASCII digits and a check character (0-9, X)
    is the integer ``first 17 digits * 11 + check``; any other number is kept as it is (rare)."""

    SPILL = 1 << 20
    """Codes kept in memory before they are appended to a temporary file (8 MiB): memory stays flat while a
    file of millions of rows is read. The file is as private as the spooled upload it comes from (unlinked at
    once, mode 0600) and is gone when the object is."""

    def __init__(self) -> None:
        self._codes = array("q")
        self._spilled: BinaryIO | None = None
        self._others: set[str] = set()

    def add(self, number: str) -> None:
        if len(number) != 18 or not number[14:17].isdigit():
            return  # no sequence code: never part of a run
        check = _CHECK.get(number[17])
        head = number[:17]
        if check is not None and head.isascii() and head.isdigit():
            self._codes.append(int(head) * 11 + check)
            if len(self._codes) >= self.SPILL:
                if self._spilled is None:
                    self._spilled = tempfile.TemporaryFile()
                self._codes.tofile(self._spilled)
                self._codes = array("q")
        else:
            self._others.add(number)

    def __len__(self) -> int:
        spilled = 0 if self._spilled is None else self._spilled.seek(0, 2) // 8
        return spilled + len(self._codes) + len(self._others)

    def _all_codes(self) -> np.ndarray:
        if self._spilled is None:
            return np.frombuffer(self._codes, dtype=np.int64)  # a view: sorted in place, no copy
        self._codes.tofile(self._spilled)
        self._codes = array("q")
        self._spilled.seek(0)
        codes = np.fromfile(self._spilled, dtype=np.int64)
        self._spilled.close()
        self._spilled = None
        return codes

    def runs(self, min_run: int) -> list[list[str]]:
        """``sequential_runs`` of the numbers added (each run sorted). Consumes them: sorted in place, then freed."""
        codes = self._all_codes()
        if self._others:  # rare: decode everything and take the general path
            return _runs_of_strings({*self._others, *map(_decoded, codes.tolist())}, min_run)
        if not len(codes):
            return []
        codes.sort()
        n = len(codes)
        distinct = np.ones(n, dtype=bool)  # the first code of each 17-digit body
        for start in range(0, n - 1, _BLOCK):
            stop = min(start + _BLOCK, n - 1)
            np.not_equal(codes[start + 1:stop + 1] // 11, codes[start:stop] // 11, out=distinct[start + 1:stop + 1])
        codes = codes[distinct]
        del distinct
        self._codes = array("q")  # the view's buffer is released with it
        n = len(codes)
        follows = np.empty(max(n - 1, 0), dtype=bool)  # body i+1 is body i's next sequence code, same prefix
        for start in range(0, n - 1, _BLOCK):
            stop = min(start + _BLOCK, n - 1)
            before, after = codes[start:stop] // 11, codes[start + 1:stop + 1] // 11
            follows[start:stop] = (after - before == 1) & (after % 1000 != 0)
        if min_run < 2:  # every ID a run of its own: the plain way
            breaks = np.flatnonzero(~follows)
            bounds = zip(np.concatenate(([0], breaks + 1)).tolist(), np.concatenate((breaks, [n - 1])).tolist())
            return [[_decoded(int(code)) for code in codes[a:b + 1]] for a, b in bounds]
        if n < min_run:
            return []
        starts = np.ones(n - min_run + 1, dtype=bool)  # codes i .. i + min_run - 1 consecutive: booleans only
        for k in range(min_run - 1):
            starts &= follows[k:k + n - min_run + 1]
        found = np.flatnonzero(starts)  # few: the starts of long-enough stretches
        if not len(found):
            return []
        blocks = np.split(found, np.flatnonzero(np.diff(found) > 1) + 1)  # adjacent starts: one run
        return [[_decoded(int(code)) for code in codes[int(block[0]):int(block[-1]) + min_run]] for block in blocks]


def _decoded(code: int) -> str:
    body, check = divmod(code, 11)
    return f"{body:017d}" + ("X" if check == 10 else str(check))


def sequential_runs(id_numbers: Iterable[str], min_run: int) -> list[list[str]]:
    """Runs of at least ``min_run`` 18-character IDs that share area and birth date (first 14 characters) and
    whose sequence codes (characters 15-17) are consecutive. Each run is sorted."""
    numbers = IdNumbers()
    for number in id_numbers:
        numbers.add(number)
    return numbers.runs(min_run)


def _runs_of_strings(id_numbers: Iterable[str], min_run: int) -> list[list[str]]:
    groups: dict[str, set[int]] = defaultdict(set)
    full: dict[tuple[str, int], str] = {}
    for number in id_numbers:
        if len(number) == 18 and number[14:17].isdigit():
            groups[number[:14]].add(int(number[14:17]))
            full[(number[:14], int(number[14:17]))] = number
    runs = []
    for prefix, codes in sorted(groups.items()):
        ordered = sorted(codes)
        start = 0
        for i in range(1, len(ordered) + 1):
            if i == len(ordered) or ordered[i] != ordered[i - 1] + 1:
                if i - start >= min_run:
                    runs.append([full[(prefix, c)] for c in ordered[start:i]])
                start = i
    return runs


@dataclass
class BatchScreening:
    """What screening needs to know of one stored batch besides its records, in memory that grows with the
    days and the findings, not with the rows: the batch (its records are read back from the database), the
    (blind index, day) of the records it superseded (their IDs' patterns may no longer hold), the birth-date
    problems found (blind index, day) -> (clear ID, problem), and each day's ID numbers for sequential runs."""

    batch_id: int | None = None
    superseded: set[tuple[str, date]] = field(default_factory=set)
    problems: dict[tuple[str, date], tuple[str, str]] = field(default_factory=dict)
    numbers: dict[date, IdNumbers] = field(default_factory=dict)
