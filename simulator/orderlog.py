"""Customer order logs: read a CSV of past orders, replay it exactly or resample it by days.

A log is a CSV file with a header row and the columns (names case-insensitive, any order):

* ``time`` (days since the start, a number >= 0) **or** ``date`` (ISO 8601 date
  ``2024-03-01`` or date and time ``2024-03-01T14:30:00`` / ``2024-03-01 14:30``);
* ``order`` (an order id: any non-empty text; the rows of one order may be anywhere in the
  file but must all have the same time or date);
* ``product`` (a product id);
* ``quantity`` (units, a number > 0 and at most :data:`MAX_QUANTITY`).

Rules (see ``docs/order-logs.md``): fields are stripped of surrounding blanks, blank lines
are skipped, the same product twice in one order is one line with the quantities added, day
``d`` of a ``time`` log holds the orders with ``d <= time < d + 1``, and the orders of one
day of a date-only log are spread evenly over the day in file order (the ``i``-th of ``n``
at ``day + (i + 0.5) / n``).

Reading is one pass over the rows (linear in the file size) plus a few NumPy sorts. Every
bad row is reported as a :class:`~simulator.errors.Problem` (``FILE:LINE: column:
message``), at most :data:`MAX_PROBLEMS` of them, in one :class:`OrderLogError`.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
import math
import os
from array import array
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from simulator.errors import Problem, UserError
from simulator.files import TooBig, Unreadable, read_bounded

#: largest log read (bytes)
MAX_BYTES = 256 * 2**20
#: most data rows in a log
MAX_ROWS = 10_000_000
#: largest quantity on one row (units)
MAX_QUANTITY = 1e12
#: longest span of a log (days from day 0 to the last order): about 2,700 years
MAX_DAYS = 1_000_000
#: most problems reported one by one; the rest are counted
MAX_PROBLEMS = 100

#: the columns of a log, in the order the messages list them
COLUMNS = ("time", "date", "order", "product", "quantity")

#: one order as the iterators yield it: (time in days, [(product, units), ...])
Order = tuple[float, list[tuple[str, float]]]

_FILE = "(file)"
_ROW = "(row)"
_CHUNK = 4096  # orders turned into Python objects at a time by replay()
_DATES_CACHED = 10_000  # distinct date texts whose parse is remembered (dates repeat)


class OrderLogError(UserError):
    """An order log cannot be read; :attr:`problems` lists what is wrong, line by line."""


class OrderLog:
    """The orders of a log, sorted by time (ties in file order), held in NumPy arrays.

    Immutable and picklable; its size is a few bytes per order line, whatever the span.
    Build it with :func:`read`.

    Attributes
    ----------
    file : str
        The file the log was read from.
    kind : str
        ``"time"`` or ``"date"``: the time column the file has.
    start : datetime.date or None
        For a ``date`` log, the date of day 0; None for a ``time`` log.
    days : int
        The whole days the log spans: day 0 up to and including the day of its last order.
    products : tuple of str
        The product ids used, in order of first appearance in the file.
    """

    __slots__ = ("file", "kind", "start", "days", "products", "_times", "_line_start",
                 "_line_product", "_line_qty", "_day", "_day_start")

    file: str
    kind: str
    start: dt.date | None
    days: int
    products: tuple[str, ...]
    _times: np.ndarray
    _line_start: np.ndarray
    _line_product: np.ndarray
    _line_qty: np.ndarray
    _day: np.ndarray
    _day_start: np.ndarray

    def __init__(self, file: str, kind: str, start: dt.date | None, days: int,
                 products: tuple[str, ...], times: np.ndarray, line_start: np.ndarray,
                 line_product: np.ndarray, line_qty: np.ndarray):
        """Wrap sorted arrays; :func:`read` is the way to make one.

        Parameters
        ----------
        times : numpy.ndarray of float
            Time of each order (days since day 0), non-decreasing.
        line_start : numpy.ndarray of int
            Order ``i`` has the lines ``line_start[i]:line_start[i + 1]`` (length orders + 1).
        line_product : numpy.ndarray of int
            Index into ``products`` of each line.
        line_qty : numpy.ndarray of float
            Units of each line (> 0).
        """
        day = np.floor(times).astype(np.int64)
        days_used, day_start = np.unique(day, return_index=True)
        values: dict[str, Any] = {
            "file": file, "kind": kind, "start": start, "days": int(days),
            "products": tuple(products),
            "_times": times.astype(np.float64), "_line_start": line_start.astype(np.int64),
            "_line_product": line_product.astype(np.int32),
            "_line_qty": line_qty.astype(np.float64), "_day": days_used.astype(np.int64),
            "_day_start": np.append(day_start, len(times)).astype(np.int64)}
        for name, value in values.items():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"an OrderLog is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"an OrderLog is immutable (cannot delete {name!r})")

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        return (type(self), (self.file, self.kind, self.start, self.days, self.products,
                             self._times, self._line_start, self._line_product,
                             self._line_qty))

    def __repr__(self) -> str:
        return (f"OrderLog({self.file!r}: {self.n_orders} orders, {self.n_lines} lines, "
                f"{len(self.products)} products over {self.days} days)")

    def __len__(self) -> int:
        return self.n_orders

    @property
    def n_orders(self) -> int:
        """The number of orders in the log."""
        return len(self._times)

    @property
    def n_lines(self) -> int:
        """The number of order lines (distinct products per order, summed over orders)."""
        return len(self._line_qty)

    def orders_per_day(self) -> np.ndarray:
        """The number of orders on each day ``0 .. days - 1`` of the log (empty days: 0)."""
        counts = np.zeros(self.days, dtype=np.int64)
        counts[self._day] = np.diff(self._day_start)
        return counts

    def daily_moments(self) -> dict[str, tuple[float, float]]:
        """Mean and variance of each product's units per day over the log's ``days`` days
        (empty days count as 0): what a policy deriving its parameters sees.

        Returns
        -------
        dict of str to (float, float)
            Product id -> (units per day, units**2 per day**2).
        """
        day_of_line = np.repeat(np.floor(self._times).astype(np.int64),
                                np.diff(self._line_start))
        out = {}
        for k, pid in enumerate(self.products):
            mine = self._line_product == k
            per_day = np.bincount(day_of_line[mine], weights=self._line_qty[mine],
                                  minlength=self.days)
            out[pid] = (float(per_day.mean()), float(per_day.var()))
        return out

    def events_per_day(self) -> float:
        """Orders plus lines per day of the log (for the event budget of a run)."""
        return (self.n_orders + self.n_lines) / max(self.days, 1)

    def replay(self) -> Iterator[Order]:
        """Every order of the log once, in time order (ties: file order).

        Yields
        ------
        (float, list of (str, float))
            The order's time (days since day 0) and its lines: (product id, units), in the
            order the products first appear among the order's rows. Each list is new.
        """
        n = self.n_orders
        for a in range(0, n, _CHUNK):
            b = min(a + _CHUNK, n)
            yield from self._orders(a, b, None)

    def bootstrap(self, rng: np.random.Generator) -> Iterator[Order]:
        """An endless stream of orders that resamples the log by whole days.

        Day ``k = 0, 1, 2, ...`` of the simulated timeline is a day ``d`` of the log drawn
        uniformly from ``0 .. days - 1`` (with replacement; days without orders count):
        its orders, in the log's order, at their time of day plus ``k``.

        Parameters
        ----------
        rng : numpy.random.Generator
            Makes exactly one draw, ``rng.integers(days)``, per simulated day, when the
            stream reaches that day. Give the stream a generator of its own, so that the
            draws do not depend on how far other users of ``rng`` have got.

        Yields
        ------
        (float, list of (str, float))
            As :meth:`replay`; times are non-decreasing and grow without end.
        """
        where = {d: i for i, d in enumerate(self._day.tolist())}
        starts = self._day_start.tolist()
        for k in itertools.count():
            i = where.get(int(rng.integers(self.days)))
            if i is not None:
                yield from self._orders(starts[i], starts[i + 1], float(k))

    def _orders(self, a: int, b: int, shift: float | None) -> Iterator[Order]:
        """Orders ``a .. b - 1`` of the sorted log; ``shift`` moves them to that day (time of
        day kept), None keeps their own times."""
        times = self._times[a:b]
        if shift is not None:
            times = times - np.floor(times) + shift
        names = self.products
        first = int(self._line_start[a])
        bounds = (self._line_start[a:b + 1] - first).tolist()
        last = first + bounds[-1]
        products = self._line_product[first:last].tolist()
        qty = self._line_qty[first:last].tolist()
        for i, t in enumerate(times.tolist()):
            yield t, [(names[products[j]], qty[j]) for j in range(bounds[i], bounds[i + 1])]


def read(path: str | os.PathLike[str], products: Collection[str] | None = None,
         start: dt.date | None = None) -> OrderLog:
    """Read an order log (see the module docstring for the format).

    Parameters
    ----------
    path : str or path-like
        The CSV file; problems name it as given.
    products : collection of str, optional
        The product ids an order may name; any other is a problem. None: any.
    start : datetime.date, optional
        Day 0 of a ``date`` log (from its 00:00); rows before it are problems. Default: the
        earliest date in the log. Ignored for a ``time`` log. A ``datetime`` must be at
        midnight.

    Returns
    -------
    OrderLog

    Raises
    ------
    OrderLogError
        The file cannot be read, or some rows are bad: every problem found (at most
        :data:`MAX_PROBLEMS`, then a count of the rest).
    """
    if isinstance(start, dt.datetime):
        if start.time() != dt.time(0) or start.tzinfo is not None:
            raise ValueError(f"start must be a date (midnight), not {start!r}")
        start = start.date()
    file = str(path)
    raw = _read_bytes(Path(path), file)
    _check_text(raw, file)
    reader = _Reader(file, None if products is None else frozenset(products))
    # decoded as read, so the text is never held whole (the bytes are not copied)
    reader.run(io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig", newline=""))
    return reader.build(start)


# ----------------------------------------------------------------------------- the file


def _problem(file: str, line: int | None, key: str, message: str) -> OrderLogError:
    return OrderLogError([Problem(file, line, key, message)])


def _read_bytes(p: Path, file: str) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_BYTES`, never blocking on a FIFO."""
    try:
        return read_bounded(p, MAX_BYTES)
    except TooBig:
        raise _too_big(file) from None
    except Unreadable as exc:
        raise _problem(file, None, _FILE, str(exc)) from None


