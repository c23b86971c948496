"""Scenario validation: every rule reports FILE:LINE: dotted.key: message (SPEC section 6).

Each case writes YAML text to ``tmp_path`` so that line numbers are real, then checks
the exact dotted key, the exact line and a meaningful part of the message. Unless a
case says otherwise, one mistake must give exactly one problem (no noise).
"""
from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pydantic
import pytest

import simulator
from simulator.errors import Problem, ScenarioError

try:  # works whether or not tests/ is a package
    from .helpers_scenarios import BASE_YAML, edit, line_of, minimal_dict, write_scenario
except ImportError:  # pragma: no cover - depends on how pytest imports the file
    from helpers_scenarios import BASE_YAML, edit, line_of, minimal_dict, write_scenario


# -- helpers ------------------------------------------------------------------------------

def problems_of(folder: Path, text: str) -> tuple[Path, list[Problem]]:
    path = write_scenario(folder, text)
    with pytest.raises(ScenarioError) as info:
        simulator.load(path)
    problems = info.value.problems
    assert problems, "a ScenarioError must carry at least one problem"
    return path, problems


def check(folder: Path, text: str, key: str, where: str | int | None, fragment: str,
          only: bool = True) -> list[Problem]:
    """Loading ``text`` fails with a problem at ``key`` on line ``where`` (a line
    number, or a marker found with :func:`line_of`) whose message contains ``fragment``."""
    path, problems = problems_of(folder, text)
    line = line_of(text, where) if isinstance(where, str) else where
    shown = "\n".join(map(str, problems))
    if only:
        assert len(problems) == 1, f"expected exactly one problem, got:\n{shown}"
    matching = [p for p in problems if p.key == key and fragment in p.message]
    assert len(matching) == 1, f"expected one problem at {key!r} saying {fragment!r}, " \
                               f"got:\n{shown}"
    p = matching[0]
    assert p.file == str(path)
    assert p.line == line, f"line {p.line}, expected {line}: {p}"
    where_txt = str(path) if line is None else f"{path}:{line}"
    assert str(p) == f"{where_txt}: {key}: {p.message}"
    return problems


def add_warehouse(text: str, block: str) -> str:
    """Insert a warehouse block (indented like the template) before ``customers:``."""
    return edit(text, ("customers:\n", block + "customers:\n"))


# -- YAML level ---------------------------------------------------------------------------

def test_base_template_is_valid(tmp_path):
    sc = simulator.load(write_scenario(tmp_path))
    assert sc.name == "tiny" and sc.horizon == 20


def test_yaml_syntax_error_has_line(tmp_path):
    text = edit(BASE_YAML, ("    lead_time: 2\n", "    lead_time: 2: 3\n"))
    check(tmp_path, text, "(yaml)", "lead_time: 2: 3", "not valid YAML")
    _, problems = problems_of(tmp_path, text)
    assert "mapping values are not allowed" in problems[0].message


def test_yaml_tab_indentation_has_line(tmp_path):
    text = edit(BASE_YAML, ("  - id: acme", "\t- id: acme"))
    check(tmp_path, text, "(yaml)", "- id: acme", "not valid YAML")


def test_yaml_unterminated_quote_points_at_its_start(tmp_path):
    text = edit(BASE_YAML, ("name: tiny", 'name: "tiny'))
    _, problems = problems_of(tmp_path, text)
    assert problems[0].line == 1 or "line 1" in problems[0].message, problems[0]


def test_duplicate_yaml_key(tmp_path):
    text = edit(BASE_YAML, ("    lead_time: 2\n", "    lead_time: 2\n    lead_time: 3\n"))
    first = line_of(text, "lead_time: 2")
    check(tmp_path, text, "suppliers.0.lead_time", "lead_time: 3",
          f"duplicate key (first given on line {first})")


def test_duplicate_key_in_flow_mapping(tmp_path):
    text = edit(BASE_YAML, ("{rate: 2}", "{rate: 2, rate: 3}"))
    check(tmp_path, text, "customers.0.demand.widget.rate", "rate: 3", "duplicate key")


def test_top_level_not_a_mapping(tmp_path):
    check(tmp_path, "- just\n- a list\n", "(top)", 1, "must be a mapping")


def test_empty_file(tmp_path):
    check(tmp_path, "# nothing here\n", "(top)", None, "must be a mapping")


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError) as info:
        simulator.load(tmp_path / "nope.yaml")
    (p,) = info.value.problems
    assert p.file == str(tmp_path / "nope.yaml") and p.line is None
    assert p.key == "(file)" and "cannot read" in p.message


# -- unknown keys at every level ----------------------------------------------------------

