"""A user's own policy (`type: module:Class`): it runs, and when it fails or returns nonsense
the user gets `FILE:LINE: key: message` pointing at their code, exit 2, no traceback."""
from __future__ import annotations

import textwrap

import pytest

import simulator
from simulator.cli import main
from simulator.errors import PolicyError

POLICIES = '''
from policies import Policy


class Broken:
    review_period = 0

    def __init__(self, level: float = 5):
        self.level = level

    def order_quantity(self, view):
        if view.time > 3:
            return 1 / 0
        return max(0.0, self.level - view.position)


class Wrong:
    review_period = 0

    def order_quantity(self, view):
        return "lots"


class Infinite:
    review_period = 0

    def order_quantity(self, view):
        return float("inf")


class TopUp(Policy):
    """Order up to `level` whenever the position is below it (base stock, written by a user)."""
    level: float

    @property
    def reorder_level(self):
        return self.level

    def order_quantity(self, view):
        return max(0.0, self.level - view.position)
'''

SCENARIO = """\
name: user
horizon: 40
replications: 2
products: [{{id: p, holding_cost: 1}}]
suppliers: [{{id: s, lead_time: 1}}]
warehouses:
  - id: w
    inventory:
      p: {{source: s, policy: {policy}}}
customers:
  - {{id: c, warehouse: w, demand: {{p: {{rate: 3}}}}}}
"""


def write(tmp_path, policy: str, module: str = "userpol"):
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(POLICIES))
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(policy=policy))
    return path


def line_of(tmp_path, text: str, module: str = "userpol", after: str = "") -> int:
    """The first line containing ``text`` (after the first line containing ``after``)."""
    lines = (tmp_path / f"{module}.py").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if after in line)
    return next(i for i, line in enumerate(lines, 1) if i > start and text in line)


def test_user_pydantic_policy_matches_builtin_base_stock(tmp_path):
    path = write(tmp_path, '{type: "userpol:TopUp", level: 6}', module="userpol_a")
    path.write_text(path.read_text().replace("userpol:", "userpol_a:"))
    (tmp_path / "userpol_a.py").write_text(textwrap.dedent(POLICIES))
    # same start: the user class declares no order_up_to, so give the initial stock
    path.write_text(path.read_text().replace("{source: s,", "{source: s, initial: 6,"))
    mine = simulator.run(path, progress=False).metrics
    builtin = path.read_text().replace('{type: "userpol_a:TopUp", level: 6}',
                                       "{type: base_stock, S: 6}")
    path.write_text(builtin)
    ref = simulator.run(path, progress=False).metrics
    cols = ["demand_units", "fill_rate", "avg_on_hand", "avg_backorders", "orders_placed"]
    assert mine[cols].equals(ref[cols])


@pytest.mark.parametrize("jobs", [1, 2])
def test_exception_points_at_the_users_line(tmp_path, capsys, jobs, monkeypatch):
    module = f"userpol_b{jobs}"
    path = write(tmp_path, f'{{type: "{module}:Broken", level: 4}}', module=module)
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--jobs", str(jobs)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    expected = f"{tmp_path / (module + '.py')}:{line_of(tmp_path, '1 / 0', module)}: warehouses.0.inventory.p.policy: "
    assert err.startswith(expected), err
    assert "ZeroDivisionError" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("cls,shown", [("Wrong", "'lots'"), ("Infinite", "inf")])
def test_nonsense_result_is_reported(tmp_path, cls, shown):
    module = f"userpol_c{cls}"
    path = write(tmp_path, f'{{type: "{module}:{cls}"}}', module=module)
    with pytest.raises(PolicyError) as exc:
        simulator.run(path, progress=False)
    (p,) = exc.value.problems
    assert p.key == "warehouses.0.inventory.p.policy" and f"returned {shown}" in p.message
    assert p.file.endswith(f"{module}.py")
    assert p.line == line_of(tmp_path, "def order_quantity", module, after=f"class {cls}")


def test_unknown_parameter_of_a_plain_class_is_a_validation_error(tmp_path):
    path = write(tmp_path, '{type: "userpol_d:Broken", levle: 4}', module="userpol_d")
    with pytest.raises(simulator.ScenarioError) as exc:
        simulator.load(path)
    (p,) = exc.value.problems
    assert p.key == "warehouses.0.inventory.p.policy.levle" and p.line == 9
    assert "valid keys: type, level" in p.message


