// The page of `simulator serve`: plain JavaScript, no library, served locally.
"use strict";

const $ = (id) => document.getElementById(id);
const KPIS = ["fill_rate", "avg_on_hand", "avg_backorders", "lost_units", "total_cost"];
let example = "";      // the example chosen, while its text is not edited
let exampleText = "";

async function api(path, options) {
  const res = await fetch(path, options);
  const body = await res.json().catch(() => ({}));
  return { status: res.status, body };
}

function fmt(v) {
  if (typeof v !== "number") return v === null || v === undefined ? "" : String(v);
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);
}

function fill(table, columns, rows) {
  const head = table.querySelector("thead"), body = table.querySelector("tbody");
  head.innerHTML = ""; body.innerHTML = "";
  const tr = head.insertRow();
  for (const c of columns) { const th = document.createElement("th"); th.textContent = c; tr.appendChild(th); }
  for (const r of rows) {
    const row = body.insertRow();
    for (const c of columns) row.insertCell().textContent = fmt(r[c]);
  }
}

function showProblems(list, problems) {
  list.innerHTML = "";
  for (const p of problems || []) { const li = document.createElement("li"); li.textContent = p; list.appendChild(li); }
}

function source() {
  const text = $("yaml").value;
  return example && text === exampleText ? { scenario: example } : { yaml: text };
}

async function loadParameters() {
  const res = await api("/api/parameters", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(source()) });
  const body = $("param-table").querySelector("tbody");
  body.innerHTML = "";
  if (res.status !== 200) { showProblems($("problems"), res.body.problems); return; }
  showProblems($("problems"), []);
  for (const p of res.body) {
    const row = body.insertRow();
    row.insertCell().textContent = p.key;
    const input = document.createElement("input");
    input.type = "number"; input.step = "any"; input.value = p.value; input.dataset.key = p.key;
    input.dataset.original = String(p.value);
    row.insertCell().appendChild(input);
  }
}

async function pickExample() {
  example = $("example").value;
  if (!example) return;
  const res = await api("/api/scenarios/" + encodeURIComponent(example));
  exampleText = res.body.text; $("yaml").value = exampleText;
  await loadParameters();
}

function pickUpload() {
  const file = $("upload").files[0];
  if (!file) return;
  const reader = new FileReader();
  reader.onload = async () => { example = ""; $("example").value = ""; $("yaml").value = reader.result; await loadParameters(); };
  reader.readAsText(file);
}

function overrides() {
  const out = {};
  for (const input of $("param-table").querySelectorAll("input")) {
    if (input.value !== input.dataset.original) out[input.dataset.key] = Number(input.value);
  }
  return out;
}

async function run(event) {
  event.preventDefault();
  const body = { ...source(), overrides: overrides() };
  const reps = $("replications").value;
  if (reps) body.replications = Number(reps);
  showProblems($("problems"), []);
  $("status").textContent = "sending";  // not the last run's "done" while this one starts
  const res = await api("/api/runs", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (res.status !== 202) { showProblems($("problems"), res.body.problems || [res.body.error]); return; }
  $("progress").hidden = false; $("progress").value = 0;
  await poll(res.body.id);
}

async function poll(id) {
  for (;;) {
    const res = await api("/api/runs/" + id);
    $("progress").value = res.body.progress; $("status").textContent = res.body.status;
    if (res.body.status === "done") { await showRun(id, res.body.name); break; }
    if (res.body.status === "failed") {
      showProblems($("problems"), res.body.problems.length ? res.body.problems : [res.body.error]); break;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  await listRuns();
}

function kpiRows(summary) {
  const rows = new Map();
  for (const s of summary) {
    if (!KPIS.includes(s.metric)) continue;
    const key = s.warehouse + "/" + s.product;
    if (!rows.has(key)) rows.set(key, { "stock point": key });
    const half = s.ci95_high !== null && s.ci95_low !== null ? (s.ci95_high - s.ci95_low) / 2 : null;
    rows.get(key)[s.metric] = fmt(s.mean) + (half ? " ± " + fmt(half) : "");
  }
  return [...rows.values()];
}

async function showRun(id, name) {
  const [summary, warnings] = await Promise.all(
    [api(`/api/runs/${id}/summary`), api(`/api/runs/${id}/warnings`)]);
  $("results").hidden = false; $("run-name").textContent = name;
  fill($("kpi"), ["stock point", ...KPIS], kpiRows(summary.body));
  const wcols = warnings.body.length ? Object.keys(warnings.body[0]) : ["message"];
  const wrows = warnings.body.length ? warnings.body.slice(0, 200) : [{ message: "(none)" }];
  fill($("warnings"), wcols, wrows);
  $("plots").innerHTML = "";
  for (const plot of ["fill_rate", "cost"]) {
    const img = document.createElement("img");
    img.alt = plot; img.id = "plot-" + plot; img.src = `/api/runs/${id}/plots/${plot}.png`;
    $("plots").appendChild(img);
  }
}

async function listRuns() {
  const res = await api("/api/runs");
  for (const sel of [$("run-a"), $("run-b")]) {
    const chosen = sel.value; sel.innerHTML = "";
    for (const r of res.body.filter((r) => r.status === "done")) {
      const o = document.createElement("option");
      const changed = Object.entries(r.overrides).map(([k, v]) => `${k.split(".").slice(-3).join(".")}=${v}`);
      o.value = r.id; o.textContent = `${r.name} ${r.created.slice(0, 19)} ${changed.join(" ")} (${r.id.slice(0, 6)})`;
      sel.appendChild(o);
    }
    if (chosen) sel.value = chosen;
  }
}

async function compare() {
  const res = await api(`/api/compare?a=${$("run-a").value}&b=${$("run-b").value}`);
  if (res.status !== 200) { showProblems($("compare-problems"), res.body.problems || [res.body.error]); return; }
  showProblems($("compare-problems"), []);
  fill($("comparison"), ["warehouse", "product", "customer", "metric", "baseline_mean",
    "scenario_mean", "diff", "paired_low", "paired_high"], res.body);
}

async function start() {
  const res = await api("/api/scenarios");
  for (const s of res.body) {
    const o = document.createElement("option");
    o.value = s.name; o.textContent = s.name + (s.description ? " — " + s.description : "");
    $("example").appendChild(o);
  }
  $("example").addEventListener("change", pickExample);
  $("upload").addEventListener("change", pickUpload);
  $("yaml").addEventListener("change", loadParameters);
  $("form").addEventListener("submit", run);
  $("compare").addEventListener("click", compare);
  await listRuns();
}

start();