UNKNOWN_KEYS = [
    pytest.param(("horizon: 20\n", "horizon: 20\ncolour: red\n"), "colour", "colour: red",
                 "unknown key; valid keys: name, description, horizon, warmup, replications, "
                 "seed, products, suppliers, warehouses, customers", id="top"),
    pytest.param(("    holding_cost: 0.1\n", "    holding_cost: 0.1\n    holdng_cost: 1\n"),
                 "products.0.holdng_cost", "holdng_cost: 1",
                 "unknown key; valid keys: id, holding_cost, ordering_cost, backorder_cost, "
                 "lost_sale_cost", id="product"),
    pytest.param(("    lead_time: 2\n", "    lead_time: 2\n    leadtime: 3\n"),
                 "suppliers.0.leadtime", "leadtime: 3", "unknown key; valid keys: id, lead_time",
                 id="supplier"),
    pytest.param(("  - id: dc\n", "  - id: dc\n    region: north\n"), "warehouses.0.region",
                 "region: north", "unknown key; valid keys: id, inventory", id="warehouse"),
    pytest.param(("        source: acme\n", "        source: acme\n        sorce: acme\n"),
                 "warehouses.0.inventory.widget.sorce", "sorce: acme",
                 "unknown key; valid keys: source, policy, initial, lead_time", id="inventory"),
    pytest.param(("    warehouse: dc\n", "    warehouse: dc\n    priority: 1\n"),
                 "customers.0.priority", "priority: 1",
                 "unknown key; valid keys: id, warehouse, warehouses, unmet, allocation", id="customer"),
    pytest.param(("{rate: 2}", "{rate: 2, rat: 3}"), "customers.0.demand.widget.rat",
                 "rat: 3", "unknown key; valid keys: rate, size, arrivals", id="demand"),
    pytest.param(("    lead_time: 2\n", "    lead_time: {dist: gamma, mean: 2, cv: 0.5, sd: 1}\n"),
                 "suppliers.0.lead_time.sd", "sd: 1", "unknown key", id="distribution"),
    pytest.param(("S: 20}", "S: 20, q: 1}"), "warehouses.0.inventory.widget.policy.q",
                 "q: 1", "unknown key", id="policy-params"),
]


@pytest.mark.parametrize("change, key, marker, fragment", UNKNOWN_KEYS)
def test_unknown_key(tmp_path, change, key, marker, fragment):
    check(tmp_path, edit(BASE_YAML, change), key, marker, fragment)


# -- required keys ------------------------------------------------------------------------

PRODUCTS_BLOCK = "products:\n  - id: widget\n    holding_cost: 0.1\n    ordering_cost: 5\n"
WAREHOUSES_BLOCK = ("warehouses:\n  - id: dc\n    inventory:\n      widget:\n        source: acme\n"
                    "        policy: {type: sS, s: 5, S: 20}\n")

MISSING = [
    pytest.param(("name: tiny\n", ""), "name", 1, id="name"),
    pytest.param(("horizon: 20\n", ""), "horizon", 1, id="horizon"),
    pytest.param((PRODUCTS_BLOCK, ""), "products", 1, id="products"),
    pytest.param((WAREHOUSES_BLOCK, ""), "warehouses", 1, id="warehouses"),
    pytest.param(("        source: acme\n", ""), "warehouses.0.inventory.widget.source",
                 "widget:", id="inventory-source"),
    pytest.param(("        policy: {type: sS, s: 5, S: 20}\n", ""),
                 "warehouses.0.inventory.widget.policy", "widget:", id="inventory-policy"),
    pytest.param(("    warehouse: dc\n", ""), "customers.0.warehouse", "- id: shops",
                 id="customer-warehouse"),
    pytest.param(("    demand:\n      widget: {rate: 2}\n", ""), "customers.0.demand",
                 "- id: shops", id="customer-demand"),
    pytest.param(("{rate: 2}", "{size: 2}"), "customers.0.demand.widget.rate",
                 "widget: {size: 2}", id="demand-rate"),
]


@pytest.mark.parametrize("change, key, where", MISSING)
def test_required_key_missing(tmp_path, change, key, where):
    """A missing key is reported at the line of the mapping that should hold it."""
    check(tmp_path, edit(BASE_YAML, change), key, where, "required key is missing")


# -- types and ranges ---------------------------------------------------------------------