def _too_big(file: str) -> OrderLogError:
    return _problem(file, None, _FILE, f"larger than {MAX_BYTES // 2**20} MiB; an order log is "
                                       "at most that (split it, or aggregate its rows)")


def _check_text(raw: bytes, file: str) -> None:
    """Refuse binary data and text that is not UTF-8, naming the line of the first bad
    byte; the check decodes piece by piece, holding no more than a piece of text."""
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise _problem(file, line, _FILE, "not a text file (it holds NUL bytes); an order log "
                                          "is a CSV text file")
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(raw)
    try:
        for a in range(0, len(raw), 1 << 22):
            decoder.decode(view[a:a + (1 << 22)])
        decoder.decode(b"", True)
    except UnicodeDecodeError:
        pass
    else:
        return
    try:
        raw.decode("utf-8")  # again, whole, for the position of the bad byte
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start:exc.start + 1].hex()
        raise _problem(file, line, _FILE, f"not UTF-8 text (byte 0x{byte}); save the log as "
                                          "UTF-8 CSV") from None


# ----------------------------------------------------------------------------- the rows


class _Reader:
    """One pass over the rows of a log: checks each row, collects orders and problems."""

    def __init__(self, file: str, allowed: frozenset[str] | None):
        self.file = file
        self.allowed = allowed
        self.problems: list[Problem] = []
        self.more = 0  # problems beyond MAX_PROBLEMS
        self.kind = "time"
        self.products: dict[str, int] = {}
        self.orders: dict[str, int] = {}
        self.order_when: list[Any] = []  # per order: its parsed time or date
        self.order_text: list[str] = []  # per order: the time or date as written
        self.order_line: list[int] = []  # per order: the line of its first row
        self.row_order = array("q")  # per good row: its order, product and units
        self.row_product = array("q")
        self.row_qty = array("d")
        self.dates: dict[str, tuple[int, float, bool] | str] = {}  # parsed, or a message
        self.date_kind_line: int | None = None  # first date row: with or without time
        self.has_time = False
        self.ncol = 0
        self._start: dt.date | None = None

    def add(self, line: int | None, key: str, message: str) -> None:
        """Note a problem (after :data:`MAX_PROBLEMS` of them, only count it)."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(self.file, line, key, message))
        else:
            self.more += 1

    def run(self, text: Iterable[str]) -> None:
        """Read every row of ``text`` (lines with their ends); raise :class:`OrderLogError`
        if there are problems."""
        reader = csv.reader(text, strict=True)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise _problem(self.file, 1, _ROW, f"malformed CSV: {exc}") from None
        while header is not None and not header:  # blank lines before the header
            header = next(reader, None)
        if header is None:
            raise _problem(self.file, None, _FILE, "empty; an order log has a header row "
                                                   "(time or date, order, product, quantity) "
                                                   "and one row per order line")
        index = self._columns(header, reader.line_num)
        self._rows(reader, index)
        if not self.row_order and not self.problems:
            self.add(None, _FILE, "no orders: the file has a header but no rows")
        if self.more:
            self.problems.append(Problem(self.file, None, _FILE,
                                         f"... and {self.more} more problems"))
        if self.problems:
            raise OrderLogError(self.problems)

    def _columns(self, header: list[str], line: int) -> tuple[int, int, int, int]:
        """Positions of the (time or date), order, product and quantity columns."""
        names = [h.strip().lower() for h in header]
        if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
            raise _problem(self.file, line, "(header)", f"one column {names[0]!r}; separate "
                                                        "the columns with commas")
        problems: list[str] = []
        seen: set[str] = set()
        for number, name in enumerate(names, 1):
            if name in seen and name:
                problems.append(f"column {name!r} appears twice")
            seen.add(name)
            if not name:
                problems.append(f"column {number} has no name; remove the empty column")
            elif name not in COLUMNS:
                problems.append(f"unknown column {name!r}; the columns are time or date, "
                                "order, product, quantity")
        if "time" in seen and "date" in seen:
            problems.append("both 'time' and 'date' columns; give exactly one of them")
        elif "time" not in seen and "date" not in seen:
            problems.append("missing column 'time' or 'date'")
        problems += [f"missing column {c!r}" for c in COLUMNS[2:] if c not in seen]
        if problems:
            raise OrderLogError([Problem(self.file, line, "(header)", m) for m in problems])
        self.kind = "date" if "date" in seen else "time"
        self.ncol = len(names)
        return (names.index(self.kind), names.index("order"), names.index("product"),
                names.index("quantity"))

    def _rows(self, reader: Any, index: tuple[int, int, int, int]) -> None:
        """Check and collect every data row."""
        it, io_, ip, iq = index
        ncol = self.ncol
        end = reader.line_num
        rows = 0
        while True:
            line = end + 1
            try:
                row = next(reader, None)
            except csv.Error as exc:
                self.add(line, _ROW, f"malformed CSV: {exc}")
                return
            end = reader.line_num
            if row is None:
                return
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # a blank line
            rows += 1
            if rows > MAX_ROWS:
                self.add(line, _ROW, f"more than {MAX_ROWS:,} rows; an order log has at most "
                                     "that many (aggregate it, or split it)")
                return
            if len(row) != ncol:
                self.add(line, _ROW, f"{len(row)} fields, but the header has {ncol}")
                continue
            self._row(line, row[it].strip(), row[io_].strip(), row[ip].strip(),
                      row[iq].strip())

    def _row(self, line: int, when: str, order: str, product: str, qty_text: str) -> None:
        """Check one data row (its problems in column order) and, if it is good, collect
        it."""
        oi = self.orders.get(order) if order else None
        value = None
        ok = True
        if oi is None or when != self.order_text[oi]:
            value = self._when(line, when)
            ok = value is not None
            if ok and oi is not None and value != self.order_when[oi]:
                self.add(line, self.kind, f"{when!r}, but order {order!r} has "
                                          f"{self.order_text[oi]!r} on line "
                                          f"{self.order_line[oi]}; all rows of an order "
                                          f"have the same {self.kind}")
                ok = False
        if not order:
            self.add(line, "order", "empty; every row needs an order id")
            ok = False
        pi = self.products.get(product)
        if pi is None:
            if not product:
                self.add(line, "product", "empty; every row needs a product id")
                ok = False
            elif self.allowed is not None and product not in self.allowed:
                self.add(line, "product", f"{product!r} is not stocked; stocked products: "
                                          f"{_listing(self.allowed)}")
                ok = False
        try:
            qty = float(qty_text)
        except ValueError:
            qty = math.nan
        if not 0 < qty <= MAX_QUANTITY:
            self.add(line, "quantity", _bad_quantity(qty_text, qty))
            ok = False
        if not ok:
            return
        if oi is None:
            oi = self.orders[order] = len(self.order_when)
            self.order_when.append(value)
            self.order_text.append(when)
            self.order_line.append(line)
        if pi is None:
            pi = self.products[product] = len(self.products)
        self.row_order.append(oi)
        self.row_product.append(pi)
        self.row_qty.append(qty)

    def _when(self, line: int, text: str) -> Any:
        """The parsed time (float) or date (day ordinal, seconds into the day) of a row, or
        None after noting a problem."""
        if self.kind == "time":
            try:
                t = float(text)
            except ValueError:
                self.add(line, "time", f"{text!r} is not a number (days since the start)")
                return None
            if not 0 <= t <= MAX_DAYS:
                why = "negative" if t < 0 else "not a finite number" if math.isnan(t) \
                    else f"beyond {MAX_DAYS:,} days"
                self.add(line, "time", f"{text} is {why}; a time is days since the start, "
                                       f"from 0 to {MAX_DAYS:,}")
                return None
            return t
        parsed = self.dates.get(text)
        if parsed is None:
            parsed = _parse_date(text)
            if len(self.dates) < _DATES_CACHED:
                self.dates[text] = parsed
        if isinstance(parsed, str):
            self.add(line, "date", parsed)
            return None
        if self.date_kind_line is None:
            self.date_kind_line, self.has_time = line, parsed[2]
        elif parsed[2] != self.has_time:
            first = "has" if self.has_time else "has no"
            self.add(line, "date", f"{text!r} {'has' if parsed[2] else 'has no'} time of day, "
                                   f"but line {self.date_kind_line} {first}; give every "
                                   "date with a time of day, or none")
            return None
        return parsed[:2]

    def build(self, start: dt.date | None) -> OrderLog:
        """The :class:`OrderLog` of the collected rows; raise on dates before ``start``."""
        nprod = max(len(self.products), 1)
        when = self.order_when
        if self.kind == "time":
            times = np.array(when, dtype=np.float64)
        else:
            times = self._date_times(start)
        # the Python objects per order are done with: free them before the sorts
        self.orders.clear()
        del self.order_when[:], self.order_text[:], self.order_line[:]
        row_order = np.frombuffer(self.row_order, dtype=np.int64)
        row_product = np.frombuffer(self.row_product, dtype=np.int64)
        # one line per (order, product): quantities of repeated products added
        keys, first_row, inverse = np.unique(row_order * nprod + row_product,
                                             return_index=True, return_inverse=True)
        qty = np.bincount(inverse.ravel(), weights=np.frombuffer(self.row_qty, dtype=np.float64),
                          minlength=len(keys))
        order_of_line = keys // nprod
        by_time = np.argsort(times, kind="stable")  # orders are numbered in file order
        rank = np.empty_like(by_time)
        rank[by_time] = np.arange(len(by_time))
        lines = np.lexsort((first_row, rank[order_of_line]))
        counts = np.bincount(rank[order_of_line], minlength=len(times))
        line_start = np.concatenate(([0], np.cumsum(counts)))
        sorted_times = times[by_time]
        days = int(math.floor(sorted_times[-1])) + 1
        start_date = self._start if self.kind == "date" else None
        names = tuple(self.products)
        return OrderLog(self.file, self.kind, start_date, days, names, sorted_times,
                        line_start, (keys % nprod)[lines], qty[lines])

    def _date_times(self, start: dt.date | None) -> np.ndarray:
        """Order times (days since day 0) of a ``date`` log; rows before ``start`` and
        spans beyond :data:`MAX_DAYS` are problems."""
        ordinal = np.array([w[0] for w in self.order_when], dtype=np.int64)
        seconds = np.array([w[1] for w in self.order_when], dtype=np.float64)
        first = int(ordinal.min())
        day0 = first if start is None else start.toordinal()
        self._start = dt.date.fromordinal(day0)
        day = ordinal - day0
        for i in np.flatnonzero((day < 0) | (day >= MAX_DAYS))[:MAX_PROBLEMS].tolist():
            why = f"before the start {self._start.isoformat()}" if day[i] < 0 \
                else f"more than {MAX_DAYS:,} days after {self._start.isoformat()}"
            self.add(self.order_line[i], "date", f"{self.order_text[i]!r} is {why}")
        if self.problems:
            raise OrderLogError(self.problems)
        if self.has_time:
            return day + seconds / 86400.0
        return day + _spread(day)


def _spread(day: np.ndarray) -> np.ndarray:
    """Time of day of the orders of date-only days: the ``i``-th of the ``n`` orders of a
    day (file order) at ``(i + 0.5) / n``."""
    by_day = np.argsort(day, kind="stable")
    d = day[by_day]
    first = np.searchsorted(d, d, side="left")
    n = np.searchsorted(d, d, side="right") - first
    frac = np.empty(len(day), dtype=np.float64)
    frac[by_day] = (np.arange(len(d)) - first + 0.5) / n
    return frac


def _parse_date(text: str) -> tuple[int, float, bool] | str:
    """(day ordinal, seconds into the day, has a time of day) of an ISO 8601 date or date
    and time; a message saying what is wrong, if it is not one."""
    try:
        return dt.date.fromisoformat(text).toordinal(), 0.0, False
    except ValueError:
        pass
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        return (f"{text!r} is not an ISO 8601 date (2024-03-01) or date and time "
                "(2024-03-01T14:30:00 or 2024-03-01 14:30)")
    if stamp.tzinfo is not None:
        return f"{text!r} has a time zone; give local times without one"
    seconds = stamp.hour * 3600 + stamp.minute * 60 + stamp.second + stamp.microsecond / 1e6
    return stamp.toordinal(), seconds, True


def _bad_quantity(text: str, qty: float) -> str:
    """Why ``text`` (read as ``qty``; NaN if unreadable) is not a quantity."""
    if math.isnan(qty):
        return f"{text!r} is not a number (units ordered)"
    if qty <= 0:
        return f"{text} must be greater than 0"
    return f"{text} is above the limit of {MAX_QUANTITY:g} units"


def _listing(names: Collection[str], most: int = 10) -> str:
    """Up to ``most`` of ``names``, sorted, comma-separated."""
    shown = sorted(names)
    extra = f", ... ({len(shown) - most} more)" if len(shown) > most else ""
    return ", ".join(shown[:most]) + extra if shown else "(none)"
