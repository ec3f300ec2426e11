"""The HTML dashboard: a static page whose script renders the public dashboard JSON and
refreshes itself. Every value is set as text (never as HTML), so no data can inject markup.
"""

from __future__ import annotations

REFRESH_S = 10

DASHBOARD_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>marketmem dashboard</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.3rem; } h2 { font-size: 1.05rem; margin-top: 1.5rem; }
table { border-collapse: collapse; }
th, td { padding: .2rem .6rem; border-bottom: 1px solid #ddd; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #17703a; } .running { color: #1d5fa8; } .stale { color: #a86a00; }
.failed { color: #b3261e; font-weight: bold; } .missing, .disabled { color: #777; }
#state { color: #777; }
</style>
</head>
<body>
<h1>marketmem</h1>
<p id="state">loading&hellip;</p>
<div id="counts"></div>
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
<script>
"use strict";
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
async function refresh() {
  try {
    const r = await fetch("api/v1/ingestion/dashboard", {cache: "no-store"});
    if (!r.ok) throw new Error("HTTP " + r.status);
    render(await r.json());
  } catch (e) {
    document.getElementById("state").textContent = "could not load the dashboard: " + e.message;
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}
refresh();
</script>
</body>
</html>
""".replace("__REFRESH_MS__", str(REFRESH_S * 1000))