# --- robustness of user policy classes (each case once broke validation or a run) ------------

EDGE = '''
from __future__ import annotations

from policies import Policy


class Renamed:
    """Stores its parameter under another name: the given value must still be used."""

    def __init__(self, level: float = 5):
        self._level = level

    review_period = 0

    def order_quantity(self, view):
        return max(0.0, self._level - view.position)


class Backwards:
    def __init__(self):
        self.review_period = -1

    def order_quantity(self, view):
        return 0.0


class Grumpy:
    review_period = 0

    def __init__(self, x: float = 1, **extra):
        raise TypeError("no thanks")

    def order_quantity(self, view):
        return 0.0


class BadPrepare:
    review_period = 0

    def prepare(self, context):
        return context.no_such_thing

    def order_quantity(self, view):
        return 0.0


class NotANumber:
    review_period = 0

    def order_quantity(self, view):
        return float("nan")


class Typo(Policy):
    level: float

    def order_quantity(self, view):
        return max(0.0, self.levle - view.position)
'''


def edge(tmp_path, policy: str, module: str):
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(EDGE))
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(policy=policy).replace("type: \"", f"type: \"{module}:"))
    return path


def one_problem(path) -> simulator.Problem:
    with pytest.raises(simulator.ScenarioError) as exc:
        simulator.load(path)
    (p,) = exc.value.problems
    return p


def test_parameter_stored_under_another_name_is_used(tmp_path):
    path = edge(tmp_path, '{type: "Renamed", level: 50}', "edge_a")
    sc = simulator.load(path)
    assert sc.warehouses[0].inventory["p"].policy["level"] == 50
    res = simulator.run(path, progress=False)
    # ordering up to 50 with lead time 1 and demand 3/day keeps ~47 on hand
    assert (res.metrics["avg_on_hand"] > 40).all()


def test_negative_review_period_is_rejected(tmp_path):
    p = one_problem(edge(tmp_path, '{type: "Backwards"}', "edge_b"))
    assert p.key == "warehouses.0.inventory.p.policy" and "review_period" in p.message


def test_constructor_raising_anything_is_reported(tmp_path):
    p = one_problem(edge(tmp_path, '{type: "Grumpy"}', "edge_c"))
    assert "Grumpy" in p.message and "TypeError: no thanks" in p.message


def test_var_keyword_is_not_a_valid_key(tmp_path):
    p = one_problem(edge(tmp_path, '{type: "Grumpy", y: 1}', "edge_d"))
    assert p.message == "unknown key; valid keys: type, x"


def test_prepare_raising_anything_is_reported(tmp_path):
    p = one_problem(edge(tmp_path, '{type: "BadPrepare"}', "edge_e"))
    assert p.message.startswith("prepare() failed: AttributeError")


def test_module_that_fails_to_import_is_reported(tmp_path):
    (tmp_path / "edge_f.py").write_text("def broken(:\n")
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(policy='{type: "edge_f:X"}'))
    p = one_problem(path)
    assert "importing 'edge_f' failed: SyntaxError" in p.message


def test_string_annotations_are_checked_strictly(tmp_path):
    p = one_problem(edge(tmp_path, '{type: "Renamed", level: "50"}', "edge_g"))
    assert p.key.endswith("policy.level") and "valid number" in p.message


def test_nan_result_is_an_error(tmp_path):
    with pytest.raises(PolicyError) as exc:
        simulator.run(edge(tmp_path, '{type: "NotANumber"}', "edge_h"), progress=False)
    assert "returned nan" in exc.value.problems[0].message


def test_error_inside_pydantic_points_at_the_users_line(tmp_path):
    with pytest.raises(PolicyError) as exc:
        simulator.run(edge(tmp_path, '{type: "Typo", level: 4}', "edge_i"), progress=False)
    (p,) = exc.value.problems
    assert p.file == str(tmp_path / "edge_i.py")
    assert p.line == line_of(tmp_path, "self.levle", "edge_i")
