"""simulator: a discrete-event supply chain simulator on SimPy.

>>> import simulator
>>> res = simulator.run("scenarios/quickstart.yaml", replications=10, seed=1)  # doctest: +SKIP
>>> res.metrics, res.summary                                                     # doctest: +SKIP
>>> res.save("results/x")                                                        # doctest: +SKIP

``import simulator`` is cheap: :func:`run`, :func:`compare`, :func:`load`, :class:`Results`
and :class:`Scenario` are imported on first use (PEP 562), so the command line does not pay
for pandas, pydantic or SimPy before it needs them.
"""
from __future__ import annotations

# first of all: a quiet Ctrl-C while the `simulator` command starts
import simulator._startup  # noqa: F401

# isort: split
import importlib
from typing import TYPE_CHECKING, Any

from simulator.errors import Problem, ScenarioError, UserError

if TYPE_CHECKING:  # the real names, for type checkers and IDEs
    from simulator.comparison import compare
    from simulator.experiment.runner import run
    from simulator.optimizer import optimize
    from simulator.results import Results
    from simulator.scenario import Scenario, load

#: public name -> module that defines it (imported on first access)
_LAZY = {
    "compare": "simulator.comparison",
    "run": "simulator.experiment.runner",
    "optimize": "simulator.optimizer",
    "Results": "simulator.results",
    "Scenario": "simulator.scenario",
    "load": "simulator.scenario",
}

__all__ = [
    "Problem",
    "Results",
    "Scenario",
    "ScenarioError",
    "UserError",
    "__version__",
    "compare",
    "load",
    "optimize",
    "run",
]


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("simulator")
    except Exception:  # pragma: no cover - running from a source tree without install
        return "0+unknown"


def __getattr__(name: str) -> Any:
    """Import :func:`run`, :func:`load`, :class:`Results`, :class:`Scenario` and
    ``__version__`` on first access, then keep them as ordinary module attributes."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name == "__version__":
        value = _version()
    else:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