RANGES = [
    pytest.param(("horizon: 20", "horizon: 0"), "horizon", "horizon: 0", "greater than 0",
                 id="horizon-zero"),
    pytest.param(("horizon: 20", "horizon: -5"), "horizon", "horizon: -5", "greater than 0",
                 id="horizon-negative"),
    pytest.param(("horizon: 20", "horizon: soon"), "horizon", "horizon: soon", "valid number",
                 id="horizon-not-a-number"),
    pytest.param(("horizon: 20", "horizon: .inf"), "horizon", "horizon: .inf", "finite",
                 id="horizon-infinite"),
    pytest.param(("horizon: 20\n", "horizon: 20\nwarmup: -1\n"), "warmup", "warmup: -1",
                 "greater than or equal to 0", id="warmup-negative"),
    pytest.param(("horizon: 20\n", "horizon: 20\nreplications: 0\n"), "replications",
                 "replications: 0", "greater than or equal to 1", id="replications-zero"),
    pytest.param(("horizon: 20\n", "horizon: 20\nreplications: 2.5\n"), "replications",
                 "replications: 2.5", "valid integer", id="replications-fraction"),
    pytest.param(("horizon: 20\n", "horizon: 20\nseed: -1\n"), "seed", "seed: -1",
                 "greater than or equal to 0", id="seed-negative"),
    pytest.param(("holding_cost: 0.1", "holding_cost: -0.1"), "products.0.holding_cost",
                 "holding_cost: -0.1", "greater than or equal to 0", id="holding-cost"),
    pytest.param(("ordering_cost: 5", "ordering_cost: -5"), "products.0.ordering_cost",
                 "ordering_cost: -5", "greater than or equal to 0", id="ordering-cost"),
    pytest.param(("    ordering_cost: 5\n", "    ordering_cost: 5\n    backorder_cost: -1\n"),
                 "products.0.backorder_cost", "backorder_cost: -1", "greater than or equal to 0",
                 id="backorder-cost"),
    pytest.param(("    ordering_cost: 5\n", "    ordering_cost: 5\n    lost_sale_cost: -2\n"),
                 "products.0.lost_sale_cost", "lost_sale_cost: -2", "greater than or equal to 0",
                 id="lost-sale-cost"),
    pytest.param(("holding_cost: 0.1", "holding_cost: .nan"), "products.0.holding_cost",
                 "holding_cost: .nan", "finite", id="cost-nan"),
    pytest.param(("{rate: 2}", "{rate: 0}"), "customers.0.demand.widget.rate",
                 "widget: {rate: 0}", "greater than 0", id="rate-zero"),
    pytest.param(("{rate: 2}", "{rate: -3}"), "customers.0.demand.widget.rate",
                 "widget: {rate: -3}", "greater than 0", id="rate-negative"),
    pytest.param(("{rate: 2}", "{rate: 2, arrivals: bursty}"), "customers.0.demand.widget.arrivals",
                 "arrivals: bursty", "'poisson' or 'deterministic'", id="arrivals"),
    pytest.param(("    warehouse: dc\n", "    warehouse: dc\n    unmet: drop\n"),
                 "customers.0.unmet", "unmet: drop", "'backorder' or 'lost'", id="unmet"),
    pytest.param(("        source: acme\n", "        source: acme\n        initial: -4\n"),
                 "warehouses.0.inventory.widget.initial", "initial: -4",
                 "greater than or equal to 0", id="initial-negative"),
    pytest.param(("name: tiny", "name: ''"), "name", "name: ''", "at least 1 character",
                 id="name-empty"),
    pytest.param(("  - id: acme", "  - id: ac me"), "suppliers.0.id", "- id: ac me", "not a valid id",
                 id="supplier-id-space"),
    pytest.param(("  - id: widget", "  - id: wid get"), "products.0.id", "- id: wid get",
                 "not a valid id", id="product-id-space"),
    pytest.param(("  - id: dc", "  - id: d c"), "warehouses.0.id", "- id: d c", "not a valid id",
                 id="warehouse-id-space"),
    pytest.param(("  - id: shops", "  - id: the shops"), "customers.0.id", "- id: the shops",
                 "not a valid id", id="customer-id-space"),
    pytest.param(("products:\n  - id: widget\n    holding_cost: 0.1\n    ordering_cost: 5\n",
                  "products: []\n"), "products", "products: []", "at least 1 item",
                 id="products-empty"),
    pytest.param(("  - id: widget\n    holding_cost: 0.1\n    ordering_cost: 5\n",
                  "  widget: {holding_cost: 0.1}\n"), "products", "products:", "should be a list",
                 id="products-not-a-list"),
]


@pytest.mark.parametrize("change, key, marker, fragment", RANGES)
def test_type_or_range(tmp_path, change, key, marker, fragment):
    check(tmp_path, edit(BASE_YAML, change), key, marker, fragment)


@pytest.mark.parametrize("warmup", [20, 25])
def test_warmup_not_less_than_horizon(tmp_path, warmup):
    text = edit(BASE_YAML, ("horizon: 20\n", f"horizon: 20\nwarmup: {warmup}\n"))
    check(tmp_path, text, "warmup", f"warmup: {warmup}", "must be less than horizon (20)")


@pytest.mark.parametrize("change, key", [
    (("horizon: 20", "horizon: yes"), "horizon"),
    (("{rate: 2}", "{rate: true}"), "customers.0.demand.widget.rate"),
    (("horizon: 20\n", "horizon: 20\nseed: true\n"), "seed"),
])
def test_boolean_is_not_a_number(tmp_path, change, key):
    _, problems = problems_of(tmp_path, edit(BASE_YAML, change))
    assert [p.key for p in problems] == [key]


