"""Sweep plots (simulator/plots/sweep.py): the numbers behind them and the PNG files."""
from __future__ import annotations

import math
import struct
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from simulator.plots import sweep as sp

S = "warehouses.dc.inventory.widget.policy.s"
BIG_S = "warehouses.dc.inventory.widget.policy.S"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _table(points, reps=3, seed=0):
    """A sweep table: ``points`` maps a tuple of key values to (cost, fill) of dc/widget;
    dc/gadget has a fixed cost 10 and fill 1; a little noise per replication."""
    rng = np.random.default_rng(seed)
    keys = [S] if len(next(iter(points))) == 1 else [S, BIG_S]
    rows = []
    for values, (cost, fill) in points.items():
        for r in range(reps):
            e = rng.normal(0, 0.01)
            base = dict(zip(keys, values))
            rows.append({**base, "replication": r, "warehouse": "dc", "product": "widget",
                         "demand_units": 100.0, "fill_rate": fill + e, "total_cost": cost + e})
            rows.append({**base, "replication": r, "warehouse": "dc", "product": "gadget",
                         "demand_units": 50.0, "fill_rate": 1.0, "total_cost": 10.0})
    return pd.DataFrame(rows)


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# -- numbers -------------------------------------------------------------------------------

def test_pareto_front_by_hand():
    cost = [10, 12, 12, 15, 9, 20, 10, math.nan, 15]
    fill = [0.90, 0.95, 0.93, 0.95, 0.80, 0.99, 0.90, 1.0, 0.97]
    # 0 and 6 identical (both kept); 2 dominated by 1 (same cost, lower fill); 3 by 1 (same
    # fill, dearer); 7 has no cost; 8 beats 3
    expected = [True, True, False, False, True, True, True, False, True]
    assert sp.pareto_front(cost, fill).tolist() == expected


def test_pareto_front_matches_brute_force():
    rng = np.random.default_rng(3)
    cost = rng.integers(0, 8, 200).astype(float)  # many ties
    fill = rng.integers(0, 8, 200) / 8
    brute = [not any((cost[j] <= cost[i] and fill[j] >= fill[i])
                     and (cost[j] < cost[i] or fill[j] > fill[i]) for j in range(200))
             for i in range(200)]
    assert sp.pareto_front(cost, fill).tolist() == brute


def test_network_totals_weight_fill_rate_by_demand():
    t = _table({(1,): (100.0, 0.6)}, reps=1)
    tot = sp.totals(t, [S], ["fill_rate", "total_cost"])
    row = tot.iloc[0]
    assert (row["warehouse"], row["product"]) == (sp.TOTAL, sp.TOTAL)
    fill = t["fill_rate"].iloc[0]
    assert row["fill_rate"] == pytest.approx((100 * fill + 50 * 1.0) / 150, rel=1e-14)
    assert row["total_cost"] == pytest.approx(t["total_cost"].sum(), rel=1e-14)


def test_pareto_points_of_a_small_sweep():
    """Network totals per point (cost + 10, fill (100 f + 50) / 150): s=1 is dominated by
    s=3 (same fill, cheaper), s=5 by s=4 (dearer, lower fill); s=2, 3, 4 form the front."""
    t = _table({(1,): (30.0, 0.70), (2,): (25.0, 0.72), (3,): (20.0, 0.70),
                (4,): (40.0, 0.95), (5,): (45.0, 0.90)}, reps=1)
    pts = sp.pareto_points(t)
    assert pts[S].tolist() == [1, 2, 3, 4, 5]
    assert pts["pareto"].tolist() == [False, True, True, True, False]
    widget = t[t["product"] == "widget"].reset_index(drop=True)
    assert pts["total_cost"].tolist() == pytest.approx((widget["total_cost"] + 10).tolist())
    assert pts["fill_rate"].tolist() == pytest.approx(
        ((100 * widget["fill_rate"] + 50) / 150).tolist())


