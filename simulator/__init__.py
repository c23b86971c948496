"""simulator: a discrete-event supply chain simulator on SimPy.

>>> import simulator
>>> res = simulator.run("scenarios/quickstart.yaml", replications=10, seed=1)  # doctest: +SKIP
>>> res.metrics, res.summary                                                     # doctest: +SKIP
>>> res.save("results/x")                                                        # doctest: +SKIP
"""
from __future__ import annotations

from simulator.errors import Problem, ScenarioError, UserError
from simulator.experiment.runner import run
from simulator.results import Results
from simulator.scenario import Scenario, load

try:
    from importlib.metadata import version as _version
    __version__ = _version("simulator")
except Exception:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "Problem",
    "Results",
    "Scenario",
    "ScenarioError",
    "UserError",
    "__version__",
    "load",
    "run",
]