def test_negative_constant_distribution_key(tmp_path):
    text = edit(BASE_YAML, ("    lead_time: 2\n", "    lead_time: -1\n"))
    check(tmp_path, text, "suppliers.0.lead_time", "lead_time: -1", ">= 0")


def test_inventory_key_with_space_dotted_key(tmp_path):
    text = edit(BASE_YAML, ("      widget:\n", "      wid get:\n"))
    check(tmp_path, text, "warehouses.0.inventory.wid get", "wid get:", "not a valid id")


def test_inventory_key_with_space_is_rejected(tmp_path):
    """The rule itself works, on the key's own line."""
    text = edit(BASE_YAML, ("      widget:\n", "      wid get:\n"))
    _, problems = problems_of(tmp_path, text)
    (p,) = problems
    assert p.key.startswith("warehouses.0.inventory.wid get")
    assert p.line == line_of(text, "wid get:") and "not a valid id" in p.message


def test_non_string_key_has_its_own_line(tmp_path):
    text = BASE_YAML + "1: one\n"
    _, problems = problems_of(tmp_path, text)
    (p,) = problems
    assert p.line == line_of(text, "1: one"), p


# -- uniqueness ---------------------------------------------------------------------------

OTHER_WAREHOUSE = "    inventory:\n      widget: {source: acme, policy: {type: sS, s: 1, S: 2}}\n"

DUPLICATES = [
    pytest.param(("    ordering_cost: 5\n", "    ordering_cost: 5\n  - id: widget  # dup\n"),
                 "products.1.id", "duplicate id 'widget'", id="products"),
    pytest.param(("    lead_time: 2\n", "    lead_time: 2\n  - id: acme  # dup\n"),
                 "suppliers.1.id", "duplicate id 'acme'", id="suppliers"),
    pytest.param(("customers:\n", "  - id: dc  # dup\n" + OTHER_WAREHOUSE + "customers:\n"),
                 "warehouses.1.id", "duplicate id 'dc'", id="warehouses"),
    pytest.param(("{rate: 2}\n", ("{rate: 2}\n  - id: shops  # dup\n    warehouse: dc\n"
                                  "    demand: {widget: {rate: 1}}\n")),
                 "customers.1.id", "duplicate id 'shops'", id="customers"),
]


@pytest.mark.parametrize("change, key, fragment", DUPLICATES)
def test_duplicate_id(tmp_path, change, key, fragment):
    check(tmp_path, edit(BASE_YAML, change), key, "# dup", fragment)


def test_warehouse_id_equal_to_supplier_id(tmp_path):
    text = edit(BASE_YAML, ("    lead_time: 2\n", "    lead_time: 2\n  - id: other\n"))
    text = add_warehouse(text, "  - id: acme  # clash\n    inventory:\n"
                               "      widget: {source: other, policy: {type: sS, s: 1, S: 2}}\n")
    check(tmp_path, text, "warehouses.1.id", "# clash", "'acme' is also a supplier id")


def test_warehouse_supplier_clash_reported_once(tmp_path):
    text = add_warehouse(BASE_YAML, "  - id: acme  # clash\n    inventory:\n      widget: "
                                    "{source: dc, lead_time: 1, policy: {type: sS, s: 1, S: 2}}\n")
    check(tmp_path, text, "warehouses.1.id", "# clash", "'acme' is also a supplier id")


# -- references ---------------------------------------------------------------------------

def test_unknown_product_in_inventory(tmp_path):
    text = edit(BASE_YAML, ("        policy: {type: sS, s: 5, S: 20}\n",
                            ("        policy: {type: sS, s: 5, S: 20}\n"
                             "      gizmo: {source: acme, policy: {type: sS, s: 1, S: 2}}\n")))
    check(tmp_path, text, "warehouses.0.inventory.gizmo", "gizmo:",
          "unknown product 'gizmo'; products are: widget")


def test_unknown_source(tmp_path):
    text = edit(BASE_YAML, ("source: acme", "source: nobody"))
    check(tmp_path, text, "warehouses.0.inventory.widget.source", "source: nobody",
          "unknown source 'nobody'; suppliers and warehouses are: acme")


def test_self_sourcing(tmp_path):
    text = edit(BASE_YAML, ("source: acme", "source: dc"))
    check(tmp_path, text, "warehouses.0.inventory.widget.source", "source: dc",
          "cannot source from itself", only=False)


def test_self_sourcing_reported_once(tmp_path):
    text = edit(BASE_YAML, ("source: acme", "source: dc"))
    check(tmp_path, text, "warehouses.0.inventory.widget.source", "source: dc",
          "cannot source from itself")