def test_point_summary_interval_is_student_t():
    from scipy import stats
    t = _table({(1,): (30.0, 0.7), (2,): (20.0, 0.8)}, reps=6, seed=4)
    s = sp.point_summary(t, "total_cost")
    assert len(s) == 4 and (s["n"] == 6).all()
    for _, row in s.iterrows():
        sel = t[(t[S] == row[S]) & (t["product"] == row["product"])]["total_cost"]
        if sel.std() == 0:
            assert row["ci95_low"] == row["ci95_high"] == row["mean"]
            continue
        low, high = stats.t.interval(0.95, len(sel) - 1, loc=sel.mean(), scale=stats.sem(sel))
        assert (row["ci95_low"], row["ci95_high"]) == pytest.approx((low, high), rel=1e-10)
    tot = sp.point_summary(t, "total_cost", total=True)
    assert len(tot) == 2 and set(tot["warehouse"]) == {sp.TOTAL}


def test_not_a_sweep_table():
    with pytest.raises(ValueError, match="no column warehouse"):
        sp.swept_keys(pd.DataFrame({"a": [1], "replication": [0], "product": ["w"]}))
    with pytest.raises(ValueError, match="no swept-key column"):
        sp.swept_keys(pd.DataFrame(columns=["replication", "warehouse", "product"]))
    two = _table({(1, 10): (1.0, 0.5)})
    with pytest.raises(ValueError, match="one swept key, the table has 2"):
        sp.line_plots(two, "unused")
    with pytest.raises(ValueError, match="no column bogus"):
        sp.heatmaps(two, "unused", ["bogus"])


# -- files -----------------------------------------------------------------------------------

def test_one_key_writes_line_plots_and_pareto(tmp_path):
    t = _table({(s,): (20.0 + s, 0.5 + s / 20) for s in range(1, 6)})
    paths = sp.plot_sweep(t, tmp_path / "plots")
    names = sorted(p.name for p in paths)
    assert names == ["pareto.png", "sweep_fill_rate.png", "sweep_fill_rate_total.png",
                     "sweep_total_cost.png", "sweep_total_cost_total.png"]
    for p in paths:
        assert p.parent == tmp_path / "plots"
        assert _png_size(p) == (700, 450)
    assert sorted(x.name for x in (tmp_path / "plots").iterdir()) == names  # nothing else


def test_two_keys_write_heatmaps(tmp_path):
    t = _table({(s, big): (s * big, 1 - 1 / (s + big)) for s in (1, 2, 3) for big in (10, 20)})
    paths = sp.plot_sweep(t, tmp_path)
    assert sorted(p.name for p in paths) == ["heatmap_fill_rate.png", "heatmap_total_cost.png",
                                             "pareto.png"]
    assert _png_size(tmp_path / "heatmap_total_cost.png") == (700, 500)
    from matplotlib.image import imread
    assert imread(tmp_path / "heatmap_total_cost.png").shape[:2] == (500, 700)


def test_categorical_key(tmp_path):
    t = _table({(v,): (c, f) for v, c, f in [("sS", 30.0, 0.9), ("rQ", 25.0, 0.8)]})
    (path,) = sp.line_plots(t, tmp_path, ["fill_rate"])
    assert _png_size(path) == (700, 450)


def test_plots_are_headless():
    """No pyplot (no GUI backend, no global figure state) even with a display set."""
    code = ("import numpy as np, pandas as pd, sys, tempfile\n"
            "from simulator.plots import sweep as sp\n"
            "t = pd.DataFrame({'k': [1, 1, 2, 2], 'replication': [0, 1, 0, 1],\n"
            "  'warehouse': 'dc', 'product': 'w', 'demand_units': 5.0,\n"
            "  'fill_rate': [.5, .6, .7, .8], 'total_cost': [1., 2., 3., 4.]})\n"
            "sp.plot_sweep(t, tempfile.mkdtemp())\n"
            "assert 'matplotlib.pyplot' not in sys.modules\n")
    env = {"PATH": "", "DISPLAY": ":99", "MPLBACKEND": "TkAgg"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
