"""Hostile or odd scenario input never gives a traceback, a hang or unbounded memory.

Each case is a class of input that, before the hardening, crashed (RecursionError,
TypeError, OverflowError, MemoryError), hung, or was silently misread (YAML 1.1
sexagesimal and octal numbers). The user must get ``FILE:LINE: key: message``.
"""
from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import numpy as np
import pytest

import simulator
from simulator.errors import Problem, ScenarioError
from simulator.scenario import yamlload

try:  # works whether or not tests/ is a package
    from .helpers_scenarios import BASE_YAML, edit, line_of, write_scenario
except ImportError:  # pragma: no cover - depends on how pytest imports the file
    from helpers_scenarios import BASE_YAML, edit, line_of, write_scenario


def only_problem(folder: Path, text: str) -> tuple[Path, Problem]:
    path = write_scenario(folder, text)
    with pytest.raises(ScenarioError) as info:
        simulator.load(path)
    problems = info.value.problems
    assert len(problems) == 1, "\n".join(map(str, problems))
    return path, problems[0]


# -- structure: depth, recursion, alias bombs, one document, tags ----------------------------

@pytest.mark.parametrize("value", ["[" * 300 + "]" * 300, "{a: " * 300 + "1" + "}" * 300])
def test_deep_flow_nesting_is_refused(tmp_path, value):
    _, p = only_problem(tmp_path, BASE_YAML + f"extra: {value}\n")
    assert p.key == "(yaml)" and "nested more than 100 levels" in p.message
    assert p.line == BASE_YAML.count("\n") + 1


def test_deep_block_nesting_is_refused_at_the_line_where_it_is_too_deep(tmp_path):
    text = "".join(" " * i + f"k{i}:\n" for i in range(300)) + " " * 300 + "x\n"
    _, p = only_problem(tmp_path, text)
    # the root mapping is level 1 (line 1); the mapping on line n is level n
    assert p.line == yamlload.MAX_DEPTH + 1 and "nested more than" in p.message


def test_nesting_up_to_the_limit_is_read():
    depth = yamlload.MAX_DEPTH
    data, lines, _ = yamlload.load_yaml_text("[" * depth + "]" * depth, "f.yaml")
    for _ in range(depth - 1):
        (data,) = data
    assert data == []


@pytest.mark.parametrize("text", ["x: &r [*r]", "x: &r {a: *r}", "x: &r [1, [2, *r]]"])
def test_recursive_alias_is_refused(tmp_path, text):
    _, p = only_problem(tmp_path, text + "\n")
    assert p.line == 1 and "recursive alias *r" in p.message


def bomb(levels: int) -> str:
    """A "billion laughs": 10**levels values from a few hundred bytes."""
    rows = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    rows += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(rows) + "\n"


def test_alias_bomb_is_refused_without_expanding_it(tmp_path):
    _, p = only_problem(tmp_path, bomb(9))  # 10**9 values if expanded
    assert "more than 1,000,000 values" in p.message
    assert p.line == 6  # a5, on line 6, holds 1.1 million values: the first beyond the limit


def test_aliases_are_shared_not_copied():
    data, lines, _ = yamlload.load_yaml_text(bomb(5), "f.yaml")
    assert data["a4"][0] is data["a3"] and len(data["a4"]) == 10
    assert lines.line(("a4", 3, 2, 1)) == 5  # inside an alias: the line of the alias


def test_undefined_alias_is_a_problem(tmp_path):
    _, p = only_problem(tmp_path, edit(BASE_YAML, ("lead_time: 2", "lead_time: *nope")))
    assert p.line == line_of(BASE_YAML, "lead_time: 2") and "*nope" in p.message


@pytest.mark.parametrize("tag", ["!!python/object:os.system", "!!binary", "!!set", "!custom",
                                 "!!timestamp", "!!omap"])
def test_unsupported_tag_is_a_problem(tmp_path, tag):
    _, p = only_problem(tmp_path, edit(BASE_YAML, ("name: tiny", f"name: {tag} aGk=")))
    assert p.line == 1 and f"unsupported tag {tag}" in p.message