def test_source_warehouse_does_not_stock_product(tmp_path):
    text = edit(BASE_YAML, ("    ordering_cost: 5\n", "    ordering_cost: 5\n  - id: gadget\n"))
    text = add_warehouse(text, "  - id: dc2\n    inventory:\n      gadget:\n        source: dc\n"
                               "        policy: {type: sS, s: 1, S: 2}\n")
    check(tmp_path, text, "warehouses.1.inventory.gadget.source", "source: dc",
          "warehouse 'dc' does not stock 'gadget'")


def test_lead_time_with_supplier_source(tmp_path):
    text = edit(BASE_YAML, ("        source: acme\n", "        source: acme\n        lead_time: 1\n"))
    check(tmp_path, text, "warehouses.0.inventory.widget.lead_time", "lead_time: 1",
          "only allowed when source is a warehouse")


def test_lead_time_with_warehouse_source_is_fine(tmp_path):
    text = add_warehouse(BASE_YAML, "  - id: store\n    inventory:\n      widget: {source: dc, "
                                    "lead_time: {dist: uniform, low: 1, high: 2}, "
                                    "policy: {type: base_stock, S: 4}}\n")
    sc = simulator.load(write_scenario(tmp_path, text))
    assert sc.warehouses[1].inventory["widget"].lead_time.mean() == 1.5


def test_sourcing_cycle_two_warehouses(tmp_path):
    text = edit(BASE_YAML, ("source: acme", "source: dc2"))
    text = add_warehouse(text, "  - id: dc2\n    inventory:\n      widget: {source: dc, "
                               "policy: {type: sS, s: 1, S: 2}}\n")
    check(tmp_path, text, "warehouses.0.inventory.widget.source", "source: dc2",
          "sourcing cycle for 'widget': dc -> dc2 -> dc")


def test_sourcing_cycle_three_warehouses(tmp_path):
    text = edit(BASE_YAML, ("source: acme", "source: dc3"))
    text = add_warehouse(text, "  - id: dc2\n    inventory:\n      widget: {source: dc, "
                               "policy: {type: sS, s: 1, S: 2}}\n"
                               "  - id: dc3\n    inventory:\n      widget: {source: dc2, "
                               "policy: {type: sS, s: 1, S: 2}}\n")
    check(tmp_path, text, "warehouses.0.inventory.widget.source", "source: dc3",
          "sourcing cycle for 'widget': dc -> dc3 -> dc2 -> dc")


def test_customer_unknown_warehouse(tmp_path):
    text = edit(BASE_YAML, ("    warehouse: dc\n", "    warehouse: nowhere\n"))
    check(tmp_path, text, "customers.0.warehouse", "warehouse: nowhere",
          "unknown warehouse 'nowhere'; warehouses are: dc")


def test_customer_demands_product_not_stocked(tmp_path):
    text = edit(BASE_YAML, ("    ordering_cost: 5\n", "    ordering_cost: 5\n  - id: gadget\n"),
                ("      widget: {rate: 2}\n", "      widget: {rate: 2}\n      gadget: {rate: 1}\n"))
    check(tmp_path, text, "customers.0.demand.gadget", "gadget: {rate: 1}",
          "warehouse 'dc' does not stock 'gadget'")


# -- distributions ------------------------------------------------------------------------

LT = "    lead_time: 2\n"
KINDS = "expected one of: constant, gamma, exponential, normal, uniform, poisson, empirical"

DISTRIBUTIONS = [
    pytest.param("{dist: weibull, mean: 2}", "suppliers.0.lead_time",
                 f"unknown dist 'weibull'; {KINDS}", id="unknown-dist"),
    pytest.param("{mean: 2}", "suppliers.0.lead_time", f"no 'dist' key; {KINDS}",
                 id="missing-dist"),
    pytest.param("{dist: uniform, low: 4, high: 2}", "suppliers.0.lead_time",
                 "high must be at least low", id="uniform-high-below-low"),
    pytest.param("{dist: empirical, values: [1, 2, 3], weights: [1, 1]}", "suppliers.0.lead_time",
                 "weights must have one entry per value", id="empirical-weights-length"),
    pytest.param("{dist: empirical, values: [1, 2], weights: [0, 0]}", "suppliers.0.lead_time",
                 "weights must not all be 0", id="empirical-zero-weights"),
    pytest.param("{dist: empirical, values: [1, -2]}", "suppliers.0.lead_time.values.1",
                 "greater than or equal to 0", id="empirical-negative-value"),
    pytest.param("{dist: gamma, mean: 2, cv: 0}", "suppliers.0.lead_time.cv", "greater than 0",
                 id="gamma-cv-zero"),
    pytest.param("{dist: gamma, mean: 2, cv: -0.5}", "suppliers.0.lead_time.cv", "greater than 0",
                 id="gamma-cv-negative"),
    pytest.param("{dist: gamma, mean: -2, cv: 0.5}", "suppliers.0.lead_time.mean",
                 "greater than 0", id="gamma-mean-alias"),
    pytest.param("{dist: gamma, mean: 2}", "suppliers.0.lead_time.cv", "required key is missing",
                 id="gamma-cv-missing"),
    pytest.param("{dist: normal, mean: 2, std: -1}", "suppliers.0.lead_time.std",
                 "greater than or equal to 0", id="normal-std-negative"),
    pytest.param("{dist: poisson, mean: -1}", "suppliers.0.lead_time.mean",
                 "greater than or equal to 0", id="poisson-mean-negative"),
    pytest.param("{dist: exponential, mean: 0}", "suppliers.0.lead_time.mean", "greater than 0",
                 id="exponential-mean-zero"),
    pytest.param("true", "suppliers.0.lead_time", "got a boolean", id="boolean"),
    pytest.param("two", "suppliers.0.lead_time", "expected a number or a distribution mapping",
                 id="string"),
]


