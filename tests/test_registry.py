"""The policy registry: built-in names never scan the installed packages, the entry-point
scan happens at most once per process, and a user's own ``policies.py`` (shadowed by our
``policies`` package) gets an explanation instead of "module 'policies' has no class"."""
from __future__ import annotations

import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import policies
import simulator
from policies.classic import SS, BaseStock
from simulator.cli import main


@pytest.fixture
def scans(monkeypatch):
    """Replace the entry-point scan by a counted fake with two plug-ins (one broken, one
    named like a built-in) and a good one; caches are emptied before and after."""
    calls = []
    eps = [EntryPoint("topup", "policies.classic:BaseStock", policies.ENTRY_POINT_GROUP),
           EntryPoint("broken", "no_such_module_xyz:Nope", policies.ENTRY_POINT_GROUP),
           EntryPoint("sS", "policies.classic:BaseStock", policies.ENTRY_POINT_GROUP)]

    def fake(group):
        calls.append(group)
        return [ep for ep in eps if ep.group == group]

    policies._plugins.cache_clear()
    policies._load_plugin.cache_clear()
    monkeypatch.setattr(policies, "entry_points", fake)
    yield calls
    policies._plugins.cache_clear()
    policies._load_plugin.cache_clear()


def test_builtin_names_do_not_scan_entry_points(scans):
    for _ in range(3):
        for name in ("sS", "rQ", "base_stock", "eoq"):
            policies.resolve(name)
    assert scans == []


def test_validating_builtin_policies_does_not_scan(scans):
    policies.validate({"type": "sS", "s": 1, "S": 5})
    simulator.load(Path(__file__).parents[1] / "scenarios" / "quickstart.yaml")
    assert scans == []


def test_entry_points_are_scanned_once_per_process(scans):
    assert policies.resolve("topup") is BaseStock
    assert policies.resolve("topup") is BaseStock
    for _ in range(2):
        with pytest.raises(policies.UnknownPolicy):
            policies.resolve("nope")
    policies.available()
    assert scans == [policies.ENTRY_POINT_GROUP]


def test_builtins_win_and_a_broken_plugin_is_skipped(scans):
    assert policies.resolve("sS") is SS
    assert policies.available()["sS"] is SS
    assert "broken" not in policies.available()
    with pytest.raises(policies.UnknownPolicy, match="valid types: annealing, base_stock, eoq, lp, "
                                                     "order_up_to, rQ, sS, "
                                                     "topup"):
        policies.resolve("broken")


MINE = '''
class MyPolicy:
    review_period = 0

    def __init__(self, level: float = 5):
        self.level = level

    def order_quantity(self, view):
        return max(0.0, self.level - view.position)
'''

SCENARIO = """\
name: shadow
horizon: 20
products: [{{id: p, holding_cost: 1}}]
suppliers: [{{id: s, lead_time: 1}}]
warehouses:
  - id: w
    inventory:
      p: {{source: s, policy: {{type: "{type}", level: 4}}}}
customers:
  - {{id: c, warehouse: w, demand: {{p: {{rate: 3}}}}}}
"""


def _write(tmp_path, module: str | None, type_: str):
    if module is not None:
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(MINE))
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(type=type_))
    return path


def test_own_policies_py_is_explained(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, "policies", "policies:MyPolicy")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:8: warehouses.0.inventory.p.policy: " in err
    assert "simulator's own package" in err
    assert str(tmp_path / "policies.py") in err
    assert 'rename your file (e.g. my_policies.py) and use type: "my_policies:MyPolicy"' in err
    assert "Traceback" not in err


def test_missing_class_in_our_package_suggests_renaming(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, None, "policies:MyPolicy")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "has no class 'MyPolicy'" in err
    assert "my_policies.py" in err


def test_renamed_file_works_and_builtin_module_path_still_resolves(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, "my_policies_shadow_test", "my_policies_shadow_test:MyPolicy")
    sc = simulator.load(path)
    assert sc.warehouses[0].inventory["p"].policy["type"] == "my_policies_shadow_test:MyPolicy"
    assert policies.resolve("policies:SS", [str(tmp_path)]) is SS


@pytest.mark.parametrize(("spec", "want"), [
    ({"type": "sS", "s": 5.0, "S": 20.0, "review_period": 0.0}, 20.0),
    ({"type": "base_stock", "S": -3.0, "review_period": 1.0}, 0.0),
    ({"type": "rQ", "r": 5.0, "Q": 10.0, "review_period": 0.0}, 0.0),
    ({"type": "eoq", "r": None, "Q": None, "service_level": 0.9, "review_period": 0.0}, 0.0),
])
def test_default_initial_is_the_order_up_to_level(spec, want):
    assert policies.default_initial(spec) == want
    # the same as building the policy the slow way
    built = policies.build({k: v for k, v in spec.items() if k != "type"},
                           policies.resolve(spec["type"]))
    assert want == max(0.0, float(getattr(built, "order_up_to", None) or 0.0))


def test_default_initial_of_a_users_class(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "my_level_policies.py").write_text(textwrap.dedent('''
        class Level:
            review_period = 0
            def __init__(self, level: float = 5):
                self.order_up_to = 2 * level
            def order_quantity(self, view):
                return 0.0

        class NeedsPrepare:
            review_period = 0
            @property
            def order_up_to(self):
                raise RuntimeError("call prepare first")
            def order_quantity(self, view):
                return 0.0
    '''))
    assert policies.default_initial({"type": "my_level_policies:Level", "level": 4.0}) == 8.0
    assert policies.default_initial({"type": "my_level_policies:NeedsPrepare"}) == 0.0
