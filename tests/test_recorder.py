"""The time-series recorder (``--record``): bounded, exact against the event log, invisible to
the metrics, carried back by worker processes."""
from __future__ import annotations

import bisect
from pathlib import Path

import pandas as pd
import pytest

import simulator
from simulator.cli import main
from simulator.errors import UserError
from simulator.experiment.keys import apply_overrides
from simulator.model import Network
from simulator.observe.eventlog import EventLog
from simulator.observe.recorder import Recorder, Thinned
from simulator.results import SERIES_COLUMNS, Results

ROOT = Path(__file__).resolve().parent.parent
TWO_ECHELON = ROOT / "scenarios" / "two_echelon.yaml"


def scenario(**changes):
    return apply_overrides(simulator.load(TWO_ECHELON), changes)


def test_thinned_keeps_every_stride_th_row_and_never_more_than_the_bound():
    buf = Thinned(64)
    for n in range(10_000):
        buf.offer((float(n),))
        assert len(buf.rows) <= 64
    assert buf.stride & (buf.stride - 1) == 0  # a power of two
    assert [r[0] for r in buf.rows] == list(range(0, 10_000, buf.stride))
    assert len(buf.rows) > 32  # halved only when full: at least half the bound is used


def recorded_with_log(max_points: int, horizon: float = 730.0):
    sc = scenario(horizon=horizon)
    net = Network(sc, 0, 11)
    log = EventLog()
    net.attach(lambda sp: log)
    rec = Recorder(net, max_points)
    net.start()
    net.run(sc.horizon)
    rec.close(sc.horizon)
    return sc, rec, log.records


@pytest.mark.parametrize("points", [40, 731])  # 731: daily samples, at instants with events
def test_level_samples_equal_the_event_log_at_each_sampled_instant_and_are_bounded(points):
    sc, rec, records = recorded_with_log(max_points=points)
    checked = 0
    for (wh, prod), point in rec.points.items():
        mine = [r for r in records if r[2] == wh and r[3] == prod]
        times = [r[0] for r in mine]
        assert len(point.level) <= points
        assert point.level[-1][0] == sc.horizon
        assert len(mine) > 5 * 40  # a run long enough for the bound of 40 to matter
        for t, oh, ip, bo, qty in point.level:
            i = bisect.bisect_right(times, t)  # the last change at or before t
            if i == 0:
                continue
            r_oh, r_bo, r_oo = mine[i - 1][-3:]
            assert (oh, ip, bo) == (r_oh, r_oh + r_oo - r_bo, r_bo), (wh, t)
            assert qty != qty  # NaN: a level sample has no quantity
            checked += 1
    assert checked > 3 * 0.75 * points


def test_orders_and_receipts_are_every_stride_th_of_the_log_with_levels_after_them():
    _, rec, records = recorded_with_log(max_points=20)
    for (wh, prod), point in rec.points.items():
        for kind, buf in (("order", point.order), ("receive", point.receipt)):
            mine = [r for r in records if r[1] == kind and r[2] == wh and r[3] == prod]
            want = [(r[0], r[-3], r[-3] + r[-1] - r[-2], r[-2], r[4])
                    for r in mine][::buf.stride]
            assert len(buf.rows) <= 20
            assert buf.rows == want, (wh, kind)
    assert max(p.order.stride for p in rec.points.values()) >= 4  # thinning happened


@pytest.fixture(scope="module")
def plain_and_recorded():
    sc = scenario(horizon=400)
    plain = simulator.run(sc, replications=3, progress=False)
    recorded = simulator.run(sc, replications=3, progress=False, record="all")
    return plain, recorded


def test_metrics_are_identical_with_and_without_recording(plain_and_recorded):
    plain, recorded = plain_and_recorded
    assert plain.series is None
    for name in ("metrics", "warnings", "customer_metrics", "supplier_metrics", "summary"):
        pd.testing.assert_frame_equal(getattr(plain, name), getattr(recorded, name))


def test_record_all_covers_every_replication_and_record_true_only_the_first(
        plain_and_recorded):
    _, recorded = plain_and_recorded
    s = recorded.series
    assert list(s.columns) == SERIES_COLUMNS
    assert sorted(s["replication"].unique()) == [0, 1, 2]
    assert set(s["kind"]) == {"level", "order", "receipt"}
    first = simulator.run(scenario(horizon=400), replications=3, progress=False, record=True)
    assert sorted(first.series["replication"].unique()) == [0]
    pd.testing.assert_frame_equal(first.series, s[s["replication"] == 0])


def test_worker_processes_carry_the_series_back(plain_and_recorded):
    _, serial = plain_and_recorded
    pooled = simulator.run(scenario(horizon=400), replications=3, progress=False,
                           record="all", jobs=2)
    pd.testing.assert_frame_equal(pooled.series, serial.series)


def test_record_points_bounds_the_series_through_the_api():
    res = simulator.run(scenario(), replications=1, progress=False, record=True,
                        record_points=25)
    sizes = res.series.groupby(["warehouse", "product", "kind"]).size()
    assert sizes.max() <= 25
    assert sizes.loc[(slice(None), slice(None), "order")].max() > 12


@pytest.mark.parametrize("kwargs, key", [({"record": "some"}, "record"),
                                         ({"record": True, "record_points": 1},
                                          "record_points")])
def test_bad_record_arguments_are_user_errors(kwargs, key):
    with pytest.raises(UserError) as err:
        simulator.run(TWO_ECHELON, replications=1, progress=False, **kwargs)
    assert [p.key for p in err.value.problems] == [key]


def test_cli_record_writes_timeseries_parquet_read_back_by_results_load(tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", str(TWO_ECHELON), "--record", "--out", str(out), "--quiet",
                 "--replications", "2"]) == 0
    assert (out / "timeseries.parquet").is_file()
    back = Results.load(out)
    assert sorted(back.series["replication"].unique()) == [0]
    again = simulator.run(TWO_ECHELON, replications=2, progress=False, record=True)
    pd.testing.assert_frame_equal(back.series, again.series)
    pd.testing.assert_frame_equal(back.summary, pd.read_csv(out / "summary.csv"))
    assert main(["run", str(TWO_ECHELON), "--out", str(tmp_path / "plain"), "--quiet",
                 "--replications", "1"]) == 0
    assert not (tmp_path / "plain" / "timeseries.parquet").exists()
    assert Results.load(tmp_path / "plain").series is None


def test_dask_workers_carry_the_series_back(plain_and_recorded):
    pytest.importorskip("distributed")
    _, serial = plain_and_recorded
    on_dask = simulator.run(scenario(horizon=400), replications=3, progress=False,
                            record="all", jobs=2, dask="local")
    pd.testing.assert_frame_equal(on_dask.series, serial.series)