@pytest.mark.parametrize("value, key, fragment", DISTRIBUTIONS)
def test_distribution_constraint(tmp_path, value, key, fragment):
    text = edit(BASE_YAML, (LT, f"    lead_time: {value}\n"))
    check(tmp_path, text, key, f"lead_time: {value}", fragment)


def test_negative_constant_lead_time(tmp_path):
    """Rejected on the right line, at the key itself."""
    text = edit(BASE_YAML, (LT, "    lead_time: -1\n"))
    _, problems = problems_of(tmp_path, text)
    (p,) = problems
    assert p.key.startswith("suppliers.0.lead_time")
    assert p.line == line_of(text, "lead_time: -1")
    assert ">= 0" in p.message


@pytest.mark.parametrize("size, key, fragment", [
    ("true", "customers.0.demand.widget.size", "got a boolean"),
    ("yes", "customers.0.demand.widget.size", "got 'yes'"),  # YAML 1.2: yes is text
    ("{dist: uniform, low: 3, high: 1}", "customers.0.demand.widget.size",
     "high must be at least low"),
    ("{dist: lognormal, mean: 2}", "customers.0.demand.widget.size", "unknown dist 'lognormal'"),
])
def test_order_size_distribution(tmp_path, size, key, fragment):
    text = edit(BASE_YAML, ("{rate: 2}", f"{{rate: 2, size: {size}}}"))
    check(tmp_path, text, key, "widget: {rate: 2, size:", fragment)


def test_transit_lead_time_distribution(tmp_path):
    text = add_warehouse(BASE_YAML, "  - id: store\n    inventory:\n      widget:\n"
                                    "        source: dc\n"
                                    "        lead_time: {dist: gamma, mean: 1, cv: 0}\n"
                                    "        policy: {type: base_stock, S: 4}\n")
    check(tmp_path, text, "warehouses.1.inventory.widget.lead_time.cv", "cv: 0", "greater than 0")


# -- policies -----------------------------------------------------------------------------

POLICY = "policy: {type: sS, s: 5, S: 20}"
POLICY_KEY = "warehouses.0.inventory.widget.policy"


def with_policy(spec: str, *more: tuple[str, str]) -> str:
    return edit(BASE_YAML, (POLICY, f"policy: {spec}"), *more)


def test_policy_unknown_type_lists_valid_ones(tmp_path):
    problems = check(tmp_path, with_policy("{type: Ss, s: 5, S: 20}"), POLICY_KEY, "type: Ss",
                     "unknown policy type 'Ss'; valid types:")
    message = problems[0].message
    for name in ("sS", "rQ", "base_stock", "eoq", "module:Class"):
        assert name in message


def test_policy_missing_type(tmp_path):
    problems = check(tmp_path, with_policy("{s: 5, S: 20}"), POLICY_KEY, "policy: {s: 5",
                     "missing 'type'")
    for name in ("sS", "rQ", "base_stock", "eoq"):
        assert name in problems[0].message


def test_policy_not_a_mapping(tmp_path):
    check(tmp_path, with_policy("sS"), POLICY_KEY, "policy: sS", "expected a mapping with a 'type'")


def test_policy_type_not_a_string(tmp_path):
    check(tmp_path, with_policy("{type: 3}"), POLICY_KEY, "policy: {type: 3}",
          "type must be a string")


@pytest.mark.parametrize("s, S", [(20, 20), (30, 20)])
def test_policy_sS_s_not_below_S(tmp_path, s, S):
    check(tmp_path, with_policy(f"{{type: sS, s: {s}, S: {S}}}"), POLICY_KEY, "type: sS",
          f"s must be less than S (got s={s}, S={S})")


def test_policy_sS_missing_s(tmp_path):
    check(tmp_path, with_policy("{type: sS, S: 20}"), POLICY_KEY + ".s", "type: sS",
          "required key is missing")


