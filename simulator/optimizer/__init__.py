"""``simulator optimize``: tune numeric scenario values to minimise the mean total cost
(SPEC section 9; docs/optimize.md).

>>> import simulator
>>> res = simulator.optimize("scenarios/quickstart.yaml",                  # doctest: +SKIP
...     ["warehouses.dc.inventory.widget.policy.s=20:120"], budget=40,
...     constraints=["fill_rate[dc/widget]>=0.95"], out="results/opt")
>>> res.best, res.trace                                                     # doctest: +SKIP
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulator.optimizer.core import DEFAULT_BATCH, METHODS, OptimizeResult

__all__ = ["DEFAULT_BATCH", "METHODS", "OptimizeResult", "optimize"]


def optimize(scenario: Any, params: Sequence[str], *, method: str = "annealing",
             budget: int = 50, constraints: Sequence[str] = (), seed: int = 0,
             batch: int = DEFAULT_BATCH, levels: int | None = None,
             out: str | os.PathLike[str] | None = None, overwrite: bool = False,
             resume: bool = False, jobs: int = 1, dask: str | None = None,
             progress: bool | None = None) -> OptimizeResult:
    """Search numeric scenario values for the least mean total cost over the replications.

    Parameters
    ----------
    scenario : str, path, dict or Scenario
        The scenario; its replications and seed are those of every candidate (common random
        numbers: candidate differences are not sampling noise of independent runs).
    params : str or sequence of str
        ``"KEY=LOW:HIGH"`` or ``"KEY=LOW:HIGH:STEP"``: a dotted key of a numeric value and
        its range (whole numbers stay whole).
    method : {"annealing", "grid"}
        Simulated annealing, or the full grid (``levels`` values per param, or its steps).
    budget : int
        Candidates evaluated, at most.
    constraints : str or sequence of str
        ``"METRIC>=X"``, ``"METRIC<=X"`` (network total) or ``"METRIC[WH/PRODUCT]>=X"``
        (one stock point), judged on the mean over replications.
    seed : int
        Seed of the search's own random stream (not the scenario's).
    batch : int
        Candidates proposed per annealing step and evaluated together.
    levels : int, optional
        Grid values per param without a step (default: as many as fit the budget).
    out : path, optional
        Results folder (``trace.csv``, ``best.yaml``, ``optimize.json``); finished candidates
        are kept beside it while the search runs, so ``resume=True`` can continue it.
    overwrite, resume : bool
        Replace a results folder of this tool; continue an interrupted search into ``out``.
    jobs : int
        Worker processes (1: this process; 0: one per core). The result does not depend on it.
    dask : str, optional
        ``"local"`` or a scheduler address: evaluate on a Dask cluster.
    progress : bool, optional
        As for :func:`simulator.run`.

    Returns
    -------
    OptimizeResult
        ``best`` (key -> value), ``trace`` (one row per candidate), ``scenario`` (the best),
        ``info`` (provenance).

    Raises
    ------
    simulator.errors.UserError
        For a bad param, constraint or setting (nothing is run).
    """
    from simulator.experiment.runner import check_dask, check_jobs
    from simulator.optimizer.core import check_numbers, finish, parse_all, search
    from simulator.results import check_out
    from simulator.scenario import load

    check_numbers(method, budget, seed, batch, levels)
    params = [params] if isinstance(params, str) else list(params)
    constraints = [constraints] if isinstance(constraints, str) else list(constraints)
    jobs = check_jobs(jobs) or os.cpu_count() or 1
    address = check_dask(dask)
    sc = load(scenario)
    ps, cs = parse_all(sc, params, constraints)
    claim = check_out(Path(out), overwrite, "overwrite=True") if out is not None else None
    res = search(sc, ps, cs, method=method, budget=budget, seed=seed, batch=batch,
                 levels=levels, out=Path(out) if out is not None else None, resume=resume,
                 jobs=jobs, dask=address, progress=progress)
    if claim is not None:
        finish(res, claim)
    return res