def test_core_tags_are_accepted_and_checked(tmp_path):
    text = edit(BASE_YAML, ("name: tiny", "name: !!str 123"), ("horizon: 20", "horizon: !!float 20"),
                ("lead_time: 2", "lead_time: !!int '2'"))
    sc = simulator.load(write_scenario(tmp_path, text))
    assert sc.name == "123" and sc.horizon == 20.0 and sc.suppliers[0].lead_time.mean() == 2
    _, p = only_problem(tmp_path, edit(BASE_YAML, ("horizon: 20", "horizon: !!int twenty")))
    assert p.line == 2 and "'twenty' is not a valid !!int" in p.message


def test_more_than_one_document_is_a_problem(tmp_path):
    _, p = only_problem(tmp_path, BASE_YAML + "---\nname: second\n")
    assert p.line == BASE_YAML.count("\n") + 1 and "more than one YAML document" in p.message


def test_list_as_key_is_a_problem(tmp_path):
    _, p = only_problem(tmp_path, BASE_YAML + "? [a, b]\n: 1\n")
    assert "a key must be a single value" in p.message


# -- files: size, devices, FIFOs -------------------------------------------------------------

def test_oversized_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as f:
        f.truncate(yamlload.MAX_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ScenarioError) as info:
        simulator.load(path)
    (p,) = info.value.problems
    assert p.line is None and p.key == "(file)" and "larger than 64 MB" in p.message


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null")
def test_device_is_refused():
    with pytest.raises(ScenarioError) as info:
        simulator.load("/dev/null")
    (p,) = info.value.problems
    assert p.file == "/dev/null" and "not a regular file" in p.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_without_writer_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            simulator.load(fifo)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported below
            outcome.append(exc)

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(timeout=20)
    if reader.is_alive():  # the old behaviour: blocked in open(); unblock it, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=5)
        pytest.fail("loading a FIFO with no writer blocked")
    (exc,) = outcome
    assert isinstance(exc, ScenarioError) and "not a regular file" in exc.problems[0].message


# -- values where a name belongs -------------------------------------------------------------

@pytest.mark.parametrize("dist", ["[a]", "{x: 1}"])
def test_non_text_distribution_name_is_a_problem(tmp_path, dist):
    text = edit(BASE_YAML, ("{rate: 2}", f"{{rate: 2, size: {{dist: {dist}}}}}"))
    _, p = only_problem(tmp_path, text)
    assert p.key == "customers.0.demand.widget.size"
    assert p.line == line_of(text, "widget: {rate: 2, size:")
    assert "expected one of: constant, gamma" in p.message


# -- numbers: ranges checked before float conversion -----------------------------------------

HUGE = "1" + "0" * 400


@pytest.mark.parametrize("change, key, fragment", [
    (("holding_cost: 0.1", f"holding_cost: {HUGE}"), "products.0.holding_cost", "at most 1e12"),
    (("holding_cost: 0.1", f"holding_cost: -{HUGE}"), "products.0.holding_cost",
     "greater than or equal to 0"),
    (("holding_cost: 0.1", "holding_cost: " + "9" * 5000), "products.0.holding_cost",
     "at most 1e12"),
    (("holding_cost: 0.1", "holding_cost: 1.0e13"), "products.0.holding_cost", "at most 1e12"),
    (("horizon: 20", f"horizon: {HUGE}"), "horizon", "at most 1e18"),
    (("horizon: 20", "horizon: 1e-300"), "horizon", "at least 1e-12"),
    (("lead_time: 2", f"lead_time: {HUGE}"), "suppliers.0.lead_time", "at most 1e12"),
    (("lead_time: 2", "lead_time: 1e-13"), "suppliers.0.lead_time", "must be 0 or at least 1e-12"),
    (("holding_cost: 0.1", "holding_cost: 5e-324"), "products.0.holding_cost",
     "must be 0 or at least 1e-12"),
    (("s: 5, S: 20", "s: 5, S: 20, review_period: 1e-300"),
     "warehouses.0.inventory.widget.policy.review_period", "must be 0 or at least 1e-12"),
    (("lead_time: 2", "lead_time: {dist: exponential, mean: 1e200}"), "suppliers.0.lead_time.mean",
     "at most 1e12"),
    (("lead_time: 2", "lead_time: {dist: gamma, mean: 2, cv: 1e154}"), "suppliers.0.lead_time.cv",
     "at most 1000"),
    (("lead_time: 2", "lead_time: {dist: gamma, mean: 2, cv: 1e-200}"), "suppliers.0.lead_time.cv",
     "at least 1e-6"),
    (("lead_time: 2", "lead_time: {dist: gamma, mean: 2, cv: 1e-155}"), "suppliers.0.lead_time.cv",
     "at least 1e-6"),
    (("lead_time: 2", "lead_time: {dist: empirical, values: [1, 2], weights: [1e308, 1]}"),
     "suppliers.0.lead_time.weights.0", "at most 1e12"),
    (("lead_time: 2", "lead_time: {dist: poisson, mean: 1e20}"), "suppliers.0.lead_time.mean",
     "at most 1e12"),
    (("{rate: 2}", "{rate: 1e-300}"), "customers.0.demand.widget.rate", "at least 1e-12"),
    (("s: 5, S: 20", f"s: 5, S: {HUGE}"), "warehouses.0.inventory.widget.policy.S",
     "at most 1e12"),
    (("s: 5, S: 20", f"s: -{HUGE}, S: 20"), "warehouses.0.inventory.widget.policy.s",
     "at least -1e12"),
    (("horizon: 20", f"horizon: 20\nseed: {HUGE}"), "seed", "less than or equal to"),
])
def test_out_of_range_number_is_a_problem(tmp_path, change, key, fragment):
    text = edit(BASE_YAML, change)
    _, p = only_problem(tmp_path, text)
    assert p.key == key and fragment in p.message, str(p)
    assert p.line == line_of(text, change[1].split("\n")[-1])


