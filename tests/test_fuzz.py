"""Fuzzing: mutated scenario files give ``ok`` or well-formed problems, never a traceback.

Every scenario shipped in ``scenarios/`` (and the benchmark) is mutated the way a user
or a broken tool might: a key deleted, renamed or duplicated, a value replaced by an odd
YAML value (huge or tiny numbers, text with control characters, lists, mappings, deep
nesting, aliases, tags, YAML 1.1 look-alikes), the text truncated or random bytes
inserted. ``simulator validate`` must exit 0 or 2, printing only lines of the form
``FILE[:LINE]: key: message``; a mutant that validates must also run (a few days, one
replication), failing only with a :class:`~simulator.errors.UserError`.

The example count is small for CI; ``SIMULATOR_FUZZ_EXAMPLES=2000`` runs a bigger campaign,
and ``SIMULATOR_FUZZ_LOG=FILE`` appends one JSON line per mutant (its outcome) to FILE and
records failures there instead of stopping at the first.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simulator
from simulator import cli
from simulator.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "scenarios").glob("*.yaml")) + [ROOT / "benchmarks" / "bench20.yaml"]
EXAMPLES = int(os.environ.get("SIMULATOR_FUZZ_EXAMPLES", "50"))
LOG = os.environ.get("SIMULATOR_FUZZ_LOG")

#: a problem line: FILE[:LINE]: key: message
PROBLEM = re.compile(r"^[^\n]+:(\d+:)? [^ ].*: .+$")
#: most simulated events allowed for a mutant's run (else it is validated only)
MAX_EVENTS = 20_000
RUN_DAYS = 3.0

#: raw YAML put in place of a value (things a Python value cannot be dumped as)
RAW = ["[" * 150 + "]" * 150, "{a: " * 120 + "1" + "}" * 120, "&r [*r]", "*nope", "6:05",
       "010", "0x1F", "0o17", "yes", "off", "!!binary aGk=", "!!set {a, b}",
       "!!python/object:os.system x", "!!float '1e400'", "!!int x", "2024-01-01",
       "{dist: [a]}", "{dist: {a: 1}}", "{dist: gamma, mean: 1e200, cv: 1e-200}",
       "{dist: empirical, values: [1, 2], weights: [1e308, 1e308]}", "{dist: poisson, mean: 1e20}",
       "{type: sS, s: 1e400, S: 1e401}", "{type: [x]}", "'\\x00\\n'", "\"\\t\\r\\e\"",
       "1" + "0" * 400, "9" * 5000, "-" + "9" * 400, ".nan", "-.inf", "1e-320", "5e-324",
       "? [a]\n: 1", "<<: 3", "{<<: {a: 1}, a: 2}"]

NUMBERS = st.sampled_from([0, -1, 1, 2, 1e12, 1e13, -1e12, 1e-12, 1e-13, 1e308, -1e308,
                           1e-308, 5e-324, 10 ** 400, -(10 ** 400), 2 ** 64, 0.5, 1e-6, 1e3])
SCALARS = st.one_of(
    st.none(), st.booleans(), NUMBERS, st.integers(), st.floats(),
    st.text(max_size=12), st.sampled_from(["", " ", "a\nb", "\x00", "\t", "\u2028", "sS",
                                           "gamma", "poisson", "lost", "backorder"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)


def paths_of(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in ``data`` (mapping keys and list indices)."""
    found = [path] if path else []
    if isinstance(data, dict):
        for k, v in data.items():
            found += paths_of(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found += paths_of(v, (*path, i))
    return found


def parent_of(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def mutate(data: Any, op: str, path: tuple[Any, ...], value: Any, name: str) -> None:
    """Apply one structured mutation in place."""
    parent, last = parent_of(data, path), path[-1]
    if op == "delete":
        del parent[last]
    elif op == "replace":
        parent[last] = value
    elif op == "rename" and isinstance(parent, dict) and name not in parent:
        parent[name] = parent.pop(last)


def one_in(n: int) -> st.SearchStrategy[bool]:
    return st.integers(1, n).map(lambda k: k == 1)


@st.composite
def mutants(draw: st.DrawFn, text: str) -> bytes:
    """The bytes of a mutant of scenario ``text``: mostly one or two changed values (so
    that many mutants still validate and run), sometimes a damaged text."""
    data = yaml.safe_load(text)
    raws: dict[str, str] = {}
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        paths = paths_of(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["delete", "number", "number", "number", "value", "raw",
                                   "rename"]))
        value: Any = draw(NUMBERS if op == "number" else VALUES)
        if op == "raw":  # raw YAML: stands in as a marker, swapped after dumping
            marker = f"RAWVALUE{len(raws)}"
            raws[marker] = draw(st.sampled_from(RAW))
            value = marker
        op = "replace" if op in ("number", "value", "raw") else op
        mutate(data, op, path, value, draw(st.sampled_from(["", "x", "id", "dist", "<<", "S"])))
    out = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10_000)
    for marker, raw in raws.items():
        out = out.replace(marker, raw.replace("\n", " ") if "?" not in raw else raw)
    lines = out.splitlines(keepends=True)
    if lines and draw(one_in(6)):  # duplicate a line (a duplicate key, mostly)
        i = draw(st.integers(0, len(lines) - 1))
        lines.insert(i, lines[i])
    raw_bytes = "".join(lines).encode("utf-8")
    if draw(one_in(8)):
        raw_bytes = raw_bytes[:draw(st.integers(0, len(raw_bytes)))]
    if draw(one_in(8)):
        at = draw(st.integers(0, len(raw_bytes)))
        raw_bytes = raw_bytes[:at] + draw(st.binary(min_size=1, max_size=8)) + raw_bytes[at:]
    return raw_bytes