@pytest.mark.parametrize("Q", [0, -3])
def test_policy_rQ_Q_not_positive(tmp_path, Q):
    check(tmp_path, with_policy(f"{{type: rQ, r: 5, Q: {Q}}}"), POLICY_KEY + ".Q", "type: rQ",
          "greater than 0")


def test_policy_base_stock_missing_S(tmp_path):
    check(tmp_path, with_policy("{type: base_stock}"), POLICY_KEY + ".S", "type: base_stock",
          "required key is missing")


def test_policy_review_period_negative(tmp_path):
    check(tmp_path, with_policy("{type: base_stock, S: 9, review_period: -1}"),
          POLICY_KEY + ".review_period", "type: base_stock", "greater than or equal to 0")


def test_policy_eoq_service_level_out_of_range(tmp_path):
    check(tmp_path, with_policy("{type: eoq, Q: 5, service_level: 1}"),
          POLICY_KEY + ".service_level", "type: eoq", "less than 1")


@pytest.mark.parametrize("cost_line", ["    holding_cost: 0.1\n", "    ordering_cost: 5\n"])
def test_policy_eoq_without_Q_needs_costs(tmp_path, cost_line):
    """EOQ derives Q from the costs: a zero cost (here: left at its default) is an error."""
    text = with_policy("{type: eoq}", (cost_line, ""))
    check(tmp_path, text, POLICY_KEY, "type: eoq",
          "EOQ needs demand, ordering_cost and holding_cost > 0; give Q")


def test_policy_eoq_without_Q_needs_demand(tmp_path):
    customers = "customers:\n  - id: shops\n    warehouse: dc\n    demand:\n      widget: {rate: 2}\n"
    text = with_policy("{type: eoq}", (customers, ""))
    check(tmp_path, text, POLICY_KEY, "type: eoq", "EOQ needs demand")


def test_policy_eoq_derives_or_takes_Q(tmp_path):
    sc = simulator.load(write_scenario(tmp_path, with_policy("{type: eoq}")))
    assert sc.warehouses[0].inventory["widget"].policy["type"] == "eoq"
    # with Q given, zero costs are fine
    text = with_policy("{type: eoq, Q: 10}", ("    holding_cost: 0.1\n", ""))
    simulator.load(write_scenario(tmp_path, text, "given_q.yaml"))


def test_policy_module_that_does_not_import(tmp_path):
    name = f"no_such_module_{uuid.uuid4().hex[:8]}"
    check(tmp_path, with_policy(f"{{type: '{name}:Policy', level: 3}}"), POLICY_KEY, name,
          f"cannot import module '{name}'")


def test_policy_module_without_the_class(tmp_path):
    check(tmp_path, with_policy("{type: 'json:NoSuchPolicy'}"), POLICY_KEY, "json:NoSuchPolicy",
          "module 'json' has no class 'NoSuchPolicy'")


def test_policy_class_without_order_quantity(tmp_path):
    check(tmp_path, with_policy("{type: 'fractions:Fraction'}"), POLICY_KEY, "fractions:Fraction",
          "has no order_quantity(view) method")


USER_POLICY = '''\
class OrderUpTo:
    """Order up to ``level`` whenever the position is below it."""

    def __init__(self, level: float, review_period: float = 0.0):
        self.level = level
        self.review_period = review_period

    def order_quantity(self, view):
        return self.level - view.position if view.position < self.level else 0.0
'''


