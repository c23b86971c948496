"""Order-log reader (simulator.orderlog): exact replay, whole-day bootstrap, and a
``FILE:LINE: column: message`` problem for every kind of bad input."""
from __future__ import annotations

import datetime as dt
import itertools
import math
import pickle
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import orderlog
from simulator.errors import UserError
from simulator.orderlog import OrderLog, OrderLogError, read


def write(tmp_path: Path, text: str | bytes, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def problems_of(path: Path, **kw) -> list[tuple[int | None, str, str]]:
    with pytest.raises(OrderLogError) as info:
        read(path, **kw)
    return [(p.line, p.key, p.message) for p in info.value.problems]


def until(stream, horizon: float) -> list:
    """The orders of an endless stream with time < horizon."""
    return list(itertools.takewhile(lambda o: o[0] < horizon, stream))


# ----------------------------------------------------------------------------- replay


def test_replay_is_the_file_in_time_order(tmp_path):
    # rows of an order scattered, columns in any order and case, blanks and a blank line,
    # the same product twice in an order (added), a tie at t=1 kept in file order
    path = write(tmp_path, "Quantity, ORDER ,product,Time\n"
                           "2,b,gadget,1\n"
                           "1.5,a,widget,0.25\n"
                           "4,c,widget,1\n"
                           "\n"
                           "3, a ,gadget,0.25\n"
                           "0.5,a,widget,.25\n"
                           "7,d,gizmo,2.75\n")
    log = read(path)
    assert list(log.replay()) == [
        (0.25, [("widget", 2.0), ("gadget", 3.0)]),
        (1.0, [("gadget", 2.0)]),
        (1.0, [("widget", 4.0)]),
        (2.75, [("gizmo", 7.0)]),
    ]
    assert log.products == ("gadget", "widget", "gizmo")
    assert log.days == 3  # days 0, 1, 2
    assert (log.n_orders, log.n_lines, log.kind, log.start) == (4, 5, "time", None)
    assert log.orders_per_day().tolist() == [1, 2, 1]
    assert list(log.replay()) == list(log.replay())  # replay can be repeated


def test_time_log_days_floor(tmp_path):
    # day d holds d <= time < d + 1: an order at exactly 5 opens day 5 (6 days in all)
    path = write(tmp_path, "time,order,product,quantity\n0.999,a,x,1\n5,b,x,1\n")
    log = read(path)
    assert log.days == 6
    assert log.orders_per_day().tolist() == [1, 0, 0, 0, 0, 1]


def test_date_log_with_times_of_day(tmp_path):
    path = write(tmp_path, "date,order,product,quantity\n"
                           "2024-03-02T06:00:00,b,x,1\n"
                           "2024-03-01 18:00,a,x,2\n"
                           "2024-03-04T12:00,c,y,3\n")
    log = read(path)  # day 0: the first date at 00:00
    assert log.start == dt.date(2024, 3, 1)
    assert list(log.replay()) == [(0.75, [("x", 2.0)]), (1.25, [("x", 1.0)]),
                                  (3.5, [("y", 3.0)])]
    assert log.days == 4
    later = read(path, start=dt.date(2024, 2, 28))  # an explicit day 0
    assert [t for t, _ in later.replay()] == [2.75, 3.25, 5.5]
    assert later.days == 6 and later.start == dt.date(2024, 2, 28)
    assert read(path, start=dt.datetime(2024, 2, 28)).start == dt.date(2024, 2, 28)


def test_date_only_orders_spread_over_their_day_in_file_order(tmp_path):
    path = write(tmp_path, "date,order,product,quantity\n"
                           "2024-03-03,c,x,1\n"
                           "2024-03-01,a,x,1\n"
                           "2024-03-01,b,y,1\n"
                           "2024-03-01,a,y,2\n"
                           "2024-03-03,d,y,1\n"
                           "2024-03-01,e,x,5\n")
    log = read(path)
    assert list(log.replay()) == [
        (0.5 / 3, [("x", 1.0), ("y", 2.0)]),
        (1.5 / 3, [("y", 1.0)]),
        (2.5 / 3, [("x", 5.0)]),
        (2.25, [("x", 1.0)]),
        (2.75, [("y", 1.0)]),
    ]
    assert log.days == 3 and log.orders_per_day().tolist() == [3, 0, 2]


def test_time_log_ignores_start(tmp_path):
    path = write(tmp_path, "time,order,product,quantity\n1.5,a,x,1\n")
    assert [t for t, _ in read(path, start=dt.date(2020, 1, 1)).replay()] == [1.5]


def test_start_must_be_a_date(tmp_path):
    path = write(tmp_path, "date,order,product,quantity\n2024-03-01,a,x,1\n")
    with pytest.raises(ValueError, match="midnight"):
        read(path, start=dt.datetime(2024, 3, 1, 12))


def test_log_is_immutable_and_pickles(tmp_path):
    path = write(tmp_path, "time,order,product,quantity\n0.5,a,x,1\n3.25,b,y,2\n0.5,a,y,4\n")
    log = read(path)
    with pytest.raises(AttributeError):
        log.days = 9  # type: ignore[misc]
    with pytest.raises(ValueError):
        log._times[0] = 7.0
    back = pickle.loads(pickle.dumps(log))
    assert isinstance(back, OrderLog)
    assert list(back.replay()) == list(log.replay())
    assert (back.days, back.products, back.file, back.kind) == \
        (log.days, log.products, log.file, log.kind)
    with pytest.raises(ValueError):
        back._line_qty[0] = 7.0
    # small: a few bytes per line, not per day spanned
    wide = write(tmp_path, "time,order,product,quantity\n0,a,x,1\n999999,b,x,1\n", "wide.csv")
    assert len(pickle.dumps(read(wide))) < 2000


def test_reading_does_not_import_pandas():
    code = "import sys, simulator.orderlog; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- bootstrap

# ten days, each with its own recognisable orders; days 1, 3, 4, 6, 8 have none
DAY_COUNTS = [2, 0, 5, 0, 0, 1, 0, 3, 0, 7]


@pytest.fixture
def day_log(tmp_path) -> OrderLog:
    rows = ["time,order,product,quantity"]
    for day, n in enumerate(DAY_COUNTS):
        for i in range(n):
            t = day + (i + 0.5) / (n + 1)
            rows.append(f"{t!r},o{day}_{i},p{i % 3},{day * 10 + i + 1}")
            if i % 2:
                rows.append(f"{t!r},o{day}_{i},p9,{day + 0.5}")
    return read(write(tmp_path, "\n".join(rows) + "\n"))


def log_days(log: OrderLog) -> dict[int, list]:
    """Each day of the log: its orders with times of day."""
    days: dict[int, list] = {d: [] for d in range(log.days)}
    for t, lines in log.replay():
        days[math.floor(t)].append((t - math.floor(t), lines))
    return days


def test_bootstrap_keeps_whole_days(day_log):
    days = log_days(day_log)
    horizon = 300
    simulated: dict[int, list] = {k: [] for k in range(horizon)}
    previous = -1.0
    for t, lines in until(day_log.bootstrap(np.random.default_rng(7)), horizon):
        assert t >= previous
        previous = t
        simulated[math.floor(t)].append((t - math.floor(t), lines))
    drawn = Counter()
    for k, orders in simulated.items():
        same = [d for d, log_orders in days.items()
                if [lines for _, lines in log_orders] == [lines for _, lines in orders]
                and all(math.isclose(a, b, abs_tol=1e-9) for (a, _), (b, _)
                        in zip(log_orders, orders))]
        assert same, f"simulated day {k} is no day of the log: {orders}"
        drawn[same[0]] += 1
    # empty days are drawn as well as full ones, and every day of the log turns up
    assert set(drawn) == {0, 1, 2, 5, 7, 9}  # the empty days 1, 3, 4, 6, 8 look alike
    assert drawn[1] > 0


def test_bootstrap_is_reproducible_and_varies_with_the_generator(day_log):
    def first(seed: int) -> list:
        return until(day_log.bootstrap(np.random.default_rng(seed)), 60)

    assert first(1) == first(1)
    assert first(1) != first(2)


def test_bootstrap_mean_orders_per_day_matches_the_log(day_log):
    # days are drawn independently and uniformly from the log's days, so the simulated
    # count per day has the log's mean and (population) standard deviation
    counts = np.array(DAY_COUNTS, dtype=float)
    horizon = 4000
    times = np.array([t for t, _ in until(day_log.bootstrap(np.random.default_rng(11)),
                                           horizon)])
    mean = len(times) / horizon
    se = counts.std() / math.sqrt(horizon)
    assert abs(mean - counts.mean()) <= 4 * se, (mean, counts.mean(), se)
    # and its units per day too (every line's quantity counts)
    per_day = np.zeros(day_log.days)
    for t, lines in day_log.replay():
        per_day[math.floor(t)] += sum(q for _, q in lines)
    units = sum(q for _, lines in until(day_log.bootstrap(np.random.default_rng(12)),
                                        horizon) for _, q in lines) / horizon
    assert abs(units - per_day.mean()) <= 4 * per_day.std() / math.sqrt(horizon)


# ----------------------------------------------------------------------------- bad input

HEADER = "time,order,product,quantity\n"


@pytest.mark.parametrize("text, line, key, fragment", [
    ("", None, "(file)", "empty; an order log has a header row"),
    ("\n\n", None, "(file)", "empty"),
    (HEADER, None, "(file)", "no orders"),
    ("time,order,product\n1,a,x\n", 1, "(header)", "missing column 'quantity'"),
    ("order,product,quantity\na,x,1\n", 1, "(header)", "missing column 'time' or 'date'"),
    ("time,date,order,product,quantity\n", 1, "(header)", "both 'time' and 'date'"),
    ("time,order,product,quantity,price\n", 1, "(header)", "unknown column 'price'"),
    ("time,order,Order,product,quantity\n", 1, "(header)", "column 'order' appears twice"),
    ("time;order;product;quantity\n", 1, "(header)", "separate the columns with commas"),
    ("time,order,product,quantity,\n1,a,x,1,\n", 1, "(header)",
     "column 5 has no name; remove the empty column"),
    (HEADER + "1,a,x,1\n2,b,x,lots\n", 3, "quantity", "'lots' is not a number"),
    (HEADER + "1,a,x,1\n2,b,x,\n", 3, "quantity", "'' is not a number"),
    (HEADER + "1,a,x,0\n", 2, "quantity", "0 must be greater than 0"),
    (HEADER + "1,a,x,-2\n", 2, "quantity", "-2 must be greater than 0"),
    (HEADER + "1,a,x,nan\n", 2, "quantity", "'nan' is not a number"),
    (HEADER + "1,a,x,2e12\n", 2, "quantity", "2e12 is above the limit of 1e+12"),
    (HEADER + "1,a,x,1\n-0.5,b,x,1\n", 3, "time", "-0.5 is negative"),
    (HEADER + "1,a,x,1\nmonday,b,x,1\n", 3, "time", "'monday' is not a number"),
    (HEADER + "inf,b,x,1\n", 2, "time", "inf is beyond 1,000,000 days"),
    (HEADER + "nan,b,x,1\n", 2, "time", "nan is not a finite number"),
    (HEADER + "1,,x,1\n", 2, "order", "empty; every row needs an order id"),
    (HEADER + "1,a,,1\n", 2, "product", "empty; every row needs a product id"),
    (HEADER + "1,a,x,1\n2,b,x\n", 3, "(row)", "3 fields, but the header has 4"),
    (HEADER + "1,a,x,1,9\n", 2, "(row)", "5 fields, but the header has 4"),
    (HEADER + '1,a,"x,1\n2,b,x,1\n', 2, "(row)", "malformed CSV"),
    (HEADER + '1,a,"x"y,1\n', 2, "(row)", "malformed CSV"),
    (HEADER + "1,a,x,1\n2,b,x,1\n1.5,a,y,1\n", 4, "time",
     "'1.5', but order 'a' has '1' on line 2; all rows of an order have the same time"),
    ("date,order,product,quantity\n2024-03-01,a,x,1\n2024-02-30,b,x,1\n", 3, "date",
     "'2024-02-30' is not an ISO 8601 date"),
    ("date,order,product,quantity\n2024-03-01,a,x,1\n03/01/2024,b,x,1\n", 3, "date",
     "'03/01/2024' is not an ISO 8601 date"),
    ("date,order,product,quantity\n2024-03-01T10:00+02:00,a,x,1\n", 2, "date",
     "has a time zone"),
    ("date,order,product,quantity\n2024-03-01T10:00,a,x,1\n2024-03-01,b,x,1\n", 3, "date",
     "'2024-03-01' has no time of day, but line 2 has"),
    ("date,order,product,quantity\n2024-03-01,a,x,1\n2024-03-02 10:00,a,x,1\n", 3, "date",
     "has time of day, but line 2 has no"),
    ("date,order,product,quantity\n2024-03-01,a,x,1\n2024-03-02,a,y,1\n", 3, "date",
     "'2024-03-02', but order 'a' has '2024-03-01' on line 2"),
    ("date,order,product,quantity\n1024-03-01,a,x,1\n4024-03-01,b,x,1\n", 3, "date",
     "more than 1,000,000 days after 1024-03-01"),
])
def test_bad_input_names_line_and_column(tmp_path, text, line, key, fragment):
    path = write(tmp_path, text)
    problems = problems_of(path)
    assert [(p[0], p[1]) for p in problems] == [(line, key)], problems
    assert fragment in problems[0][2], problems


def test_problem_prints_file_line_column_message(tmp_path):
    path = write(tmp_path, HEADER + "1,a,x,1\n2,b,x,lots\n")
    with pytest.raises(UserError) as info:  # the CLI reports it as any other problem
        read(path)
    assert str(info.value) == f"{path}:3: quantity: 'lots' is not a number (units ordered)"
    back = pickle.loads(pickle.dumps(info.value))  # crosses process boundaries intact
    assert isinstance(back, OrderLogError) and back.problems == info.value.problems


def test_lines_count_blank_lines_crlf_and_quoted_line_breaks(tmp_path):
    # a record's line is where it starts: the quoted product of line 3 runs on to line 4
    text = ("time,order,product,quantity\r\n\r\n"
            '1,a,"big\r\nbox",{q}\r\n\r\n2,b,x,{q}\r\n')
    assert problems_of(write(tmp_path, text.format(q=0).encode())) == [
        (3, "quantity", "0 must be greater than 0"), (6, "quantity", "0 must be greater than 0")]
    fixed = write(tmp_path, text.format(q=1).encode(), "ok.csv")
    assert list(read(fixed).replay()) == [(1.0, [("big\r\nbox", 1.0)]), (2.0, [("x", 1.0)])]


def test_every_problem_of_a_row_in_column_order(tmp_path):
    path = write(tmp_path, HEADER + "-1,,,0\n")
    assert [p[1] for p in problems_of(path)] == ["time", "order", "product", "quantity"]


def test_unknown_product(tmp_path):
    path = write(tmp_path, HEADER + "1,a,widget,1\n1,a,spanner,2\n2,b,spanner,1\n")
    stocked = {"widget", "gadget"}
    assert problems_of(path, products=stocked) == [
        (3, "product", "'spanner' is not stocked; stocked products: gadget, widget"),
        (4, "product", "'spanner' is not stocked; stocked products: gadget, widget")]
    assert read(path, products={"widget", "spanner"}).products == ("widget", "spanner")


def test_date_before_start(tmp_path):
    path = write(tmp_path, "date,order,product,quantity\n2024-03-05,a,x,1\n"
                           "2024-03-01,b,x,1\n2024-03-01,b,y,1\n")
    assert problems_of(path, start=dt.date(2024, 3, 2)) == [
        (3, "date", "'2024-03-01' is before the start 2024-03-02")]


def test_not_utf8(tmp_path):
    path = write(tmp_path, HEADER.encode() + b"1,a,x,1\n2,b,caf\xe9,1\n")
    assert problems_of(path) == [
        (3, "(file)", "not UTF-8 text (byte 0xe9); save the log as UTF-8 CSV")]


def test_binary_file(tmp_path):
    path = write(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    [(line, key, message)] = problems_of(path)
    assert (line, key) == (3, "(file)") and "not a text file" in message  # NUL on line 3


def test_utf8_with_byte_order_mark(tmp_path):
    path = write(tmp_path, "\ufeff" + HEADER + "1,a,x,1\n")
    assert list(read(path).replay()) == [(1.0, [("x", 1.0)])]


def test_missing_file_and_directory(tmp_path):
    assert problems_of(tmp_path / "nope.csv") == [
        (None, "(file)", "cannot read: No such file or directory")]
    assert problems_of(tmp_path) == [(None, "(file)", "cannot read: a directory")]


def test_at_most_100_problems_then_a_count(tmp_path):
    path = write(tmp_path, HEADER + "".join(f"{i},o{i},x,none\n" for i in range(150)))
    problems = problems_of(path)
    assert len(problems) == 101
    assert problems[99][:2] == (101, "quantity")
    assert problems[100] == (None, "(file)", "... and 50 more problems")


def test_size_limits(tmp_path, monkeypatch):
    path = write(tmp_path, HEADER + "".join(f"{i},o{i},x,1\n" for i in range(20)))
    monkeypatch.setattr(orderlog, "MAX_ROWS", 12)
    assert problems_of(path) == [
        (14, "(row)", "more than 12 rows; an order log has at most that many (aggregate it, "
                      "or split it)")]
    monkeypatch.setattr(orderlog, "MAX_BYTES", 100)
    assert problems_of(path) == [
        (None, "(file)", "larger than 0 MiB; an order log is at most that (split it, or "
                         "aggregate its rows)")]
    assert orderlog.MAX_ROWS == 12 and orderlog.MAX_BYTES == 100  # both patched: restored


def test_reading_is_linear_and_fast(tmp_path):
    # 200,000 rows (about 67,000 three-line orders) read in about 0.5 s; a reader
    # quadratic in the rows would take minutes
    n = 200_000
    order = np.arange(n) // 3
    t = order * (365.0 / (n // 3 + 1))
    rows = [f"{a:.6f},o{b},p{c},{d}" for a, b, c, d in
            zip(t.tolist(), order.tolist(), (np.arange(n) * 7919 % 200).tolist(),
                (np.arange(n) % 5 + 1).tolist())]
    path = write(tmp_path, HEADER + "\n".join(rows) + "\n")
    start = time.perf_counter()
    log = read(path)
    elapsed = time.perf_counter() - start
    assert (log.n_lines, log.n_orders, log.days) == (n, n // 3 + 1, 365)
    assert elapsed < 10.0, elapsed


# ----------------------------------------------------------------------------- round trip

ORDER = st.tuples(
    st.one_of(st.integers(0, 30).map(float),
              st.floats(0, 30, allow_nan=False, allow_infinity=False)),
    st.lists(st.tuples(st.sampled_from(["w", "g", "Gizmo 2", "x,y", 'q"t', "ü"]),
                       st.floats(1e-6, 1e6, allow_nan=False)),
             min_size=1, max_size=4, unique_by=lambda line: line[0]))


@settings(max_examples=60, deadline=None)
@given(orders=st.lists(ORDER, min_size=1, max_size=12), data=st.data())
def test_round_trip(tmp_path_factory, orders, data):
    """Write a random log with its rows shuffled, read it back: the same orders, in time
    order, ties in the order their first rows appear."""
    import csv
    import io

    rows = [(i, j, t, product, q) for i, (t, lines) in enumerate(orders)
            for j, (product, q) in enumerate(lines)]
    rows = data.draw(st.permutations(rows))
    columns = data.draw(st.permutations(["Time", "order", "PRODUCT", "quantity"]))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for i, _, t, product, q in rows:
        fields = {"Time": repr(t), "order": f"order {i}", "PRODUCT": product,
                  "quantity": repr(q)}
        writer.writerow([fields[c] for c in columns])
    path = write(tmp_path_factory.mktemp("log"), out.getvalue())
    log = read(path)
    # expected: lines of an order in the order their rows come in the file
    first_row = {}
    lines_of: dict[int, list] = {}
    for position, (i, _, _, product, q) in enumerate(rows):
        first_row.setdefault(i, position)
        lines_of.setdefault(i, []).append((product, q))
    want = [(orders[i][0], lines_of[i])
            for i in sorted(first_row, key=lambda i: (orders[i][0], first_row[i]))]
    assert list(log.replay()) == want
    assert log.days == math.floor(max(t for t, _ in orders)) + 1


# ----------------------------------------------------------------------------- the docs

DOC = Path(__file__).resolve().parent.parent / "docs" / "order-logs.md"


def doc_blocks(language: str) -> list[str]:
    import re

    text = DOC.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def test_docs_examples_are_real(tmp_path, monkeypatch):
    good, bad = doc_blocks("csv")
    replay_shown, errors_shown = doc_blocks("text")
    log = read(write(tmp_path, good))
    replayed = [" ".join([repr(t)] + [f"{p}={q:g}" for p, q in lines])
                for t, lines in log.replay()]
    assert replayed == replay_shown.splitlines()
    monkeypatch.chdir(tmp_path)
    write(tmp_path, bad)
    with pytest.raises(OrderLogError) as info:
        read("orders.csv", products={"widget", "gadget"})
    assert str(info.value).splitlines() == errors_shown.splitlines()
    # the Python API example runs on the good example and shows the right values
    write(tmp_path, good)
    [api] = doc_blocks("python")
    names: dict = {}
    exec(compile(api, str(DOC), "exec"), names)
    log = names["log"]
    assert (log.days, log.products, log.n_orders, log.n_lines) == \
        (3, ("widget", "gadget"), 3, 4)
    assert log.orders_per_day().tolist() == [2, 0, 1]