def expected_events(sc: simulator.Scenario, days: float) -> float:
    """A rough count of the events a run of ``days`` days would take."""
    n = sum(d.rate for c in sc.customers for d in c.demand.values()) * days
    for w in sc.warehouses:
        for inv in w.inventory.values():
            period = inv.policy.get("review_period") or 0
            n += days / period if period > 0 else 0
    return n


def check_mutant(folder: Path, content: bytes) -> str:
    """Validate (and, if valid, briefly run) one mutant; the outcome's name (and, for a
    run that failed with a user error, the first problem)."""
    path = folder / "mutant.yaml"
    path.write_bytes(content)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["validate", str(path)])
    assert status in (0, 2), (status, err.getvalue())
    if status == 2:
        lines = err.getvalue().splitlines()
        assert lines, "exit status 2 without a problem"
        for line in lines:
            assert line.startswith(f"{path}:") and PROBLEM.match(line), line
        return "problems: " + "; ".join(line[len(str(path)):] for line in lines)[:300]
    assert out.getvalue() == "ok\n"
    sc = simulator.load(path)
    if expected_events(sc, RUN_DAYS) > MAX_EVENTS:
        return "ok-not-run"
    short = sc.model_copy(update={"horizon": RUN_DAYS, "warmup": 0.0, "replications": 1})
    try:
        simulator.run(short, progress=False)
    except UserError as exc:  # e.g. a policy that cannot work with the mutated numbers
        return f"ok-run-user-error: {exc.problems[0]}"
    return "ok-ran"


@pytest.fixture(scope="module")
def folder() -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


@pytest.mark.parametrize("source", FILES, ids=lambda p: p.name)
def test_mutated_scenarios_never_give_a_traceback(source: Path, folder: Path) -> None:
    text = source.read_text(encoding="utf-8")

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(mutants(text))
    def check(content: bytes) -> None:
        if not LOG:
            check_mutant(folder, content)
            return
        record: dict[str, Any] = {"file": source.name}
        try:  # a campaign: record every failure and go on
            record["outcome"] = check_mutant(folder, content)
        except Exception as exc:  # noqa: BLE001 - recorded, not hidden: the log is the report
            record.update(outcome="FAILURE", error=f"{type(exc).__name__}: {exc}"[:500],
                          mutant=content.decode("utf-8", "replace")[:3000])
        with open(LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    check()