def run_short(sc: simulator.Scenario) -> simulator.Results:
    return simulator.run(sc.model_copy(update={"horizon": 5.0, "warmup": 0.0,
                                               "replications": 1}), progress=False)


@pytest.mark.parametrize("at_limit, beyond, key", [
    ("{dist: gamma, mean: 2, cv: 1e-6}", "{dist: gamma, mean: 2, cv: 0.9e-6}", "cv"),
    ("{dist: gamma, mean: 1e12, cv: 1000}", "{dist: gamma, mean: 1e12, cv: 1001}", "cv"),
    ("{dist: poisson, mean: 1e12}", "{dist: poisson, mean: 1.1e12}", "mean"),
    ("{dist: empirical, values: [1, 1e12], weights: [1e12, 1e12]}",
     "{dist: empirical, values: [1, 1e12], weights: [1e12, 2e12]}", "weights.1"),
    ("{dist: normal, mean: 1e12, std: 1e-12}", "{dist: normal, mean: 2e12, std: 1e-12}", "mean"),
    ("{dist: exponential, mean: 1e-12}", "{dist: exponential, mean: 0.9e-12}", "mean"),
])
def test_numbers_at_the_limits_run_and_beyond_them_are_refused(tmp_path, at_limit, beyond, key):
    """A scenario that validates runs: the bounds keep every draw and sum finite."""
    big = (("holding_cost: 0.1", "holding_cost: 1e12"),
           ("{rate: 2}", "{rate: 2, size: {dist: poisson, mean: 1e12}}"))
    text = edit(BASE_YAML, ("lead_time: 2", f"lead_time: {at_limit}"), *big)
    sc = simulator.load(write_scenario(tmp_path, text))
    draws = sc.suppliers[0].lead_time.draw(np.random.default_rng(1), 1000)
    assert np.all(np.isfinite(draws)) and np.all(draws >= 0)
    row = run_short(sc).metrics.iloc[0]
    assert all(math.isfinite(row[c]) for c in ("demand_units", "avg_on_hand", "avg_backorders"))
    _, p = only_problem(tmp_path, edit(BASE_YAML, ("lead_time: 2", f"lead_time: {beyond}"), *big))
    assert p.key == f"suppliers.0.lead_time.{key}" and p.line == line_of(BASE_YAML, "lead_time")


# -- YAML 1.2 core schema ---------------------------------------------------------------------

#: plain scalars and what the YAML 1.2 core schema reads (PyYAML alone: 1.1 rules)
CORE_SCHEMA = [
    ("6:05", "6:05"), ("010", 10), ("0o10", 8), ("0x1F", 31), ("+12", 12), ("1_000", 1000),
    ("1e3", 1000.0), ("-2.5E-1", -0.25), (".5", 0.5), ("-.inf", -math.inf), ("yes", "yes"),
    ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("True", True), ("FALSE", False),
    ("~", None), ("null", None), ("", None), ("2024-01-01", "2024-01-01"), ("0b11", "0b11"),
    ("'1'", "1"), ('"true"', "true"), ("!!str 2", "2"),
]


