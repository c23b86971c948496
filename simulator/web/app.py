"""The Flask app of ``simulator serve``: a page and the JSON API of SPEC section 10.

Status codes: 202 run accepted; 404 unknown run, example or plot; 409 results of a run
that is not done (queued, running or failed: the body has its status); 413 request body
over ``--max-upload-kb``; 422 problems with the scenario (``{"ok": false, "problems":
[...]}``); 503 the run queue is full (try again later).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from simulator.errors import Problem, UserError
from simulator.results import Results
from simulator.scenario import Scenario
from simulator.web import intake
from simulator.web.db import Run, Store
from simulator.web.executor import TABLES, Busy, Executor, frame, rebuild
from simulator.web.figures import NAMES, png
from simulator.web.intake import Limits

#: the example scenarios of a source checkout (an installed package has none)
EXAMPLES = Path(__file__).resolve().parents[2] / "scenarios"


def _examples(folder: str | Path | None) -> Path:
    """The examples folder: ``folder``, else the checkout's, else ``./scenarios``."""
    if folder is not None:
        return Path(folder)
    return EXAMPLES if EXAMPLES.is_dir() else Path("scenarios").resolve()


def _problems(problems: list[str], status: int = 422) -> tuple[Response, int]:
    return jsonify({"ok": False, "problems": problems}), status


def _error(code: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"error": message, **extra}), code


def _text() -> str:
    """The request body as text; a UserError if it is not UTF-8."""
    try:
        return request.get_data().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError([Problem(intake.UPLOAD, None, "(file)", "not a UTF-8 text")]) from None


class Api:
    """The app's state: store, executor, limits, examples; the views are its methods."""

    def __init__(self, store: Store, executor: Executor, limits: Limits, allow_code: bool,
                 examples: Path):
        self.store, self.executor, self.limits = store, executor, limits
        self.allow_code = allow_code
        self.examples = intake.examples(examples)

    # -- scenarios -------------------------------------------------------------------
    def _example(self, name: Any) -> Path:
        if not isinstance(name, str) or name not in self.examples:
            raise UserError([Problem("request", None, "scenario",
                                     f"no example scenario {name!r:.60}; examples: "
                                     f"{', '.join(self.examples)}")])
        return self.examples[name]

    def _request(self, body: Any) -> intake.Request:
        """The run asked for by a JSON body: ``scenario`` (an example) or ``yaml`` (text),
        optional ``replications`` and ``overrides``."""
        if not isinstance(body, dict):
            raise UserError([Problem("request", None, "(body)", "expected a JSON object")])
        overrides = body.get("overrides") or {}
        if not isinstance(overrides, dict) or not all(isinstance(k, str) for k in overrides):
            raise UserError([Problem("request", None, "overrides",
                                     "expected an object of dotted key -> value")])
        reps = body.get("replications")
        if "yaml" in body and isinstance(body["yaml"], str):
            return intake.Request(body["yaml"], "upload", overrides, reps)
        path = self._example(body.get("scenario"))
        return intake.Request(path.read_text(encoding="utf-8"), f"example:{path.stem}",
                              overrides, reps)

    def _load(self, req: intake.Request) -> Scenario:
        search = [str(self.examples_dir)] if req.source.startswith("example:") else []
        return intake.load(req, self.limits, self.allow_code, search)

    @property
    def examples_dir(self) -> Path:
        first = next(iter(self.examples.values()), None)
        return first.parent if first is not None else EXAMPLES

    def scenarios(self) -> Any:
        return jsonify([intake.describe(p) for p in self.examples.values()])

    def scenario(self, name: str) -> Any:
        if name not in self.examples:
            return _error(404, f"no example scenario {name!r}")
        text = self.examples[name].read_text(encoding="utf-8")
        return jsonify({"name": name, "text": text})

    def validate(self) -> Any:
        self._load(intake.Request(_text(), "upload", {}))
        return jsonify({"ok": True})

    def parameters(self) -> Any:
        """The policy parameters of the scenario in the body (an example's name as JSON, or
        YAML text) as ``[{"key": dotted key, "value": number}]``, for the page's form."""
        body = request.get_json(silent=True) if request.is_json else None
        req = self._request(body) if body is not None else intake.Request(_text(), "upload", {})
        from simulator.scenario.yamlload import load_yaml_text

        self._load(req)  # the form is only for a valid scenario
        data = load_yaml_text(req.text, intake.UPLOAD)[0]
        return jsonify([{"key": k, "value": v} for k, v in policy_parameters(data)])

    # -- runs ------------------------------------------------------------------------
    def submit(self) -> Any:
        if request.is_json:
            req = self._request(request.get_json(silent=True))
        else:
            req = intake.Request(_text(), "upload", {})
        sc = self._load(req)
        run = self.store.add(req.source, req.text, dict(req.overrides), req.replications,
                             sc.name)
        try:
            self.executor.submit(run.id, sc)
        except Busy:
            self.store.set(run.id, status="failed", error="the server was busy")
            return _error(503, f"busy: {self.limits.max_queue} runs are queued or running; "
                               "try again later")
        return jsonify({"id": run.id}), 202

    def runs(self) -> Any:
        return jsonify([r.status_record() for r in self.store.recent()])

    def _run(self, run_id: str) -> Run | None:
        return self.store.get(run_id)

    def status(self, run_id: str) -> Any:
        run = self._run(run_id)
        return _error(404, f"no run {run_id!r}") if run is None else jsonify(run.status_record())

    def _finished(self, run_id: str) -> tuple[Run | None, Any]:
        """The run if it is done, else the error answer (404, 409)."""
        run = self._run(run_id)
        if run is None:
            return None, _error(404, f"no run {run_id!r}")
        if run.status != "done":
            return None, _error(409, f"run {run_id} is {run.status}, it has no results",
                                status=run.status)
        return run, None

    def table(self, run_id: str, name: str) -> Any:
        if name not in TABLES:
            return _error(404, f"no table {name!r}; tables: {', '.join(TABLES)}")
        run, err = self._finished(run_id)
        if run is None:
            return err
        text = self.store.table(run_id, name)
        body = "[]" if text is None else frame(text).to_json(orient="records",
                                                             double_precision=15)
        return Response(body, mimetype="application/json")

    def results(self, run: Run) -> Results:
        """A done run's Results: from the cache, else rebuilt from the database."""
        cached = self.executor.cache.get(run.id)
        if cached is not None:
            return cached
        req = intake.Request(run.scenario, run.source, json.loads(run.overrides),
                             run.replications)
        unlimited = Limits(max_replications=10**9, max_horizon=float("inf"))
        search = [str(self.examples_dir)] if run.source.startswith("example:") else []
        sc = intake.load(req, unlimited, self.allow_code, search)
        tables = {n: self.store.table(run.id, n) for n in (*TABLES, "info")}
        return rebuild(sc, tables)

    def plot(self, run_id: str, name: str) -> Any:
        if name not in NAMES:
            return _error(404, f"no plot {name!r}; plots: {', '.join(NAMES)}")
        run, err = self._finished(run_id)
        if run is None:
            return err
        return Response(png(self.results(run), name), mimetype="image/png")

    def compare(self) -> Any:
        """Paired comparison of run ``b`` against run ``a`` (simulator.comparison)."""
        from simulator.comparison import compare_results

        found = []
        for key in ("a", "b"):
            run, err = self._finished(request.args.get(key, ""))
            if run is None:
                return err
            found.append(run)
        a, b = (self.results(r) for r in found)
        if (a.scenario.seed, a.scenario.replications) != (b.scenario.seed,
                                                          b.scenario.replications):
            return _problems([f"compare: runs must share the seed and replications to be "
                              f"paired (a: seed {a.scenario.seed}, {a.scenario.replications} "
                              f"replications; b: seed {b.scenario.seed}, "
                              f"{b.scenario.replications})"])
        labels = [f"a:{a.scenario.name}", f"b:{b.scenario.name}"]
        table = compare_results([a, b], labels=labels)
        return Response(table.to_json(orient="records", double_precision=15),
                        mimetype="application/json")


