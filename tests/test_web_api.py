"""The JSON API of `simulator serve` (SPEC section 10) through Flask's test client."""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("flask")
pytest.importorskip("sqlalchemy")

import simulator  # noqa: E402
from simulator.experiment.keys import apply_overrides  # noqa: E402
from simulator.scenario import load  # noqa: E402
from simulator.web import Limits, create_app  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUICK = ROOT / "scenarios" / "quickstart.yaml"
QUICK_TEXT = QUICK.read_text()
#: a short quickstart, so each run takes a fraction of a second
SHORT = {"horizon": 120}


def wait(client, run_id, timeout=60.0):
    """The run's status record once it is done or failed."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rec = client.get(f"/api/runs/{run_id}").get_json()
        if rec["status"] in ("done", "failed"):
            return rec
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish: {rec}")


def direct(overrides, replications):
    """The same run made with simulator.run (the reference)."""
    sc = apply_overrides(load(QUICK), overrides)
    return simulator.run(sc, replications=replications, progress=False)


def records(frame):
    return frame.to_dict(orient="records")


def assert_same(api_records, frame):
    got = pd.DataFrame(api_records, columns=list(frame.columns)).astype(frame.dtypes.to_dict())
    pd.testing.assert_frame_equal(got.reset_index(drop=True), frame.reset_index(drop=True),
                                  check_dtype=False, rtol=1e-12)


@pytest.fixture
def app():
    a = create_app("sqlite://", limits=Limits(max_replications=20, max_horizon=1000))
    yield a
    a.extensions["simulator"].executor.shutdown()


@pytest.fixture
def client(app):
    return app.test_client()


def post_run(client, **body):
    res = client.post("/api/runs", json=body)
    assert res.status_code == 202, res.get_json()
    return res.get_json()["id"]


def test_scenarios_lists_the_examples_with_their_descriptions(client):
    res = client.get("/api/scenarios")
    assert res.status_code == 200
    by_name = {s["name"]: s["description"] for s in res.get_json()}
    assert by_name["quickstart"] == load(QUICK).description
    assert set(by_name) == {p.stem for p in (ROOT / "scenarios").glob("*.yaml")}


def test_validate_ok_and_problems_with_their_lines(client):
    assert client.post("/api/validate", data=QUICK_TEXT).get_json() == {"ok": True}
    lines = QUICK_TEXT.splitlines()
    at = next(i for i, line in enumerate(lines, 1) if line.startswith("horizon:"))
    bad = "\n".join("horizon: -5" if i == at else line for i, line in enumerate(lines, 1))
    res = client.post("/api/validate", data=bad)
    assert res.status_code == 422
    body = res.get_json()
    assert body["ok"] is False
    assert body["problems"] == [f"{at}: horizon: input should be greater than 0"]


def test_validate_reports_yaml_errors_and_non_utf8_without_a_traceback(client):
    res = client.post("/api/validate", data="name: [x\n")
    assert res.status_code == 422
    assert "(yaml): not valid YAML" in res.get_json()["problems"][0]
    res = client.post("/api/validate", data=b"name: \xff\n")
    assert res.status_code == 422
    assert res.get_json()["problems"] == ["(file): not a UTF-8 text"]


def test_a_run_of_an_example_gives_the_direct_runs_tables(client):
    run_id = post_run(client, scenario="quickstart", replications=3, overrides=SHORT)
    rec = wait(client, run_id)
    assert (rec["id"], rec["status"], rec["progress"]) == (run_id, "done", 1.0)
    ref = direct(SHORT, 3)
    assert_same(client.get(f"/api/runs/{run_id}/summary").get_json(), ref.summary)
    assert_same(client.get(f"/api/runs/{run_id}/metrics").get_json(), ref.metrics)
    assert client.get(f"/api/runs/{run_id}/warnings").get_json() == records(ref.warnings)


def test_a_run_posted_as_yaml_text(client):
    text = QUICK_TEXT.replace("horizon: 365", "horizon: 100").replace("replications: 10",
                                                                      "replications: 2")
    res = client.post("/api/runs", data=text, content_type="text/yaml")
    assert res.status_code == 202
    run_id = res.get_json()["id"]
    assert wait(client, run_id)["status"] == "done"
    ref = direct({"horizon": 100}, 2)
    assert_same(client.get(f"/api/runs/{run_id}/summary").get_json(), ref.summary)


def test_bad_scenario_is_422_and_never_starts_a_run(client):
    res = client.post("/api/runs", data="name: x\n")
    assert res.status_code == 422
    assert "1: products: required key is missing" in res.get_json()["problems"]
    assert client.get("/api/runs").get_json() == []
    res = client.post("/api/runs", json={"scenario": "nosuch"})
    assert res.status_code == 422
    assert res.get_json()["problems"][0].startswith("request: scenario: no example scenario")


def test_unknown_run_is_404(client):
    for path in ("/api/runs/nosuch", "/api/runs/nosuch/summary", "/api/runs/nosuch/plots/cost.png",
                 "/api/compare?a=nosuch&b=nosuch"):
        assert client.get(path).status_code == 404, path


def test_results_of_an_unfinished_run_are_409(app, client):
    store = app.extensions["simulator"].store
    run = store.add("upload", QUICK_TEXT, {}, None, "quickstart")  # queued, never submitted
    assert client.get(f"/api/runs/{run.id}").get_json()["status"] == "queued"
    for name in ("summary", "metrics", "warnings", "plots/cost.png"):
        res = client.get(f"/api/runs/{run.id}/{name}")
        assert res.status_code == 409, name
        assert res.get_json()["status"] == "queued"


def test_upload_over_the_size_limit_is_413():
    app = create_app("sqlite://", limits=Limits(max_upload_kb=1))
    res = app.test_client().post("/api/validate", data=QUICK_TEXT + "#" * 2048)
    assert res.status_code == 413
    assert "larger than 1 KiB" in res.get_json()["problems"][0]


def _probe_module(tmp_path, monkeypatch):
    """A policy module on the import path that records being imported."""
    (tmp_path / "webprobe_policy.py").write_text(
        "import sys\nsys.modules[__name__].imported = True\n"
        "class Probe:\n    def __init__(self):\n        pass\n"
        "    def order_quantity(self, view):\n        return 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "webprobe_policy", raising=False)
    lines = QUICK_TEXT.splitlines()
    at = next(i for i, line in enumerate(lines, 1) if "type: sS" in line)
    text = QUICK_TEXT.replace("policy: {type: sS, s: 70, S: 150}",
                              "policy: {type: 'webprobe_policy:Probe'}")
    return text, at


def test_module_class_policies_are_refused_unless_allowed(client, tmp_path, monkeypatch):
    text, at = _probe_module(tmp_path, monkeypatch)
    for path in ("/api/validate", "/api/runs"):
        res = client.post(path, data=text)
        assert res.status_code == 422
        [problem] = res.get_json()["problems"]
        assert problem.startswith(f"{at}: warehouses.0.inventory.widget.policy.type: ")
        assert "--allow-code" in problem
    res = client.post("/api/runs", json={"scenario": "quickstart", "overrides": {
        "warehouses.dc.inventory.widget.policy": {"type": "webprobe_policy:Probe"}}})
    assert res.status_code == 422
    assert "--allow-code" in res.get_json()["problems"][0]
    assert "webprobe_policy" not in sys.modules
    allowed = create_app("sqlite://", allow_code=True).test_client()
    assert allowed.post("/api/validate", data=text).get_json() == {"ok": True}
    assert "webprobe_policy" in sys.modules


def test_an_upload_may_not_name_files_on_the_server(client):
    text = QUICK_TEXT.replace("widget: {rate: 20}", "widget: {history: /etc/passwd}")
    res = client.post("/api/validate", data=text)
    assert res.status_code == 422
    [problem] = res.get_json()["problems"]
    assert "customers.0.demand.widget.history: this server does not read files" in problem


def test_replication_and_horizon_caps(client):
    res = client.post("/api/runs", json={"scenario": "quickstart", "replications": 21})
    assert res.status_code == 422
    assert res.get_json()["problems"] == [
        "request: replications: 21 is more than this server allows (20; see simulator serve "
        "--max-replications)"]
    lines = QUICK_TEXT.splitlines()
    at = next(i for i, line in enumerate(lines, 1) if line.startswith("horizon:"))
    res = client.post("/api/validate", data=QUICK_TEXT.replace("horizon: 365", "horizon: 1001"))
    assert res.status_code == 422
    assert res.get_json()["problems"][0].startswith(f"{at}: horizon: 1001 days is more than")
    res = client.post("/api/runs", json={"scenario": "quickstart", "overrides": {"horizon": 1001}})
    assert res.status_code == 422
    assert client.get("/api/runs").get_json() == []


def test_form_overrides_change_the_run_and_bad_keys_are_422(client):
    change = {**SHORT, "warehouses.dc.inventory.widget.policy.s": 10}
    run_id = post_run(client, scenario="quickstart", replications=2, overrides=change)
    assert wait(client, run_id)["status"] == "done"
    assert_same(client.get(f"/api/runs/{run_id}/summary").get_json(), direct(change, 2).summary)
    res = client.post("/api/runs", json={"scenario": "quickstart",
                                         "overrides": {"warehouses.dc.inventory.nosuch.x": 1}})
    assert res.status_code == 422
    assert res.get_json()["problems"][0].startswith("form: warehouses.dc.inventory.nosuch.x: ")


def test_parameters_of_the_form(client):
    res = client.post("/api/parameters", json={"scenario": "quickstart"})
    params = {p["key"]: p["value"] for p in res.get_json()}
    assert params["warehouses.dc.inventory.widget.policy.s"] == 70
    assert params["warehouses.dc.inventory.widget.policy.S"] == 150
    assert params["warehouses.dc.inventory.gadget.policy.Q"] == 40
    assert params["warehouses.dc.inventory.gizmo.policy.service_level"] == 0.95
    assert "warehouses.dc.inventory.widget.policy.review_period" not in params  # a default
    res = client.post("/api/parameters", data="name: x\n")
    assert res.status_code == 422


def test_concurrent_runs_each_get_their_own_results():
    app = create_app("sqlite://", limits=Limits(workers=2, max_queue=16))
    seeds = [1, 2, 3, 4, 5, 6]
    ids: dict[int, str] = {}

    def post(seed):
        client = app.test_client()
        ids[seed] = post_run(client, scenario="quickstart", replications=2,
                             overrides={**SHORT, "seed": seed})

    threads = [threading.Thread(target=post, args=(s,)) for s in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client = app.test_client()
    assert len(set(ids.values())) == len(seeds)
    for seed in seeds:
        assert wait(client, ids[seed])["status"] == "done"
        ref = direct({**SHORT, "seed": seed}, 2)
        assert_same(client.get(f"/api/runs/{ids[seed]}/metrics").get_json(), ref.metrics)
    app.extensions["simulator"].executor.shutdown()


def test_a_full_queue_is_503(app, client):
    api = app.extensions["simulator"]
    api.executor._pending = api.limits.max_queue
    res = client.post("/api/runs", json={"scenario": "quickstart"})
    assert res.status_code == 503
    api.executor._pending = 0


def test_runs_and_results_survive_a_restart(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    first = create_app(url)
    c1 = first.test_client()
    run_id = post_run(c1, scenario="quickstart", replications=2, overrides=SHORT)
    assert wait(c1, run_id)["status"] == "done"
    summary = c1.get(f"/api/runs/{run_id}/summary").get_json()
    queued = first.extensions["simulator"].store.add("upload", QUICK_TEXT, {}, None, "q")
    first.extensions["simulator"].executor.shutdown()

    second = create_app(url)
    c2 = second.test_client()
    assert c2.get(f"/api/runs/{run_id}").get_json()["status"] == "done"
    assert c2.get(f"/api/runs/{run_id}/summary").get_json() == summary
    assert second.extensions["simulator"].executor.cache == {}
    png = c2.get(f"/api/runs/{run_id}/plots/fill_rate.png")
    assert png.status_code == 200 and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    left = c2.get(f"/api/runs/{queued.id}").get_json()
    assert left["status"] == "failed" and "stopped" in left["error"]
    assert {r["id"] for r in c2.get("/api/runs").get_json()} == {run_id, queued.id}


def test_plots_are_png_and_unknown_plots_404(client):
    run_id = post_run(client, scenario="quickstart", replications=2, overrides=SHORT)
    wait(client, run_id)
    for name in ("cost", "fill_rate"):
        res = client.get(f"/api/runs/{run_id}/plots/{name}.png")
        assert res.status_code == 200 and res.mimetype == "image/png"
        assert res.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(f"/api/runs/{run_id}/plots/nosuch.png").status_code == 404


def test_compare_two_runs_is_the_paired_comparison(client):
    from simulator.comparison import compare_results

    low = {**SHORT, "warehouses.dc.inventory.widget.policy.s": 40}
    a = post_run(client, scenario="quickstart", replications=3, overrides=SHORT)
    b = post_run(client, scenario="quickstart", replications=3, overrides=low)
    wait(client, a), wait(client, b)
    res = client.get(f"/api/compare?a={a}&b={b}")
    assert res.status_code == 200
    ref = compare_results([direct(SHORT, 3), direct(low, 3)],
                          labels=["a:quickstart", "b:quickstart"])
    assert_same(res.get_json(), ref)
    widget = [r for r in res.get_json() if r["product"] == "widget" and r["metric"] == "fill_rate"]
    assert widget[0]["diff"] < 0  # a lower reorder point fills fewer orders
    c = post_run(client, scenario="quickstart", replications=2, overrides=SHORT)
    wait(client, c)
    res = client.get(f"/api/compare?a={a}&b={c}")
    assert res.status_code == 422
    assert "share the seed and replications" in res.get_json()["problems"][0]


def test_serve_refuses_bad_limits_without_a_traceback(capsys):
    from simulator.cli import main

    assert main(["serve", "--max-replications", "0"]) == 2
    assert "<arguments>: --max-replications: must be at least 1" in capsys.readouterr().err
    assert main(["serve", "--database", "nosuch://x"]) == 2
    assert "--database: cannot open 'nosuch://x'" in capsys.readouterr().err


def test_runs_go_off_the_request_thread(app, client, monkeypatch):
    from simulator.web import executor

    release, entered = threading.Event(), threading.Event()
    real = executor.simulate

    def held(sc, report):
        entered.set()
        assert release.wait(30)
        return real(sc, report)

    monkeypatch.setattr(executor, "simulate", held)
    run_id = post_run(client, scenario="quickstart", replications=2, overrides=SHORT)
    assert entered.wait(30)
    assert client.get(f"/api/runs/{run_id}").get_json()["status"] == "running"
    assert client.get(f"/api/runs/{run_id}/summary").status_code == 409
    release.set()
    assert wait(client, run_id)["status"] == "done"


def test_progress_is_reported_per_part_of_a_replication(monkeypatch):
    from simulator.experiment import progress
    from simulator.web import executor

    monkeypatch.setattr(progress, "CALL_EVERY", 0.0)
    shares: list[float] = []
    sc = apply_overrides(load(QUICK), {**SHORT, "replications": 4})
    res = executor.simulate(sc, shares.append)
    assert len(shares) > 4  # within replications too, not only after each
    assert all(0 < s < 1 for s in shares)
    assert shares == sorted(shares)
    assert shares[-1] > 0.9
    assert_same(records(res.metrics), direct(SHORT, 4).metrics)


def test_a_run_that_fails_says_why_and_the_server_goes_on(app, client, monkeypatch):
    from simulator.errors import Problem, UserError
    from simulator.web import executor

    def bad(sc, report):
        raise UserError([Problem("<upload>", 12, "warehouses.0.x", "policy failed")])

    monkeypatch.setattr(executor, "simulate", bad)
    rec = wait(client, post_run(client, scenario="quickstart"))
    assert (rec["status"], rec["problems"]) == ("failed", ["12: warehouses.0.x: policy failed"])

    def bug(sc, report):
        raise RuntimeError("boom")

    monkeypatch.setattr(executor, "simulate", bug)
    rec = wait(client, post_run(client, scenario="quickstart"))
    assert (rec["status"], rec["error"]) == ("failed", "RuntimeError: boom")
    monkeypatch.undo()
    assert wait(client, post_run(client, scenario="quickstart", replications=2,
                                 overrides=SHORT))["status"] == "done"


def test_serve_command_serves_the_api(tmp_path):
    import json
    import socket
    import subprocess
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # from tmp_path, the installed package is imported (in CI not the checkout): its page
    # template must be installed with it
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "serve", "--port", str(port),
                             "--examples", str(ROOT / "scenarios")],
                            cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/scenarios") as r:
                    names = [s["name"] for s in json.load(r)]
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < end, proc.stderr.read()
                time.sleep(0.2)
        assert "quickstart" in names
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as r:
            assert b'<select id="example">' in r.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/app.js") as r:
            assert b"/api/runs" in r.read()
        assert (tmp_path / "simulator-web.db").is_file()  # the default database
    finally:
        proc.terminate()
        proc.wait(10)