@pytest.fixture
def user_policy(tmp_path, monkeypatch):
    """A ``module:Class`` policy in a module next to the scenario file; the current folder
    is elsewhere, so only the scenario's folder can provide it. ``sys.path`` is restored."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    name = f"user_policy_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(USER_POLICY, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    yield f"{name}:OrderUpTo"
    sys.modules.pop(name, None)


def test_user_policy_module_imports_and_runs(tmp_path, user_policy):
    text = with_policy(f"{{type: '{user_policy}', level: 12}}")
    path = write_scenario(tmp_path, text)
    sc = simulator.load(path)
    assert sc.warehouses[0].inventory["widget"].policy == {
        "type": user_policy, "level": 12.0, "review_period": 0.0}
    res = simulator.run(path, replications=2, seed=1, progress=False)
    assert len(res.metrics) == 2
    assert (res.metrics["orders_placed"] > 0).all()
    assert (res.metrics["demand_units"] > 0).all()


def test_user_policy_unknown_parameter(tmp_path, user_policy):
    text = with_policy(f"{{type: '{user_policy}', level: 12, levl: 3}}")
    check(tmp_path, text, POLICY_KEY + ".levl", "levl: 3", "unknown key")


def test_user_policy_missing_parameter(tmp_path, user_policy):
    text = with_policy(f"{{type: '{user_policy}'}}")
    check(tmp_path, text, POLICY_KEY + ".level", user_policy, "required key is missing")


# -- reporting ----------------------------------------------------------------------------

def test_all_problems_reported_at_once(tmp_path):
    text = edit(BASE_YAML, ("horizon: 20", "horizon: -1"), ("holding_cost: 0.1", "holding_cost: -1"),
                ("{rate: 2}", "{rate: 0}"))
    path, problems = problems_of(tmp_path, text)
    assert [str(p) for p in problems] == [
        f"{path}:2: horizon: input should be greater than 0",
        f"{path}:5: products.0.holding_cost: input should be greater than or equal to 0",
        f"{path}:20: customers.0.demand.widget.rate: input should be greater than 0",
    ]
    assert str(ScenarioError(problems)).count("\n") == 2


def test_all_reference_problems_reported_at_once(tmp_path):
    text = edit(BASE_YAML, ("source: acme", "source: nobody"),
                ("    warehouse: dc\n", "    warehouse: nowhere\n"),
                ("horizon: 20\n", "horizon: 20\nwarmup: 30\n"))
    _, problems = problems_of(tmp_path, text)
    assert sorted(p.key for p in problems) == [
        "customers.0.warehouse", "warehouses.0.inventory.widget.source", "warmup"]


def test_schema_and_reference_problems_reported_together(tmp_path):
    text = edit(BASE_YAML, ("horizon: 20", "horizon: -1"), ("source: acme", "source: nobody"),
                ("    warehouse: dc\n", "    warehouse: nowhere\n"))
    _, problems = problems_of(tmp_path, text)
    assert sorted(p.key for p in problems) == [
        "customers.0.warehouse", "horizon", "warehouses.0.inventory.widget.source"]


def test_dict_scenario_reports_dict_as_file():
    data = minimal_dict()
    del data["horizon"]
    data["products"][0]["holding_cost"] = -1
    with pytest.raises(ScenarioError) as info:
        simulator.load(data)
    assert [str(p) for p in info.value.problems] == [
        "<dict>: horizon: required key is missing",
        "<dict>: products.0.holding_cost: input should be greater than or equal to 0",
    ]
    assert all(p.file == "<dict>" and p.line is None for p in info.value.problems)


def test_dict_scenario_reference_problem():
    data = minimal_dict()
    data["warehouses"][0]["inventory"]["widget"]["source"] = "nobody"
    with pytest.raises(ScenarioError) as info:
        simulator.load(data)
    (p,) = info.value.problems
    assert str(p).startswith("<dict>: warehouses.0.inventory.widget.source: unknown source 'nobody'")


def test_dict_scenario_valid():
    assert simulator.load(minimal_dict()) == simulator.load(minimal_dict())


def test_invalid_scenario_never_runs(tmp_path):
    path = write_scenario(tmp_path, edit(BASE_YAML, ("horizon: 20", "horizon: 0")))
    with pytest.raises(ScenarioError):
        simulator.run(path, progress=False)


# -- immutability -------------------------------------------------------------------------

def test_loaded_scenario_is_immutable(tmp_path):
    sc = simulator.load(write_scenario(tmp_path))
    with pytest.raises(pydantic.ValidationError):
        sc.horizon = 5
    with pytest.raises(pydantic.ValidationError):
        sc.products[0].holding_cost = 1.0
    with pytest.raises(pydantic.ValidationError):
        sc.warehouses[0].inventory["widget"].source = "elsewhere"
    with pytest.raises(pydantic.ValidationError):
        sc.customers[0].demand["widget"].rate = 100
    assert sc.horizon == 20 and sc.products[0].holding_cost == 0.1


def test_loaded_scenario_containers_are_immutable(tmp_path):
    sc = simulator.load(write_scenario(tmp_path))
    with pytest.raises((TypeError, AttributeError, ValueError)):
        sc.warehouses[0].inventory["widget"].policy["s"] = 50
    with pytest.raises((TypeError, AttributeError, ValueError)):
        sc.products.append(sc.products[0])


def test_exponent_numbers_are_numbers(tmp_path):
    """PyYAML alone reads 1e3 as text; scenarios read it as a number (YAML 1.2)."""
    path = tmp_path / "s.yaml"
    path.write_text(edit(BASE_YAML, ("horizon: 20", "horizon: 2e1")))
    assert simulator.load(path).horizon == 20.0


def test_id_with_trailing_newline_is_rejected():
    data = {"name": "x", "horizon": 5, "products": [{"id": "p\n"}],
            "warehouses": [{"id": "w", "inventory": {"p\n": {"source": "w2",
                                                            "policy": {"type": "sS", "s": 1, "S": 2}}}}]}
    with pytest.raises(simulator.ScenarioError) as exc:
        simulator.load(data)
    assert any("not a valid id" in p.message for p in exc.value.problems)