def policy_parameters(data: Any) -> list[tuple[str, float]]:
    """``(dotted key, value)`` of every number written in a stock point's policy, in the
    scenario's plain data (as in the file: defaults the file leaves out are not listed)."""
    out = []
    warehouses = data.get("warehouses") if isinstance(data, dict) else None
    for w in warehouses if isinstance(warehouses, list) else []:
        inventory = w.get("inventory") if isinstance(w, dict) else None
        for pid, inv in (inventory.items() if isinstance(inventory, dict) else ()):
            policy = inv.get("policy") if isinstance(inv, dict) else None
            for k, v in (policy.items() if isinstance(policy, dict) else ()):
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    out.append((f"warehouses.{w.get('id')}.inventory.{pid}.policy.{k}", v))
    return out


def _routes(app: Flask, api: Api) -> None:
    add = app.add_url_rule
    add("/", "index", lambda: render_template("index.html"))
    add("/api/scenarios", "scenarios", api.scenarios)
    add("/api/scenarios/<name>", "scenario", api.scenario)
    add("/api/validate", "validate", api.validate, methods=["POST"])
    add("/api/parameters", "parameters", api.parameters, methods=["POST"])
    add("/api/runs", "runs", api.runs, methods=["GET"])
    add("/api/runs", "submit", api.submit, methods=["POST"])
    add("/api/runs/<run_id>", "status", api.status)
    add("/api/runs/<run_id>/plots/<name>.png", "plot", api.plot)
    add("/api/runs/<run_id>/<name>", "table", api.table)
    add("/api/compare", "compare", api.compare)


def _handlers(app: Flask, limits: Limits) -> None:
    @app.errorhandler(UserError)
    def _user(exc: UserError) -> Any:
        return _problems([intake.shown(p) for p in exc.problems])

    @app.errorhandler(413)
    def _too_big(exc: HTTPException) -> Any:
        return _problems([f"(request): larger than {limits.max_upload_kb} KiB, the most this "
                          "server accepts (simulator serve --max-upload-kb)"], 413)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        return _error(exc.code or 500, exc.description or exc.name)


def create_app(database_url: str = "sqlite://", allow_code: bool = False,
               limits: Limits | None = None, examples: str | Path | None = None) -> Flask:
    """The web app.

    Parameters
    ----------
    database_url : str
        SQLAlchemy URL of the runs database (default: SQLite in memory; ``simulator serve``
        uses ``sqlite:///simulator-web.db``).
    allow_code : bool
        Accept ``module:Class`` policies (imports code on the server).
    limits : Limits, optional
        Upload size, replication, horizon and queue caps (default :class:`Limits`).
    examples : path, optional
        Folder of example scenarios (default: a source checkout's ``scenarios/``, else
        ``./scenarios``).

    Returns
    -------
    flask.Flask
        With ``app.extensions["simulator"]`` the :class:`Api` (store, executor).
    """
    limits = limits or Limits()
    store = Store(database_url)
    store.abandon_unfinished()
    executor = Executor(store, limits.workers, limits.max_queue)
    api = Api(store, executor, limits, allow_code, _examples(examples))
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = limits.max_upload_kb * 1024
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["simulator"] = api
    _routes(app, api)
    _handlers(app, limits)
    return app
