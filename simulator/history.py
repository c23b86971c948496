"""Daily demand histories: read a CSV of units per day and product into NumPy.

A history is a CSV file with a header row and the columns (names of the day column
case-insensitive, any order):

* ``date`` (an ISO 8601 date, ``2024-03-01``) **or** ``day`` (a whole number >= 0);
* one column per product, named by the product id (case kept), holding the units demanded
  that day: a number >= 0 and at most :data:`MAX_QUANTITY`.

Rules (see ``docs/demand-models.md``): fields are stripped of surrounding blanks, blank lines
are skipped, rows may come in any order but a day may appear only once, and days missing
between the first and the last row are days of zero demand. Day 0 of the history is its
first (earliest) day.

Reading is one pass over the rows (linear in the file size). Every bad row is reported as a
:class:`~simulator.errors.Problem` (``FILE:LINE: column: message``), at most
:data:`~simulator.orderlog.MAX_PROBLEMS` of them, in one :class:`HistoryError`. The file
checks (size, text, UTF-8) and the date parsing are the order-log reader's
(:mod:`simulator.orderlog`).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
from array import array
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from simulator import orderlog
from simulator.errors import Problem, UserError

#: largest quantity of one product on one day (units)
MAX_QUANTITY = orderlog.MAX_QUANTITY
#: longest span of a history (days from its first to its last day)
MAX_DAYS = orderlog.MAX_DAYS
#: the day columns, one of which a history has
DAY_COLUMNS = ("date", "day")

_FILE = "(file)"
_ROW = "(row)"
_HEADER = "(header)"


class HistoryError(UserError):
    """A history cannot be read; :attr:`problems` lists what is wrong, line by line."""


class DailyHistory:
    """Units demanded per day and product: immutable, picklable, NumPy inside.

    Build it with :func:`read_history`.

    Attributes
    ----------
    file : str
        The file the history was read from.
    kind : str
        ``"date"`` or ``"day"``: the day column the file has.
    start : datetime.date or int
        The first day: its date (``date`` files) or its number (``day`` files).
    products : tuple of str
        The product columns, in file order.
    values : numpy.ndarray of float, shape (days, products)
        Units per day (read-only); row ``d`` is day ``start + d``; days absent from the file
        are 0.
    """

    __slots__ = ("file", "kind", "start", "products", "values")

    file: str
    kind: str
    start: dt.date | int
    products: tuple[str, ...]
    values: np.ndarray

    def __init__(self, file: str, kind: str, start: dt.date | int, products: tuple[str, ...],
                 values: np.ndarray):
        array_ = np.array(values, dtype=np.float64, copy=True).reshape(-1, len(products))
        array_.flags.writeable = False
        for name, value in (("file", file), ("kind", kind), ("start", start),
                            ("products", tuple(products)), ("values", array_)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a DailyHistory is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a DailyHistory is immutable (cannot delete {name!r})")

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        return (type(self), (self.file, self.kind, self.start, self.products, self.values))

    def __repr__(self) -> str:
        return (f"DailyHistory({self.file!r}: {len(self.products)} products over "
                f"{self.days} days from {self.start})")

    @property
    def days(self) -> int:
        """The days the history spans, first to last (both included)."""
        return int(self.values.shape[0])

    @property
    def weeks(self) -> int:
        """The whole weeks of the history (from its first day; a partial last week is not one)."""
        return self.days // 7

    def column(self, product: str) -> np.ndarray:
        """Units per day of ``product`` (read-only view); KeyError if it has no column."""
        try:
            k = self.products.index(product)
        except ValueError:
            raise KeyError(product) from None
        return self.values[:, k]


def read_history(path: str | os.PathLike[str]) -> DailyHistory:
    """Read a daily history (see the module docstring for the format).

    Parameters
    ----------
    path : str or path-like
        The CSV file; problems name it as given.

    Returns
    -------
    DailyHistory

    Raises
    ------
    HistoryError
        The file cannot be read, or some rows are bad: every problem found (at most
        :data:`~simulator.orderlog.MAX_PROBLEMS`, then a count of the rest).
    """
    file = str(path)
    try:
        raw = orderlog._read_bytes(Path(path), file)
        orderlog._check_text(raw, file)
    except orderlog.OrderLogError as exc:
        raise HistoryError(exc.problems) from None
    reader = _Reader(file)
    reader.run(io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig", newline=""))
    return reader.build()


class _Reader:
    """One pass over the rows of a history: checks each row, collects days and problems."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []
        self.more = 0
        self.kind = "day"
        self.names: list[str] = []  # product columns, in file order
        self.index: list[int] = []  # their positions in a row
        self.day_at = 0
        self.ncol = 0
        self.day = array("q")  # per good row: its day (ordinal or number) and line
        self.line = array("q")
        self.qty = array("d")  # per good row: the quantity of each product, row after row

    def add(self, line: int | None, key: str, message: str) -> None:
        """Note a problem (after :data:`~simulator.orderlog.MAX_PROBLEMS`, only count it)."""
        if len(self.problems) < orderlog.MAX_PROBLEMS:
            self.problems.append(Problem(self.file, line, key, message))
        else:
            self.more += 1

    def fail(self, line: int | None, key: str, message: str) -> HistoryError:
        return HistoryError([Problem(self.file, line, key, message)])

    def run(self, text: Iterable[str]) -> None:
        """Read every row of ``text``; raise :class:`HistoryError` if there are problems."""
        reader = csv.reader(text, strict=True)
        try:
            header = next(reader, None)
            while header is not None and not header:
                header = next(reader, None)
        except csv.Error as exc:
            raise self.fail(1, _ROW, f"malformed CSV: {exc}") from None
        if header is None:
            raise self.fail(None, _FILE, "empty; a history has a header row (date or day, "
                                         "then one column per product) and one row per day")
        self._columns(header, reader.line_num)
        self._rows(reader)
        if not self.day and not self.problems:
            self.add(None, _FILE, "no days: the file has a header but no rows")
        if self.more:
            self.problems.append(Problem(self.file, None, _FILE,
                                         f"... and {self.more} more problems"))
        if self.problems:
            raise HistoryError(self.problems)

    def _columns(self, header: list[str], line: int) -> None:
        """Find the day column and the product columns of the header."""
        names = [h.strip() for h in header]
        if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
            raise self.fail(line, _HEADER, f"one column {names[0]!r}; separate the columns "
                                           "with commas")
        problems: list[str] = []
        seen: set[str] = set()
        for number, name in enumerate(names, 1):
            if not name:
                problems.append(f"column {number} has no name; remove the empty column")
            elif name in seen:
                problems.append(f"column {name!r} appears twice")
            seen.add(name)
        days = [i for i, n in enumerate(names) if n.lower() in DAY_COLUMNS]
        if len(days) > 1:
            problems.append("both 'date' and 'day' columns; give exactly one of them")
        elif not days:
            problems.append("missing column 'date' or 'day'")
        elif len(names) == 1:
            problems.append("no product columns; add one column of units per day per product, "
                            "named by the product id")
        if problems:
            raise HistoryError([Problem(self.file, line, _HEADER, m) for m in problems])
        self.day_at = days[0]
        self.kind = names[days[0]].lower()
        self.index = [i for i in range(len(names)) if i != days[0]]
        self.names = [names[i] for i in self.index]
        self.ncol = len(names)

    def _rows(self, reader: Any) -> None:
        """Check and collect every data row; a row's line is where it starts."""
        line = reader.line_num + 1
        try:
            for row in reader:
                here, line = line, reader.line_num + 1
                if len(row) <= 1 and not "".join(row).strip():
                    continue  # a blank line
                if len(self.day) >= MAX_DAYS:
                    self.add(here, _ROW, f"more than {MAX_DAYS:,} rows; a history has at most "
                                         "one row per day over that many days")
                    return
                if len(row) == self.ncol:
                    self._row(here, row)
                else:
                    self.add(here, _ROW, f"{len(row)} fields, but the header has {self.ncol}")
        except csv.Error as exc:
            self.add(line, _ROW, f"malformed CSV: {exc}")

    def _row(self, line: int, row: list[str]) -> None:
        """Check one data row (its problems in column order) and, if good, collect it."""
        day = self._day(line, row[self.day_at].strip())
        qty = [self._quantity(line, name, row[i].strip())
               for name, i in zip(self.names, self.index, strict=True)]
        if day is None or any(q is None for q in qty):
            return
        self.day.append(day)
        self.line.append(line)
        self.qty.extend(qty)  # type: ignore[arg-type]

    def _day(self, line: int, text: str) -> int | None:
        """The day of a row (a date's ordinal or a day number), or None after a problem."""
        if self.kind == "day":
            try:
                d = int(text)
            except ValueError:
                self.add(line, "day", f"{text!r} is not a whole number of days")
                return None
            if not 0 <= d <= MAX_DAYS:
                self.add(line, "day", f"{text} is outside 0 .. {MAX_DAYS:,}")
                return None
            return d
        parsed = orderlog._parse_date(text)
        if isinstance(parsed, str):
            self.add(line, "date", parsed)
            return None
        if parsed[2]:
            self.add(line, "date", f"{text!r} has a time of day; a history has one row per "
                                   "date (2024-03-01)")
            return None
        return parsed[0]

    def _quantity(self, line: int, name: str, text: str) -> float | None:
        """Units of one product on one row, or None after a problem."""
        try:
            q = float(text)
        except ValueError:
            q = math.nan
        if math.isnan(q):
            what = "empty" if not text else f"{text!r} is not a number"
            self.add(line, name, f"{what}; give the units demanded that day (0 for none)")
            return None
        if not 0 <= q <= MAX_QUANTITY:
            why = "negative" if q < 0 else f"above the limit of {MAX_QUANTITY:g} units"
            self.add(line, name, f"{text} is {why}")
            return None
        return q

    def build(self) -> DailyHistory:
        """The :class:`DailyHistory` of the collected rows; raise on repeated days or a span
        beyond :data:`MAX_DAYS`."""
        day = np.frombuffer(self.day, dtype=np.int64)
        lines = np.frombuffer(self.line, dtype=np.int64)
        qty = np.frombuffer(self.qty, dtype=np.float64).reshape(len(day), len(self.names))
        first = int(day.min())
        span = int(day.max()) - first + 1
        if span > MAX_DAYS:
            self.add(int(lines[int(day.argmax())]), self.kind,
                     f"more than {MAX_DAYS:,} days after the first day")
        order = np.argsort(day, kind="stable")
        repeated = np.flatnonzero(np.diff(day[order]) == 0)
        for r in repeated[:orderlog.MAX_PROBLEMS].tolist():
            i, j = order[r], order[r + 1]
            self.add(int(lines[j]), self.kind, f"{self._text(int(day[j]))} is also on line "
                                               f"{int(lines[i])}; give each day once")
        if self.problems:
            self.problems.sort(key=lambda p: p.line or 0)
            raise HistoryError(self.problems)
        values = np.zeros((span, len(self.names)), dtype=np.float64)
        values[day - first] = qty
        start: dt.date | int = dt.date.fromordinal(first) if self.kind == "date" else first
        return DailyHistory(self.file, self.kind, start, tuple(self.names), values)

    def _text(self, day: int) -> str:
        return dt.date.fromordinal(day).isoformat() if self.kind == "date" else str(day)
