"""The HTML dashboard: a static page whose script renders the public dashboard JSON into its
tables and swaps in the charts fragment (``/dashboard/charts``: SVG the server rendered and
escaped, ``http.panels``), refreshing both every ``[http] dashboard_refresh_s`` without a
reload. JSON values are set as text (never as HTML); the fragment is parsed apart from the page
(``DOMParser``: its scripts never run) and moved in; and the page's Content-Security-Policy lets
only its own script run (by hash), so no data can run code.
"""

from __future__ import annotations

import base64
import hashlib

from marketmem.http.charts import CHART_CSS

PAGE_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.3rem; } h2 { font-size: 1.05rem; margin-top: 1.5rem; }
table { border-collapse: collapse; }
th, td { padding: .2rem .6rem; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
td.num, td.time { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.ok { color: #17703a; } .running { color: #1d5fa8; } .stale { color: #a86a00; }
.failed { color: #b3261e; font-weight: bold; } .missing, .disabled, .muted { color: #777; }
#state, .note, .legend { color: #666; }
#problem { color: #b3261e; }
.grid { display: flex; flex-wrap: wrap; gap: .6rem 1rem; }
.coin { display: flex; flex-wrap: wrap; gap: .4rem; }
table.runs td { padding: .1rem .4rem; }
.key { display: inline-block; width: .8rem; height: .8rem; vertical-align: middle; }
.key.ok { background: #2e9e57; } .key.failed { background: #b3261e; }
.key.skipped { background: #e0a100; }
pre.error { white-space: pre-wrap; word-break: break-word; margin: 0; max-width: 60rem; }
"""

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>marketmem dashboard</title>
<style>__CSS__</style>
</head>
<body>
<h1>marketmem</h1>
<p id="state">loading&hellip;</p>
<p id="problem" hidden></p>
<div id="counts"></div>
<div id="charts"><p class="note">loading the charts&hellip;</p></div>
<h2>Sources</h2>
<table id="sources"><thead><tr><th>source</th><th>status</th><th>enabled channels</th>
<th>newest success</th><th>oldest success</th></tr></thead><tbody></tbody></table>
<h2>Channels</h2>
<table id="channels"><thead><tr><th>channel</th><th>enabled</th><th>status</th><th>cadence</th>
<th>stale after</th><th>last success</th><th>rows (last run)</th></tr></thead>
<tbody></tbody></table>
<h2>Latest prices</h2>
<table id="prices"><thead><tr><th>kind</th><th>coins</th><th>newest</th><th>oldest</th>
</tr></thead><tbody></tbody></table>
<h2>Rows per table</h2>
<table id="tables"><thead><tr><th>table</th><th>rows</th></tr></thead><tbody></tbody></table>
<script>__SCRIPT__</script>
</body>
</html>
"""

SCRIPT = """"use strict";
const REFRESH_MS = __REFRESH_MS__;
function age(s) {
  if (s === null || s === undefined) return "never";
  if (s < 120) return Math.round(s) + "s ago";
  if (s < 7200) return Math.round(s / 60) + "m ago";
  if (s < 172800) return Math.round(s / 3600) + "h ago";
  return Math.round(s / 86400) + "d ago";
}
function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = String(text);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}
function fill(id, rows, build) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren();
  for (const row of rows) {
    const tr = document.createElement("tr");
    build(tr, row);
    body.appendChild(tr);
  }
}
function render(d) {
  const counts = document.getElementById("counts");
  counts.replaceChildren();
  for (const [status, n] of Object.entries(d.status_counts)) {
    const span = document.createElement("span");
    span.className = status;
    span.dataset.status = status;
    span.textContent = status + ": " + n + "  ";
    counts.appendChild(span);
  }
  fill("sources", d.sources, (tr, s) => {
    tr.dataset.source = s.source;
    cell(tr, s.source);
    cell(tr, s.worst_status, s.worst_status);
    cell(tr, s.enabled_channels, "num");
    cell(tr, age(s.newest_success_age_s));
    cell(tr, age(s.oldest_success_age_s));
  });
  fill("channels", d.channels, (tr, c) => {
    tr.dataset.channel = c.source + "/" + c.channel;
    tr.dataset.enabled = String(c.enabled);
    tr.dataset.status = c.status;
    cell(tr, c.source + "/" + c.channel);
    cell(tr, c.enabled ? "yes" : "no");
    cell(tr, c.enabled ? c.status : "disabled", c.enabled ? c.status : "disabled");
    cell(tr, c.cadence_s + "s", "num");
    cell(tr, c.stale_after_s + "s", "num");
    cell(tr, age(c.last_success_age_s));
    cell(tr, c.rows_written === null ? "-" : c.rows_written, "num");
  });
  fill("prices", Object.entries(d.prices), (tr, [kind, p]) => {
    cell(tr, kind);
    cell(tr, p.coins, "num");
    cell(tr, age(p.newest_age_s));
    cell(tr, age(p.oldest_age_s));
  });
  fill("tables", Object.entries(d.tables), (tr, [name, n]) => {
    tr.dataset.table = name;
    cell(tr, name);
    cell(tr, n, "num");
  });
  const state = document.getElementById("state");
  state.textContent = "updated " + new Date(d.generated_at_ms).toISOString();
  state.dataset.loaded = "true";
}
let chartRefreshes = 0;
async function refreshCharts() {
  const r = await fetch("dashboard/charts", {cache: "no-store"});
  if (!r.ok) throw new Error("HTTP " + r.status);
  // Parsed apart from the page (its scripts never run), then moved in.
  const doc = new DOMParser().parseFromString(await r.text(), "text/html");
  const nodes = Array.from(doc.body.childNodes, (n) => document.adoptNode(n));
  const root = document.getElementById("charts");
  root.replaceChildren(...nodes);
  root.dataset.refreshes = String(++chartRefreshes);
}
async function refreshTables() {
  const r = await fetch("api/v1/ingestion/dashboard", {cache: "no-store"});
  if (!r.ok) throw new Error("HTTP " + r.status);
  render(await r.json());
}
async function refresh() {
  try {
    const [tables, charts] = await Promise.allSettled([refreshTables(), refreshCharts()]);
    const failed = [["the dashboard", tables], ["the charts", charts]]
      .filter(([, r]) => r.status === "rejected")
      .map(([what, r]) => "could not load " + what + ": " + r.reason.message);
    const problem = document.getElementById("problem");
    problem.textContent = failed.join("; ");
    problem.hidden = failed.length === 0;
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}
refresh();
"""


def csp(script: str, *, scripts: bool = True) -> str:
    """A Content-Security-Policy for a page of ours: inline styles, requests to this origin,
    and no script but ``script`` (by its hash)."""
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    script_src = f"'sha256-{digest}'" if scripts else "'none'"
    return (
        f"default-src 'none'; script-src {script_src}; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


def dashboard_page(refresh_s: float) -> tuple[str, str]:
    """The page, refreshing every ``refresh_s``, and its Content-Security-Policy."""
    script = SCRIPT.replace("__REFRESH_MS__", str(max(1, round(refresh_s * 1000))))
    html = TEMPLATE.replace("__CSS__", PAGE_CSS + CHART_CSS).replace("__SCRIPT__", script)
    return html, csp(script)
