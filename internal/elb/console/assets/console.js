// elbow console: renders the model and the live samples that
// /api/events streams. No framework; every text goes in through
// textContent.
"use strict";

let model = { revision: 0, loadBalancers: [], targetGroups: [] };
let samples = [];
const keepSamples = 120;
const open = new Set(); // targets whose history is shown
let matched = ""; // ARN of the rule "try a request" matched

// el builds an element: el("td", {class: "x"}, "text", child, ...).
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat(Infinity)) {
    if (k === undefined || k === null || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

const lbKind = { application: "ALB", network: "NLB", gateway: "GWLB" };

function originText(o) {
  if (!o) return null;
  let s = o.kind ? `${o.kind} ${o.name}` : "";
  if (o.resource) s += (s ? " · " : "") + o.resource;
  if (o.cluster) s += (s ? " · " : "") + "cluster " + o.cluster;
  return el("span", { class: "origin", title: "from the resource's tags" }, s);
}

// Chart labels per figure and load balancer type (metrics.go, Sample).
// The data planes count requests, errors and response times per load
// balancer and target group (as CloudWatch does); per target they track
// what is in flight.
function figures(type, level) {
  const nlb = type === "network";
  const f = [];
  if (level !== "target") {
    f.push({ i: 0, label: nlb ? "new flows/s" : "requests/s" });
    f.push({ i: 1, label: nlb ? "resets/s" : "5XX/s", err: true });
    if (!nlb) f.push({ i: 2, label: "response ms" });
  }
  const active = level === "lb" ? (nlb ? "active flows" : "connections") : (nlb ? "open flows" : "in flight");
  f.push({ i: 3, label: active });
  return f;
}

function charts(series, type, level) {
  return el("div", { class: "charts" }, figures(type, level).map(f =>
    el("div", { class: "chart" + (f.err ? " err" : ""), "data-series": series, "data-fig": f.i, "data-level": level },
      el("span", {}, f.label, " ", el("b", {}, "–")),
      svg())));
}

function svg() {
  const ns = "http://www.w3.org/2000/svg";
  const s = document.createElementNS(ns, "svg");
  s.setAttribute("viewBox", "0 0 120 30");
  s.setAttribute("preserveAspectRatio", "none");
  s.append(document.createElementNS(ns, "polyline"));
  return s;
}

function fmt(v) {
  if (v === null || v === undefined) return "–";
  if (v >= 100) return Math.round(v).toString();
  return (Math.round(v * 100) / 100).toString();
}

// drawCharts fills every chart from the samples kept.
function drawCharts() {
  for (const c of document.querySelectorAll(".chart")) {
    const key = c.dataset.series, i = Number(c.dataset.fig);
    const zero = c.dataset.level === "target"; // a target without a series has nothing in flight
    const vals = samples.map(s => {
      const f = s.series[key];
      return f ? f[i] : (zero ? 0 : null);
    });
    const last = vals.length ? vals[vals.length - 1] : null;
    c.querySelector("b").textContent = fmt(last);
    const max = Math.max(1e-9, ...vals.filter(v => v !== null));
    const n = keepSamples - 1;
    const pts = [];
    vals.forEach((v, j) => {
      if (v === null) return;
      const x = (n - (vals.length - 1 - j)) * 120 / n;
      pts.push(`${x.toFixed(1)},${(29 - v / max * 27).toFixed(1)}`);
    });
    c.querySelector("polyline").setAttribute("points", pts.join(" "));
  }
}

function stateBadge(t) {
  return el("span", { class: "state " + t.state, "data-state": t.state }, t.state);
}

function checkDots(t) {
  return el("span", { class: "checks", title: "last health checks, oldest first" },
    (t.checks || []).map(c => el("i", {
      class: c.result === "success" ? "" : "fail",
      title: `${new Date(c.t).toLocaleTimeString()} ${c.result}${c.code ? " " + c.code : ""}${c.error ? ": " + c.error : ""}`,
    })));
}

function historyRows(t) {
  const rows = [];
  for (const tr of (t.transitions || []).slice().reverse())
    rows.push(el("tr", { class: "transition" }, el("td", {}, new Date(tr.t).toLocaleTimeString()),
      el("td", {}, `${tr.from} → ${tr.to}`), el("td", {}, tr.reason || "")));
  for (const c of (t.checks || []).slice().reverse())
    rows.push(el("tr", { class: "check" }, el("td", {}, new Date(c.t).toLocaleTimeString()),
      el("td", {}, c.result + (c.code ? ` (${c.code})` : "")), el("td", {}, c.error || "")));
  return el("table", { class: "history" }, el("tr", {}, el("th", {}, "time"), el("th", {}, "check or change"), el("th", {}, "detail")), rows);
}

function targetGroup(tg, type) {
  const rows = tg.targets.map(t => {
    const shown = open.has(t.key);
    const toggle = el("button", { class: "link", type: "button", onclick: () => { shown ? open.delete(t.key) : open.add(t.key); render(); } }, shown ? "hide" : "history");
    const name = [t.id + ":" + t.port, t.name ? ` (${t.name})` : ""].join("");
    const where = [t.zone, t.address && t.address !== t.id ? t.address : "", t.host ? "on " + t.host : ""].filter(Boolean).join(" · ");
    const tr = el("tr", { "data-target": t.key },
      el("td", {}, name, el("div", { class: "muted" }, where)),
      el("td", {}, stateBadge(t)),
      el("td", { class: "reason" }, t.reason ? el("div", {}, t.reason) : null, el("div", { class: "muted" }, t.description || "")),
      el("td", {}, checkDots(t), " ", toggle),
      el("td", {}, charts("t:" + t.key, type, "target")));
    return shown ? [tr, el("tr", { "data-history": t.key }, el("td", { colspan: 5 }, historyRows(t)))] : [tr];
  });
  return el("div", { class: "tg", "data-tg": tg.arn },
    el("h3", {}, "target group ", tg.name, " ", el("span", { class: "muted" },
      `${tg.protocol || "lambda"}${tg.port ? ":" + tg.port : ""} · ${tg.targetType}${tg.protocolVersion ? " · " + tg.protocolVersion : ""}`), originText(tg.origin)),
    el("div", { class: "facts" }, "health check: ", tg.healthCheck),
    charts("tg:" + tg.dim, type, "tg"),
    tg.targets.length === 0 ? el("p", { class: "muted" }, "no registered targets") :
      el("table", {}, el("tr", {}, ["target", "health", "reason", "checks", "live"].map(h => el("th", {}, h))), rows));
}

function listener(l) {
  return el("div", { class: "listener", "data-listener": l.arn },
    el("h3", {}, `listener ${l.protocol}:${l.port}`, l.detail ? el("span", { class: "muted" }, " · " + l.detail) : null),
    el("table", {}, el("tr", {}, ["priority", "conditions", "transforms", "actions", "from"].map(h => el("th", {}, h))),
      l.rules.map(r => el("tr", { "data-rule": r.arn, class: r.arn === matched ? "matched" : null },
        el("td", {}, r.priority),
        el("td", {}, r.conditions.length ? el("ul", {}, r.conditions.map(c => el("li", {}, c))) : el("span", { class: "muted" }, "any request")),
        el("td", {}, (r.transforms || []).length ? el("ul", {}, r.transforms.map(c => el("li", {}, c))) : ""),
        el("td", {}, el("ul", {}, r.actions.map(a => el("li", {}, a)))),
        el("td", {}, originText(r.origin))))));
}

function render() {
  const tgs = new Map(model.targetGroups.map(tg => [tg.arn, tg]));
  const used = new Set();
  const lbs = model.loadBalancers.map(lb => {
    const mine = model.targetGroups.filter(tg => tg.loadBalancers.includes(lb.arn));
    mine.forEach(tg => used.add(tg.arn));
    return el("section", { class: "card lb", "data-lb": lb.arn },
      el("div", { class: "lbhead" },
        el("span", { class: "kind " + lb.type }, lbKind[lb.type] || lb.type),
        el("span", { class: "name" }, lb.name),
        el("span", { class: "muted" }, `${lb.scheme} · ${lb.state}`), originText(lb.origin)),
      el("div", { class: "facts" }, "DNS ", el("code", {}, lb.dnsName), " · ",
        (lb.zones || []).map(z => `${z.name} ${z.address}`).join(", ")),
      charts("lb:" + lb.dim, lb.type, "lb"),
      lb.listeners.map(listener),
      mine.map(tg => targetGroup(tg, lb.type)));
  });
  document.getElementById("lbs").replaceChildren(...(lbs.length ? lbs : [el("p", { class: "card muted" }, "No load balancer yet.")]));
  const orphans = model.targetGroups.filter(tg => !used.has(tg.arn));
  document.getElementById("orphans").replaceChildren(...(orphans.length ?
    [el("div", { class: "card" }, el("h2", {}, "Target groups without a load balancer"), orphans.map(tg => targetGroup(tg, "application")))] : []));
  document.getElementById("rev").textContent = `state revision ${model.revision}`;
  fillListeners(tgs);
  drawCharts();
}

// fillListeners offers the ALB listeners to "try a request".
function fillListeners() {
  const sel = document.getElementById("try-listener");
  const cur = sel.value;
  const opts = [];
  for (const lb of model.loadBalancers) {
    if (lb.type !== "application") continue;
    for (const l of lb.listeners) opts.push(el("option", { value: l.arn, "data-lb": lb.arn }, `${lb.name} ${l.protocol}:${l.port}`));
  }
  sel.replaceChildren(...opts);
  if (opts.some(o => o.value === cur)) sel.value = cur;
  fillZones();
}

function fillZones() {
  const sel = document.getElementById("try-zone");
  const opt = document.getElementById("try-listener").selectedOptions[0];
  const lb = opt && model.loadBalancers.find(l => l.arn === opt.dataset.lb);
  const cur = sel.value;
  sel.replaceChildren(...(lb ? lb.zones.map(z => el("option", { value: z.name }, z.name)) : []));
  if (lb && lb.zones.some(z => z.name === cur)) sel.value = cur;
}

async function tryRequest(ev) {
  ev.preventDefault();
  const v = id => document.getElementById(id).value;
  const headers = v("try-headers").split("\n").map(l => l.trim()).filter(Boolean).map(l => {
    const i = l.indexOf(":");
    return i < 0 ? { name: l, value: "" } : { name: l.slice(0, i).trim(), value: l.slice(i + 1).trim() };
  });
  const body = { listener: v("try-listener"), zone: v("try-zone"), method: v("try-method"), host: v("try-host"),
    path: v("try-path"), query: v("try-query"), source: v("try-source"), headers };
  const out = document.getElementById("try-result");
  out.hidden = false;
  out.className = "result";
  try {
    const resp = await fetch("api/try", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const r = await resp.json();
    if (!resp.ok) throw new Error(r.error || resp.statusText);
    showResult(r);
  } catch (e) {
    out.className = "result error";
    out.replaceChildren(el("span", { id: "try-error" }, String(e.message || e)));
    matched = "";
    render();
  }
}

function showResult(r) {
  const out = document.getElementById("try-result");
  const rows = [];
  const row = (k, id, ...v) => rows.push(el("dt", {}, k), el("dd", { id }, ...v));
  row("rule", "try-rule", r.rule ? (r.rule.priority === "default" ? "default rule" : `priority ${r.rule.priority}`) : "none (refused before the rules)");
  if (r.rule) row("action", "try-action", r.rule.actions.join("; "));
  if (r.targetGroup) row("target group", "try-tg", r.targetGroup.name);
  if (r.target) row("target", "try-target", `${r.target.id}:${r.target.port}`, el("span", { class: "muted" }, ` ${r.target.zone || ""} ${r.target.state ? "· " + r.target.state : ""}`));
  if (r.kind === "forward") {
    row("sent as", "try-sent", `Host: ${r.host} · ${r.uri}`);
  } else {
    row("client gets", "try-status", `${r.status}${r.location ? " → " + r.location : ""}`);
    if (r.body) row("body", "try-body", r.contentType ? `(${r.contentType}) ` : "", r.body.length > 200 ? r.body.slice(0, 200) + "…" : r.body);
  }
  if (r.errorReason) row("error reason", "try-reason", r.errorReason);
  out.replaceChildren(el("dl", { id: "try-kind", "data-kind": r.kind }, rows));
  matched = r.rule ? r.rule.arn : "";
  render();
}

function connect() {
  const conn = document.getElementById("conn");
  const es = new EventSource("api/events");
  es.addEventListener("open", () => { conn.dataset.live = "true"; conn.textContent = "live"; });
  es.addEventListener("error", () => { conn.dataset.live = "false"; conn.textContent = "reconnecting…"; });
  es.addEventListener("model", e => { model = JSON.parse(e.data); render(); });
  es.addEventListener("history", e => { samples = JSON.parse(e.data); drawCharts(); });
  es.addEventListener("sample", e => {
    samples.push(JSON.parse(e.data));
    if (samples.length > keepSamples) samples.shift();
    drawCharts();
  });
}

document.getElementById("try-form").addEventListener("submit", tryRequest);
document.getElementById("try-listener").addEventListener("change", fillZones);
connect();