def test_plain_scalars_follow_yaml_1_2_core_schema():
    text = "".join(f"k{i}: {scalar}\n" for i, (scalar, _) in enumerate(CORE_SCHEMA))
    data, _, _ = yamlload.load_yaml_text(text, "f.yaml")
    got = [(scalar, data[f"k{i}"]) for i, (scalar, _) in enumerate(CORE_SCHEMA)]
    assert got == CORE_SCHEMA
    assert [type(v) for _, v in got] == [type(v) for _, v in CORE_SCHEMA]


def test_sexagesimal_horizon_is_not_a_number(tmp_path):
    _, p = only_problem(tmp_path, edit(BASE_YAML, ("horizon: 20", "horizon: 6:05")))
    assert p.key == "horizon" and p.line == 2 and "valid number" in p.message


def test_leading_zero_is_decimal(tmp_path):
    sc = simulator.load(write_scenario(tmp_path, edit(BASE_YAML, ("horizon: 20", "horizon: 010"))))
    assert sc.horizon == 10


# -- merge keys -------------------------------------------------------------------------------

MERGED = """\
name: merged
horizon: 20
products:
  - &base {id: widget, holding_cost: 0.1, ordering_cost: 5}
  - <<: *base
    id: gadget
    ordering_cost: 7
suppliers:
  - id: acme
warehouses:
  - id: dc
    inventory:
      widget: &stock
        source: acme
        policy: {type: sS, s: 5, S: 20}
      gadget: *stock
"""


def test_merge_key_explicit_keys_win(tmp_path):
    sc = simulator.load(write_scenario(tmp_path, MERGED))
    gadget = sc.product("gadget")
    assert gadget.holding_cost == 0.1 and gadget.ordering_cost == 7
    assert sc.product("widget").ordering_cost == 5


def test_merge_key_lines_point_at_the_merge(tmp_path):
    text = edit(MERGED, ("holding_cost: 0.1", "holding_cost: -1"))
    path = write_scenario(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        simulator.load(path)
    lines = {p.key: p.line for p in info.value.problems}
    assert lines == {"products.0.holding_cost": 4, "products.1.holding_cost": 5}


def test_merge_of_a_list_earlier_mappings_win():
    text = "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc: {<<: [*a, *b], z: 3}\n"
    data, _, problems = yamlload.load_yaml_text(text, "f.yaml")
    assert data["c"] == {"x": 1, "y": 1, "z": 3} and problems == []


def test_duplicate_explicit_keys_next_to_a_merge_are_still_reported(tmp_path):
    text = edit(MERGED, ("    ordering_cost: 7\n", "    ordering_cost: 7\n    id: gizmo\n"))
    path = write_scenario(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        simulator.load(path)
    assert [(p.line, p.key) for p in info.value.problems if "duplicate" in p.message] == [
        (8, "products.1.id")]


def test_merge_of_a_scalar_is_a_problem(tmp_path):
    _, p = only_problem(tmp_path, edit(BASE_YAML, ("  - id: acme\n", "  - <<: 3\n    id: acme\n")))
    assert "merge key '<<' needs a mapping" in p.message


# -- one line per problem ---------------------------------------------------------------------

@pytest.mark.parametrize("key, shown", [
    ('"bad\\nkey"', "bad\\nkey"), ('"tab\\there"', "tab\\there"), ('"nul\\0"', "nul\\x00"),
    ('"ls\\L"', "ls\\u2028"), ('"cr\\r"', "cr\\r"),
])
def test_control_characters_in_keys_are_escaped(tmp_path, key, shown):
    path, p = only_problem(tmp_path, BASE_YAML + f"{key}: 1\n")
    line = str(p)
    assert line.splitlines() == [line] and "\n" not in line and "\r" not in line
    assert line.startswith(f"{path}:{BASE_YAML.count(chr(10)) + 1}: {shown}: unknown key")


def test_problem_parts_are_each_one_line():
    p = Problem("dir\nname.yaml", 3, "a\tb", "first\nsecond\x1b[31m")
    assert str(p) == "dir\\nname.yaml:3: a\\tb: first\\nsecond\\x1b[31m"


def test_raw_control_character_in_file_is_a_problem_at_its_line(tmp_path):
    _, p = only_problem(tmp_path, edit(BASE_YAML, ("name: tiny", "name: ti\x07ny")))
    assert p.line == 1 and "'\\x07' is not allowed" in p.message
