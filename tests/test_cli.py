"""The command line (SPEC sections 1 and 6): ``python -m simulator``, the ``simulator``
console script and :func:`simulator.cli.main`.

Subprocesses are slow to start (imports of pandas, scipy, simpy), so the subprocess cases
are started together once per module and each test checks one of them; everything else
goes through ``simulator.cli.main`` in-process.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import simulator
from simulator.cli import main

try:  # works whether or not tests/ is a package
    from .helpers_scenarios import BASE_YAML, edit, write_scenario
except ImportError:  # pragma: no cover - depends on how pytest imports the file
    from helpers_scenarios import BASE_YAML, edit, write_scenario

FILES = {"metrics.csv", "summary.csv", "scenario.yaml", "run.json", "warnings.csv",
         "supplier_metrics.csv", "customer_metrics.csv"}
STAMP = re.compile(r"^\d{8}-\d{6}(-\d+)?$")
SCRIPT = Path(sys.executable).with_name("simulator")

#: three independent mistakes, on lines 2, 5 and 20
BAD_YAML = edit(BASE_YAML, ("horizon: 20", "horizon: -1"), ("holding_cost: 0.1", "holding_cost: -1"),
                ("{rate: 2}", "{rate: 0}"))
BAD_LINES = [
    "bad.yaml:2: horizon: input should be greater than 0",
    "bad.yaml:5: products.0.holding_cost: input should be greater than or equal to 0",
    "bad.yaml:20: customers.0.demand.widget.rate: input should be greater than 0",
]


@dataclass
class Ran:
    rc: int
    out: str
    err: str
    cwd: Path

    @property
    def both(self) -> str:
        return self.out + self.err


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below ``folder`` with its bytes and mtime (ns)."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


# -- subprocesses, started concurrently ---------------------------------------------------

@pytest.fixture(scope="module")
def procs(tmp_path_factory) -> dict[str, Ran]:
    root = tmp_path_factory.mktemp("cli")
    write_scenario(root, BASE_YAML, "good.yaml")
    write_scenario(root, BAD_YAML, "bad.yaml")
    run_dir = root / "run_default"
    run_dir.mkdir()
    write_scenario(run_dir, BASE_YAML, "good.yaml")
    py = [sys.executable, "-m", "simulator"]
    # kept few: each one pays ~1 s of imports (pandas, scipy, simpy)
    cases = {
        "validate_ok": (py + ["validate", "good.yaml"], root),
        "validate_bad": (py + ["validate", "bad.yaml"], root),
        "run_default": (py + ["run", "good.yaml", "--replications", "2"], run_dir),
        "run_negative_reps": (py + ["run", "good.yaml", "--replications", "-1"], root),
        "script_version": ([str(SCRIPT), "--version"], root),
        "script_validate_bad": ([str(SCRIPT), "validate", "bad.yaml"], root),
    }
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    started = {name: (subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, env=env), cwd)
               for name, (cmd, cwd) in cases.items()}
    done = {}
    try:
        for name, (p, cwd) in started.items():
            out, err = p.communicate(timeout=120)
            done[name] = Ran(p.returncode, out, err, cwd)
    finally:
        for p, _ in started.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    return done


def test_subprocess_validate_ok(procs):
    r = procs["validate_ok"]
    assert (r.rc, r.out, r.err) == (0, "ok\n", "")


def test_subprocess_validate_bad_file(procs):
    r = procs["validate_bad"]
    assert r.rc == 2
    assert r.err.splitlines() == BAD_LINES
    assert r.out == ""
    assert "Traceback" not in r.both


def test_subprocess_run_default_results_folder(procs):
    r = procs["run_default"]
    assert r.rc == 0, r.err
    assert "Traceback" not in r.both
    (folder,) = (r.cwd / "results" / "tiny").iterdir()
    assert STAMP.match(folder.name), folder.name
    assert {p.name for p in folder.iterdir()} == FILES
    assert f"results written to {Path('results', 'tiny', folder.name)}" in r.out
    assert "fill_rate" in r.out  # the summary table
    assert json.loads((folder / "run.json").read_text())["replications"] == 2


def test_subprocess_negative_replications(procs):
    r = procs["run_negative_reps"]
    assert r.rc == 2
    assert "replications: must be a whole number from 1 to 1000000" in r.err
    assert "Traceback" not in r.both
    assert not (r.cwd / "results").exists()


def test_console_script_exists():
    assert SCRIPT.is_file() and os.access(SCRIPT, os.X_OK), SCRIPT


def test_console_script_version(procs):
    r = procs["script_version"]
    assert (r.rc, r.out, r.err) == (0, f"simulator {simulator.__version__}\n", "")


def test_console_script_behaves_like_module(procs):
    a, b = procs["script_validate_bad"], procs["validate_bad"]
    assert (a.rc, a.out, a.err) == (b.rc, b.out, b.err)
    assert a.rc == 2 and a.err.splitlines() == BAD_LINES


# -- in-process: simulator.cli.main -------------------------------------------------------

@pytest.fixture
def here(tmp_path, monkeypatch):
    """Work in ``tmp_path`` with ``good.yaml`` and ``bad.yaml`` in it."""
    monkeypatch.chdir(tmp_path)
    write_scenario(tmp_path, BASE_YAML, "good.yaml")
    write_scenario(tmp_path, BAD_YAML, "bad.yaml")
    return tmp_path


def test_main_validate_ok(here, capsys):
    assert main(["validate", "good.yaml"]) == 0
    assert capsys.readouterr().out == "ok\n"


def test_main_validate_bad(here, capsys):
    assert main(["validate", "bad.yaml"]) == 2
    cap = capsys.readouterr()
    assert cap.err.splitlines() == BAD_LINES
    assert cap.out == "" and "Traceback" not in cap.err


def test_main_validate_missing(here, capsys):
    assert main(["validate", "nope.yaml"]) == 2
    cap = capsys.readouterr()
    assert cap.err.startswith("nope.yaml: (file): cannot read") and "Traceback" not in cap.err


def test_main_run_invalid_scenario_writes_nothing(here, capsys):
    assert main(["run", "bad.yaml", "--out", "out"]) == 2
    assert capsys.readouterr().err.splitlines() == BAD_LINES
    assert not (here / "out").exists() and not (here / "results").exists()


def test_main_no_command(here, capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_main_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"simulator {simulator.__version__}\n"


def test_main_run_default_out(here, capsys):
    assert main(["run", "good.yaml"]) == 0
    assert main(["run", "good.yaml", "--quiet"]) == 0
    cap = capsys.readouterr()
    assert "fill_rate" in cap.out
    folders = sorted((here / "results" / "tiny").iterdir())
    assert len(folders) == 2, "a second run must not reuse the first run's folder"
    for folder in folders:
        assert STAMP.match(folder.name), folder.name
        assert {p.name for p in folder.iterdir()} == FILES
        assert f"results written to {folder.relative_to(here)}" in cap.out


def test_main_default_out_stays_inside_results(here, capsys):
    write_scenario(here, edit(BASE_YAML, ("name: tiny", "name: ../../evil name")), "evil.yaml")
    assert main(["run", "evil.yaml", "--quiet"]) == 0
    (folder,) = [p.parent for p in here.rglob("run.json")]
    assert folder.resolve().is_relative_to((here / "results").resolve())
    assert folder.parent.name == "evil_name"


def test_main_out_nonempty_folder_refused(here, capsys):
    out = here / "out"
    out.mkdir()
    (out / "metrics.csv").write_text("precious\n")
    (out / "notes.txt").write_text("keep me\n")
    before = snapshot(here)
    assert main(["run", "good.yaml", "--out", "out", "--quiet"]) == 2
    cap = capsys.readouterr()
    assert cap.err.strip() == ("out: out: already exists and is not empty; choose another "
                               "folder or pass --overwrite")
    assert "Traceback" not in cap.out + cap.err
    assert snapshot(here) == before
    assert sorted(p.name for p in here.iterdir()) == ["bad.yaml", "good.yaml", "out"]


def test_main_out_empty_folder_is_used(here, capsys):
    (here / "out").mkdir()
    assert main(["run", "good.yaml", "--out", "out", "--quiet"]) == 0
    assert {p.name for p in (here / "out").iterdir()} == FILES


def test_main_overwrite_replaces_a_results_folder(here, capsys):
    assert main(["run", "good.yaml", "--out", "out", "--quiet", "--seed", "1"]) == 0
    out = here / "out"
    first = (out / "metrics.csv").read_text()
    assert main(["run", "good.yaml", "--out", "out", "--quiet", "--overwrite",
                 "--seed", "2"]) == 0
    assert {p.name for p in out.iterdir()} == FILES
    assert (out / "metrics.csv").read_text() != first
    assert json.loads((out / "run.json").read_text())["seed"] == 2
    assert sorted(p.name for p in here.iterdir()) == ["bad.yaml", "good.yaml", "out"]


def test_main_overwrite_refuses_a_folder_it_did_not_write(here, capsys):
    out = here / "out"
    out.mkdir()
    (out / "metrics.csv").write_text("old\n")
    (out / "notes.txt").write_text("old\n")
    before = snapshot(here)
    assert main(["run", "good.yaml", "--out", "out", "--quiet", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "not a results folder of this tool" in err and "--overwrite only replaces" in err
    assert snapshot(here) == before


def test_main_overrides_recorded(here, capsys):
    assert main(["run", "good.yaml", "--out", "out", "--quiet",
                 "--replications", "3", "--seed", "7"]) == 0
    out = here / "out"
    sc = yaml.safe_load((out / "scenario.yaml").read_text())
    assert (sc["replications"], sc["seed"]) == (3, 7)
    info = json.loads((out / "run.json").read_text())
    assert (info["replications"], info["seed"]) == (3, 7)
    metrics = (out / "metrics.csv").read_text().splitlines()
    assert len(metrics) == 1 + 3
    # the override changes the numbers exactly like the API does
    api = simulator.run("good.yaml", replications=3, seed=7, progress=False)
    assert [ln.split(",")[0] for ln in metrics[1:]] == ["0", "1", "2"]
    assert metrics[1:] == api.metrics.to_csv(index=False).splitlines()[1:]


@pytest.mark.parametrize("args, message", [
    (["--replications", "-1"], "<arguments>: replications: must be a whole number from 1 to 1000000"),
    (["--replications", "0"], "<arguments>: replications: must be a whole number from 1 to 1000000"),
    (["--seed", "-1"], "<arguments>: seed: must be a whole number >= 0"),
])
def test_main_bad_overrides(here, capsys, args, message):
    assert main(["run", "good.yaml", "--out", "out", *args]) == 2
    cap = capsys.readouterr()
    assert cap.err.splitlines() == [message]
    assert "Traceback" not in cap.out + cap.err
    assert not (here / "out").exists()


def test_main_non_integer_replications_is_usage_error(here, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "good.yaml", "--replications", "many"])
    assert info.value.code == 2
    cap = capsys.readouterr()
    assert "invalid int value: 'many'" in cap.err and "Traceback" not in cap.err


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_main_out_is_a_file(here, capsys, overwrite):
    (here / "out").write_text("not a folder\n")
    assert main(["run", "good.yaml", "--out", "out", "--quiet", *overwrite]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert (here / "out").read_text() == "not a folder\n"


def test_main_out_below_a_file(here, capsys):
    (here / "afile").write_text("x\n")
    assert main(["run", "good.yaml", "--out", "afile/sub", "--quiet"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_flood_of_problems_is_capped(tmp_path, capsys):
    products = "\n".join(f"  - {{id: p{i}, holding_cost: -1}}" for i in range(250))
    (tmp_path / "many.yaml").write_text(f"name: many\nhorizon: 5\nproducts:\n{products}\n"
                                        "warehouses: []\n")
    assert main(["validate", str(tmp_path / "many.yaml")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 101
    assert lines[0].endswith("products.0.holding_cost: input should be greater than or equal to 0")
    assert lines[-1] == "... and 151 more problems (fix these first)"  # + empty warehouses
