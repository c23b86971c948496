"""Keep the user documentation true to the code.

* docs/scenario-reference.md names (as `code`) every scenario key, distribution kind and key,
  built-in policy and parameter, metric and `simulator run` flag that the code defines; its
  minimal file is valid and its `simulator validate` examples print what they show.
* docs/policies.md: the policy classes in its code blocks are written to a module and run in
  its scenario, its conformance snippet passes on them, and its error examples are real.
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import policies
import simulator
from simulator.cli import _parser, main
from simulator.distributions import KINDS
from simulator.errors import PolicyError
from simulator.observe.customers import CUSTOMER_METRICS
from simulator.observe.metrics import METRICS
from simulator.scenario.models import (
    Customer,
    Demand,
    Inventory,
    OrderLine,
    Orders,
    Pattern,
    Period,
    Product,
    Promotion,
    Regime,
    Scenario,
    Supplier,
    UpDown,
    Warehouse,
    Warnings,
)

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE = (DOCS / "scenario-reference.md").read_text(encoding="utf-8")
POLICIES_DOC = (DOCS / "policies.md").read_text(encoding="utf-8")

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
MODELS = [Product, Supplier, Period, UpDown, Inventory, Warehouse, Demand, Pattern, Promotion,
          Regime, Customer, Orders, OrderLine, Warnings, Scenario]


def code_spans(markdown: str) -> set[str]:
    """Every inline `code` span outside fenced blocks, stripped."""
    text = FENCE.sub("", markdown)
    return {s.strip() for s in re.findall(r"`([^`\n]+)`", text)}


SPANS = code_spans(REFERENCE)


def documented(name: str) -> bool:
    """``name`` is a code span by itself, or begins one (``--out DIR``)."""
    return any(s == name or s.split()[0] == name for s in SPANS)


def blocks(markdown: str, lang: str) -> list[str]:
    return [body for kind, body in FENCE.findall(markdown) if kind == lang]


def literals(annotation: object) -> list[str]:
    """The allowed values of a Literal annotation (also inside Optional / Annotated)."""
    if typing.get_origin(annotation) is typing.Literal:
        return [str(a) for a in typing.get_args(annotation)]
    return [v for a in typing.get_args(annotation) for v in literals(a)]


# -- scenario-reference.md: everything the code defines is named ----------------------------

@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_scenario_key_is_documented(model):
    missing = [f.alias or name for name, f in model.model_fields.items()
               if not documented(f.alias or name)]
    assert not missing, f"{model.__name__} keys missing from scenario-reference.md: {missing}"
    values = [v for f in model.model_fields.values() for v in literals(f.annotation)]
    assert [v for v in values if not documented(v)] == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_distribution_and_key_is_documented(kind):
    assert documented(kind)
    keys = [f.alias or name for name, f in KINDS[kind].model_fields.items()]
    assert [k for k in keys if not documented(k)] == [], kind


@pytest.mark.parametrize("name", sorted(policies.BUILTIN))
def test_every_builtin_policy_and_parameter_is_documented(name):
    assert documented(name)
    params = list(policies.BUILTIN[name].model_fields)
    assert [p for p in params if not documented(p)] == [], name


def test_every_metric_is_documented():
    assert [m for m in METRICS if not documented(m)] == []
    assert [m for m in CUSTOMER_METRICS if not documented(m)] == []


@pytest.mark.parametrize("command", ["run", "forecast", "compare"])
def test_every_flag_is_documented(command):
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert {"run", "validate", "forecast", "compare"} <= set(sub.choices)
    flags = [max(a.option_strings, key=len) for a in sub.choices[command]._actions
             if a.option_strings and not isinstance(a, argparse._HelpAction)]
    assert flags, "no flags found: has the parser changed shape?"
    assert [f for f in flags if not documented(f)] == []


def test_every_forecast_method_is_documented():
    from simulator.forecast import METHODS
    assert [m for m in METHODS if not documented(m)] == []


# -- scenario-reference.md: examples are real -----------------------------------------------

def test_minimal_file_is_valid(tmp_path):
    text = REFERENCE.split("A minimal complete file:", 1)[1]
    path = tmp_path / "minimal.yaml"
    path.write_text(blocks(text, "yaml")[0])
    assert simulator.load(path).name == "minimal"


VALIDATE_EXAMPLE = re.compile(
    r"`(?P<file>[\w.-]+\.yaml)`:\n\n```yaml\n(?P<yaml>.*?)^```\n\n```text\n"
    r"\$ simulator validate (?P=file)\n(?P<out>.*?)^```", re.S | re.M)


def test_validate_examples_print_what_the_docs_show(tmp_path, monkeypatch, capsys):
    examples = list(VALIDATE_EXAMPLE.finditer(REFERENCE))
    assert len(examples) >= 2
    monkeypatch.chdir(tmp_path)
    for ex in examples:
        (tmp_path / ex["file"]).write_text(ex["yaml"])
        assert main(["validate", ex["file"]]) == 2
        assert capsys.readouterr().err.splitlines() == ex["out"].splitlines(), ex["file"]


# -- policies.md: the examples run ------------------------------------------------------------

def policy_module() -> str:
    """The documented policy classes, one block after the other, as ``my_policies.py``."""
    found = [b for b in blocks(POLICIES_DOC, "python")
             if "def order_quantity" in b and "class " in b and "def check_policy" not in b]
    assert len(found) == 2, "expected the plain-class and the Policy-subclass examples"
    return "\n\n".join(found)


def demo_scenario() -> str:
    (text,) = [b for b in blocks(POLICIES_DOC, "yaml") if "my_policies:" in b and "name:" in b]
    return text


@pytest.fixture
def shop(tmp_path, monkeypatch):
    """A folder with the documented ``my_policies.py`` and ``shop.yaml``, importable fresh."""
    (tmp_path / "my_policies.py").write_text(policy_module())
    (tmp_path / "shop.yaml").write_text(demo_scenario())
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_policies", raising=False)
    importlib.invalidate_caches()
    yield tmp_path
    sys.modules.pop("my_policies", None)


def test_documented_policies_run_in_the_documented_scenario(shop):
    res = simulator.run(shop / "shop.yaml", progress=False)
    m = res.metrics
    assert set(m["product"]) == {"tea", "mug"} and len(m) == 2 * res.scenario.replications
    assert (m["orders_placed"] > 0).all()
    assert ((m["fill_rate"] > 0.5) & (m["fill_rate"] <= 1)).all()
    used = res.info["policies"]
    assert used["shop/tea"]["type"] == "my_policies:DaysOfCover"
    assert used["shop/tea"]["level"] == 112.0  # ceil(8/day x (10 + 4) days), as documented
    assert '"level": 112.0' in POLICIES_DOC
    assert used["shop/mug"] == {"type": "my_policies:MinOrderSS", "review_period": 0.0,
                                "s": 15.0, "S": 40.0, "min_order": 30.0}


def test_documented_conformance_snippet_passes(shop):
    (snippet,) = [b for b in blocks(POLICIES_DOC, "python") if "def check_policy" in b]
    exec(compile(snippet, "policies.md", "exec"), {"__name__": "policies_md"})


def test_documented_conformance_snippet_catches_a_broken_policy(shop):
    (snippet,) = [b for b in blocks(POLICIES_DOC, "python") if "def check_policy" in b]
    definitions = snippet.split("from my_policies import", 1)[0]
    ns: dict = {"__name__": "policies_md"}
    exec(compile(definitions, "policies.md", "exec"), ns)

    class Greedy:  # orders 1 unit at every review, whatever the position
        def order_quantity(self, view):
            return 1.0

    with pytest.raises(AssertionError):
        ns["check_policy"](Greedy(), policies.PolicyContext("w", "p", 1.0, 1.0, 1.0, 0.0))


def test_documented_parameter_errors_are_real(shop, capsys, monkeypatch):
    fragment = next(b for b in blocks(POLICIES_DOC, "yaml") if "max_order" in b)
    new = {line.split('"')[1]: line for line in fragment.splitlines() if "policy:" in line}
    lines = demo_scenario().splitlines()
    for i, line in enumerate(lines):
        if "policy:" in line and line.split('"')[1] in new:
            lines[i] = new[line.split('"')[1]]
    (shop / "shop.yaml").write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(shop)
    assert main(["validate", "shop.yaml"]) == 2
    err = capsys.readouterr().err.splitlines()
    shown = POLICIES_DOC.split("$ simulator validate shop.yaml\n", 1)[1].split("```")[0]
    assert err == shown.splitlines()


def test_documented_runtime_error_is_real(shop):
    doc_line = re.search(r"/tmp/shop/my_policies\.py:(\d+): warehouses\.0\.inventory\.tea\.policy: "
                         r"order_quantity failed at t=0: (.*)", POLICIES_DOC)
    assert doc_line, "the AttributeError example is gone from policies.md"
    module = (shop / "my_policies.py").read_text().splitlines()
    line = int(doc_line[1])
    assert "self.level - view.position" in module[line - 1]
    module[line - 1] = module[line - 1].replace("view.position", "view.positon")
    (shop / "my_policies.py").write_text("\n".join(module) + "\n")
    with pytest.raises(PolicyError) as exc:
        simulator.run(shop / "shop.yaml", progress=False)
    (p,) = exc.value.problems
    assert (p.file, p.line, p.key) == (str(shop / "my_policies.py"), line,
                                       "warehouses.0.inventory.tea.policy")
    assert p.message == f"order_quantity failed at t=0: {doc_line[2]}"
    # and the non-number example points at the `def order_quantity` line just above
    returned = re.search(r"/tmp/shop/my_policies\.py:(\d+): warehouses\.0\.inventory\.tea\.policy: "
                         r"order_quantity returned None", POLICIES_DOC)
    assert returned and module[int(returned[1]) - 1].strip() == "def order_quantity(self, view):"


# -- README: what is shown works as shown ---------------------------------------------------

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_setup_commands_activate_the_environment_the_tour_uses():
    setup = [b for b in blocks(README, "bash") if "python3 -m venv .venv" in b]
    assert len(setup) == 2
    for block in setup:
        steps = [s.strip() for s in block.strip().split("&&")]
        assert steps[:2] == ["python3 -m venv .venv", ". .venv/bin/activate"], steps
        assert not any(s.startswith(".venv/") for s in steps[2:])  # plain names after it


def test_the_tour_runs_as_shown(tmp_path):
    # the tour's `$ simulator validate ...` runs with the environment's bin on PATH (what
    # activation does) and prints what the README shows
    tour = README.split("## A short tour", 1)[1]
    text = blocks(tour, "text")[0]
    lines = text.splitlines()
    i = lines.index("$ simulator validate scenarios/quickstart.yaml")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(lines[i][2:], shell=True, cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, lines[i + 1] + "\n"), done.stderr
