// planwatch live dashboard: polls the scoring service's read API and draws the plan's state.
// No library: plain DOM and SVG. Charts follow planwatch/report/chart.py (the same geometry):
// the expected path (baseline -> interim trajectory -> target at the deadline), the reported
// points of the effective series, and the method's least-squares projection to the deadline.
// Each refresh updates the page in place (morph.js): focus, scroll and open areas survive it.
// Controls are native buttons, links and a select, so the keyboard reaches all of them.
// Firing alerts show who acknowledged them in notify and offer "acknowledge" (a note, an
// optional end) when the service relays to notify (acks.py: /dashboard/api/.../acks).
"use strict";

(function () {
  const POLL_MS = 5000;
  const DAYS_PER_MONTH = 30.44; // observed_per_month = slope per day * 30.44 (method v1)
  const PROJECTION_WINDOW = 6;
  const RECENT_REPORTS = 10; // reports listed per target card, newest first
  const SVG_NS = "http://www.w3.org/2000/svg"; // a namespace name, never fetched
  // The sections whose table downloads (router.py: /dashboard/api/plans/{plan}/tables/...).
  const TABLES = ["alerts", "areas", "commitments", "indicators", "targets", "agencies"];
  // Words only the page itself uses (the rest comes with the catalog's vocabulary).
  const PAGE_WORDS = {
    zh: { skip: "跳到正文", plan: "规划", all: "全部", filter: "按状态筛选", chart: "走势图",
          download: "下载表格", csv: "CSV", xlsx: "Excel", open: "展开", close: "收起",
          acked: "确认情况", not_acked: "未确认", ack: "确认", ack_for: "确认告警",
          receiver: "接收方", note: "备注", until: "有效至", until_hint: "可不填：直至撤回",
          until_open: "直至撤回", submit: "提交确认", cancel: "取消", sending: "正在提交…",
          ack_done: "已确认", ack_failed: "未能确认" },
    en: { skip: "Skip to content", plan: "Plan", all: "All", filter: "Filter by status",
          chart: "Trajectory chart", download: "Download table", csv: "CSV", xlsx: "Excel",
          open: "Show tasks", close: "Hide tasks",
          acked: "Acknowledgement", not_acked: "Not acknowledged", ack: "Acknowledge",
          ack_for: "Acknowledge alert", receiver: "Receiver", note: "Note", until: "Until",
          until_hint: "Optional: empty means until withdrawn", until_open: "until withdrawn",
          submit: "Send acknowledgement", cancel: "Cancel", sending: "Sending…",
          ack_done: "Acknowledged", ack_failed: "Not acknowledged" },
  };

  const ui = {
    lang: localStorage.getItem("planwatch.lang") === "en" ? "en" : "zh",
    catalog: null, // /dashboard/api/catalog
    planId: null,
    state: null, // /v1/plans/{plan}
    series: {}, // target id -> {key, points}
    filter: null, // a status, or null for all
    openAreas: new Set(),
    acks: null, // fingerprint -> {startsAt, receivers, acks} from notify; null: not available
    acksOff: false, // the service relays to no notify (404): not asked again
    ackOpen: null, // the fingerprint whose acknowledge form is open
    timer: null,
    polls: 0, // completed polls (body[data-polls]: what a test waits for)
  };

  // --- helpers -------------------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);
  const esc = (text) =>
    String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const voc = () => ui.catalog.vocabulary[ui.lang];
  const w = (key) => voc().words[key] || key;
  const pw = (key) => PAGE_WORDS[ui.lang][key];
  const plan = () => ui.catalog.plans.find((p) => p.id === ui.planId);
  const morph = (el, html) => window.planwatchMorph(el, html);
  const dayNumber = (iso) => {
    const [y, m, d] = iso.split("-").map(Number);
    return Date.UTC(y, m - 1, d) / 86400000;
  };
  const isoOf = (n) => new Date(n * 86400000).toISOString().slice(0, 10);
  const num = (x, digits = 2) => (x === null || x === undefined ? "—" : Number(x).toFixed(digits));
  const pct = (x) => (x === null || x === undefined ? "—" : (100 * x).toFixed(1) + "%");

  // Text changed only when it differs: a live region is not re-announced for nothing.
  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function statusBadge(status) {
    if (!status) return '<span class="badge none">—</span>';
    const colour = voc().status_colour[status];
    return `<span class="badge" data-status="${esc(status)}" style="background:${colour}">${esc(voc().status[status])}</span>`;
  }

  function sevBadge(severity) {
    return `<span class="sev" style="background:${voc().severity_colour[severity]}">${esc(voc().severity[severity])}</span>`;
  }

  function name(item) {
    return item ? item.name[ui.lang] : "";
  }

  // A table in a focusable, labelled region: it scrolls sideways on a narrow screen.
  function table(heading, head, rows) {
    const ths = head.map((h) => `<th scope="col">${esc(h)}</th>`).join("");
    return `<div class="table-wrap" role="region" tabindex="0" aria-labelledby="${heading}"><table><thead><tr>${ths}</tr></thead><tbody>${rows.join("")}</tbody></table></div>`;
  }

  function valueText(target, value) {
    if (value === null || value === undefined) return "—";
    if (target.kind === "share") return `${Number(value.toPrecision(4))}%`;
    if (target.kind === "rank") return ui.lang === "zh" ? `第${value}名` : `rank ${value}`;
    if (target.kind === "milestone") {
      const i = Math.round(value);
      if (Math.abs(i - value) < 1e-9 && target.stages[i]) return target.stages[i][ui.lang];
      return value.toFixed(2);
    }
    return Number.isInteger(value) ? value.toLocaleString("en") : value.toFixed(2);
  }

  // --- chart ---------------------------------------------------------------------------------

  function expectedPath(target, baseline) {
    if (!baseline) return [];
    const b = dayNumber(baseline.as_of);
    const d = dayNumber(target.pace_end);
    const knots = target.trajectory
      .map((p) => ({ x: dayNumber(p.as_of), y: p.value }))
      .filter((p) => p.x > b && p.x < d);
    return [{ x: b, y: baseline.value }, ...knots, { x: d, y: target.target }];
  }

  function projectionSegment(target, points, result) {
    if (result.projected === null || result.observed_per_month === null || points.length === 0) return null;
    const slope = result.observed_per_month / DAYS_PER_MONTH;
    const start = points[Math.max(0, points.length - PROJECTION_WINDOW)].x;
    const d = dayNumber(target.pace_end);
    return [{ x: start, y: result.projected - slope * (d - start) }, { x: d, y: result.projected }];
  }

  function niceStep(span, most) {
    const raw = span / most;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const f of [1, 2, 2.5, 5, 10]) if (raw <= f * mag) return f * mag;
    return 10 * mag;
  }

  function monthTicks(first, last) {
    const a = new Date(first * 86400000);
    const b = new Date(last * 86400000);
    const months = (b.getUTCFullYear() - a.getUTCFullYear()) * 12 + b.getUTCMonth() - a.getUTCMonth() + 1;
    const every = [1, 2, 3, 6, 12].find((m) => months / m <= 7) || 12;
    const ticks = [];
    let y = a.getUTCFullYear();
    let m = a.getUTCMonth() + (a.getUTCDate() === 1 ? 0 : 1);
    for (;;) {
      y += Math.floor(m / 12);
      m %= 12;
      const t = Date.UTC(y, m, 1) / 86400000;
      if (t > last) return ticks;
      if (m % every === 0) ticks.push(t);
      m += 1;
    }
  }

  function chart(target, result, points, dayIso) {
    const W = 640;
    const H = 240;
    const milestone = target.kind === "milestone";
    const left = milestone ? 150 : 52;
    const right = 16;
    const top = 14;
    const bottom = 30;
    const goal = { x: dayNumber(target.pace_end), y: target.target };
    const expected = expectedPath(target, result.baseline);
    const proj = projectionSegment(target, points, result);
    const day = dayNumber(dayIso);
    const all = [goal, ...expected, ...points, ...(proj || [])];
    let x0 = Math.min(day, ...all.map((p) => p.x));
    let x1 = Math.max(day, ...all.map((p) => p.x));
    if (x1 <= x0) x1 = x0 + 1;
    let lo = Math.min(...all.map((p) => p.y));
    let hi = Math.max(...all.map((p) => p.y));
    if (milestone) {
      lo = Math.min(lo, 0);
      hi = Math.max(hi, Math.max(target.stages.length - 1, 1));
    }
    const pad = hi > lo ? (hi - lo) * 0.08 : Math.max(Math.abs(hi) * 0.1, 1);
    lo -= pad;
    hi += pad;
    const up = target.direction > 0;
    const X = (x) => left + ((W - left - right) * (x - x0)) / (x1 - x0);
    const Y = (y) => {
      let s = (y - lo) / (hi - lo);
      if (!up) s = 1 - s;
      return top + (H - top - bottom) * (1 - s);
    };
    const f = (v) => v.toFixed(2);
    const path = (ps) => ps.map((p, i) => `${i ? "L" : "M"}${f(X(p.x))} ${f(Y(p.y))}`).join(" ");
    const colour = voc().status_colour[result.status];
    const parts = [];
    const yTicks = milestone
      ? target.stages.map((s, i) => [i, s[ui.lang]])
      : (() => {
          const step = niceStep(hi - lo, 5);
          const out = [];
          for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push([v, String(Number(v.toFixed(10)))]);
          return out;
        })();
    for (const [v, label] of yTicks) {
      parts.push(`<line class="grid" x1="${left}" x2="${W - right}" y1="${f(Y(v))}" y2="${f(Y(v))}" stroke="#d8dee4"/>`);
      parts.push(`<text x="${left - 6}" y="${f(Y(v))}" text-anchor="end" dominant-baseline="middle" fill="#57606a">${esc(label.slice(0, 14))}</text>`);
    }
    for (const t of monthTicks(x0, x1)) {
      parts.push(`<line class="grid" x1="${f(X(t))}" x2="${f(X(t))}" y1="${top}" y2="${H - bottom}" stroke="#d8dee4"/>`);
      parts.push(`<text x="${f(X(t))}" y="${H - bottom + 14}" text-anchor="middle" fill="#57606a">${isoOf(t).slice(0, 7)}</text>`);
    }
    parts.push(`<line class="today" x1="${f(X(day))}" x2="${f(X(day))}" y1="${top}" y2="${H - bottom}" stroke="#57606a" stroke-dasharray="2 2"/>`);
    if (expected.length) {
      parts.push(`<path class="expected" d="${path(expected)}" fill="none" stroke="#6e7781" stroke-width="1.5" stroke-dasharray="6 4"><title>${esc(w("chart_expected"))}</title></path>`);
    }
    parts.push(`<circle class="goal" cx="${f(X(goal.x))}" cy="${f(Y(goal.y))}" r="5" fill="none" stroke="#0969da" stroke-width="2"><title>${esc(w("goal"))}: ${esc(valueText(target, goal.y))}</title></circle>`);
    if (proj) {
      parts.push(`<path class="projection" d="${path(proj)}" fill="none" stroke="${colour}" stroke-width="1.5" stroke-dasharray="2 3"><title>${esc(w("chart_projection"))}</title></path>`);
      parts.push(`<circle class="projected" cx="${f(X(proj[1].x))}" cy="${f(Y(proj[1].y))}" r="3.5" fill="#fff" stroke="${colour}" stroke-width="1.5"/>`);
    }
    if (points.length) {
      parts.push(`<path class="reported" d="${path(points)}" fill="none" stroke="${colour}" stroke-width="2"/>`);
      for (const p of points) {
        parts.push(`<circle class="point" cx="${f(X(p.x))}" cy="${f(Y(p.y))}" r="3" fill="${colour}"><title>${isoOf(p.x)}: ${esc(valueText(target, p.y))}</title></circle>`);
      }
    }
    return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(`${pw("chart")}: ${name(target)}`)}" font-family="sans-serif" font-size="11" xmlns="${SVG_NS}">${parts.join("")}</svg>`;
  }

  // --- data ----------------------------------------------------------------------------------

  async function getJson(url) {
    const response = await fetch(url, { cache: "no-store" });
    if (response.status === 404) return null;
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  async function refreshSeries(state) {
    // Fetch a target's series only when what the state says of it changed.
    const jobs = Object.entries(state.targets).map(async ([id, r]) => {
      const key = `${r.points}|${r.current ? r.current.event_id : ""}|${r.current ? r.current.as_of : ""}`;
      if (ui.series[id] && ui.series[id].key === key) return;
      if (r.points === 0) {
        ui.series[id] = { key, points: [], reports: [] };
        return;
      }
      const doc = await getJson(`/v1/plans/${encodeURIComponent(ui.planId)}/targets/${encodeURIComponent(id)}/series?limit=1000&reports=${RECENT_REPORTS}`);
      const points = doc ? doc.points.map((p) => ({ x: dayNumber(p.as_of), y: p.value })) : [];
      points.sort((a, b) => a.x - b.x);
      const reports = doc && doc.recent_reports ? doc.recent_reports : []; // newest first
      ui.series[id] = { key, points, reports };
    });
    await Promise.all(jobs);
  }

  // notify's view of the plan's alerts; any failure only hides the acknowledgements.
  async function refreshAcks() {
    if (ui.acksOff) return;
    try {
      const response = await fetch(`/dashboard/api/plans/${encodeURIComponent(ui.planId)}/acks`, { cache: "no-store" });
      if (response.status === 404) ui.acksOff = true;
      ui.acks = response.ok ? (await response.json()).alerts : null;
    } catch (error) {
      ui.acks = null;
    }
  }

  async function poll() {
    try {
      const state = await getJson(`/v1/plans/${encodeURIComponent(ui.planId)}`);
      if (state !== null) await Promise.all([refreshSeries(state), refreshAcks()]);
      if (state !== null) await problems.refresh(ui.planId); // problems.js
      ui.state = state;
      setLive("live");
      render();
    } catch (error) {
      setLive("offline", String(error));
    } finally {
      ui.polls += 1;
      document.body.dataset.polls = String(ui.polls);
      clearTimeout(ui.timer);
      ui.timer = setTimeout(poll, POLL_MS);
    }
  }

  function setLive(kind, detail) {
    const el = $("live");
    el.dataset.state = kind;
    setText(el, kind === "live" ? w("live") : w("offline"));
    el.title = detail || "";
    document.body.dataset.live = kind;
  }

  // --- rendering -----------------------------------------------------------------------------

  function countsLegend(counts) {
    return voc()
      .status_order.filter((s) => counts[s])
      .map((s) => `<span data-status="${s}" data-count="${counts[s]}"><i style="background:${voc().status_colour[s]}"></i>${esc(voc().status[s])} ${counts[s]}</span>`)
      .join("");
  }

  // The legend beside it says the same in words: the bar is hidden from screen readers.
  function countsBar(counts) {
    const total = Object.values(counts).reduce((a, b) => a + b, 0) || 1;
    let x = 0;
    const rects = voc()
      .status_order.filter((s) => counts[s])
      .map((s) => {
        const width = (600 * counts[s]) / total;
        const r = `<rect class="seg" data-status="${s}" x="${x.toFixed(2)}" y="0" width="${width.toFixed(2)}" height="16" fill="${voc().status_colour[s]}"/>`;
        x += width;
        return r;
      });
    return `<svg class="bar" viewBox="0 0 600 16" width="100%" height="16" preserveAspectRatio="none" aria-hidden="true" focusable="false" xmlns="${SVG_NS}">${rects.join("")}</svg>`;
  }

  function renderOverview(p, s) {
    const o = s.overall;
    const sev = { critical: 0, warning: 0, info: 0 };
    for (const a of s.alerts) sev[a.severity] += 1;
    morph($("overview"), `
      <div class="kpi" id="overall" data-status="${esc(o.status || "")}" data-score="${o.score === null ? "" : o.score}">
        <div class="k">${esc(w("overall"))} · ${esc(w("score"))}</div>
        <div class="v">${num(o.score)}</div>${statusBadge(o.status)}</div>
      <div class="kpi" id="coverage"><div class="k">${esc(w("coverage"))}</div><div class="v">${pct(o.coverage)}</div>
        <div class="k" id="tasks-scored">${scoredTasks(s)} / ${Object.keys(s.tasks).length} ${esc(w("tasks_scored"))}</div>
        <div class="k" id="tasks-tracked">${trackedTasks(s)} / ${Object.keys(s.tasks).length} ${esc(w("tasks_tracked"))}</div></div>
      <div class="kpi"><div class="k">${esc(w("targets"))}</div><div class="v">${Object.keys(s.targets).length}</div></div>
      <div class="kpi"><div class="k">${esc(w("firing"))}</div><div class="v" id="alert-count">${s.alerts.length}</div>
        <div class="k">${["critical", "warning", "info"].filter((k) => sev[k]).map((k) => `${esc(voc().severity[k])} ${sev[k]}`).join(" · ")}</div></div>
      <div class="kpi wide"><div class="k">${esc(w("counts"))}</div>${countsBar(o.counts)}<div class="legend" id="counts">${countsLegend(o.counts)}</div></div>`);
  }

  function scoredTasks(s) {
    return Object.values(s.tasks).filter((t) => t.score !== null && t.score !== undefined).length;
  }

  function trackedTasks(s) {
    return s.tracked ? s.tracked.tasks.tracked.length : 0;
  }

  // What an unscored task tracks instead: its checklists (done / total) and its indicators.
  function taskTracking(p, s, taskId) {
    const parts = [];
    const tracked = s.tracked || { commitments: {}, indicators: {} };
    let done = 0, total = 0;
    for (const c of p.commitments.filter((c) => c.task === taskId)) {
      const st = tracked.commitments[c.id];
      if (st) { done += st.done; total += st.total; }
    }
    if (total) parts.push(`${esc(w("commitments"))} ${done}/${total} ${esc(w("done"))}`);
    const indicators = p.indicators.filter((i) => i.task === taskId).length;
    if (indicators) parts.push(`${indicators} ${esc(w("indicators"))}`);
    return parts.length ? parts.join(" · ") : esc(w("untracked"));
  }

  function renderCommitments(p, s) {
    const tracked = (s.tracked || {}).commitments || {};
    const agencies = Object.fromEntries(p.agencies.map((a) => [a.id, a]));
    const rows = p.commitments.map((c) => {
      const st = tracked[c.id] || { done: 0, total: c.deliverables.length, late: false, deliverables: {} };
      const when = c.deadline ? c.deadline : w("no_date");
      const late = st.late ? ` <span class="badge late">${esc(w("late"))}</span>` : "";
      const items = c.deliverables.map((d) => {
        const ds = st.deliverables[d.id] || { done: false, current: null, evidence: null };
        const mark = `<span aria-hidden="true">${ds.done ? "✓" : "○"}</span><span class="sr-only">${esc(w(ds.done ? "done" : "not_done"))}</span>`;
        const proof = !ds.evidence
          ? ""
          : /^https?:\/\//i.test(ds.evidence)
            ? ` <a href="${esc(ds.evidence)}" rel="noopener noreferrer">${esc(w("evidence"))}</a>`
            : ` <span class="evidence">${esc(ds.evidence)}</span>`;
        const asOf = ds.current ? ` <span class="sub">${esc(ds.current.as_of)}</span>` : "";
        return `<li class="deliverable" data-key="${esc(d.id)}" data-deliverable="${esc(d.id)}" data-done="${ds.done}">${mark} ${esc(name(d))}${asOf}${proof}</li>`;
      });
      return `<div class="commitment" data-key="${esc(c.id)}" data-commitment="${esc(c.id)}" data-task="${esc(c.task)}" data-late="${st.late}">
        <div><span class="id">${esc(c.task)}</span> <b>${esc(name(c))}</b> · ${st.done}/${st.total} ${esc(w("done"))} · ${esc(w("deadline"))} ${esc(when)}${late}
        · ${esc(w("lead"))} ${esc(name(agencies[c.lead]))}</div><ul>${items.join("")}</ul></div>`;
    });
    morph($("commitments"), rows.join(""));
  }

  function renderIndicators(p, s) {
    const tracked = (s.tracked || {}).indicators || {};
    const rows = p.indicators.map((i) => {
      const st = tracked[i.id] || { current: null, change: null, trend: [] };
      const value = st.current ? `${num(st.current.value)} ${esc(name(i.unit))} <span class="sub">(${esc(st.current.as_of)})</span>` : "—";
      const change = st.change === null ? "" : ` ${st.change >= 0 ? "+" : ""}${num(st.change)}`;
      const trend = st.trend.map((pt) => num(pt.value)).join(" → ");
      return `<tr class="indicator" data-key="${esc(i.id)}" data-indicator="${esc(i.id)}"><td><span class="id">${esc(i.task)}</span> ${esc(name(i))}</td><td class="num">${value}${change}</td><td class="sub">${esc(trend)}</td></tr>`;
    });
    morph($("indicators"), table("h-indicators", [w("indicators"), w("current"), w("trend")], rows));
  }

  function renderAlerts(p, s) {
    if (!s.alerts.length) {
      morph($("alerts"), `<p class="sub">${esc(w("no_alerts"))}</p>`);
      return;
    }
    const targets = Object.fromEntries(p.targets.map((t) => [t.id, t]));
    const agencies = Object.fromEntries(p.agencies.map((a) => [a.id, a]));
    const order = { critical: 0, warning: 1, info: 2 };
    const withAcks = ui.acks !== null;
    const rows = [];
    for (const a of [...s.alerts].sort((a, b) => order[a.severity] - order[b.severity] || a.target.localeCompare(b.target))) {
      const t = targets[a.target];
      const rule = voc().rule[a.rule] || a.rule;
      const cells = `<td>${sevBadge(a.severity)}</td><td>${esc(rule)}</td>
          <td>${esc(name(t))} <span class="id">${esc(a.target)}</span></td><td>${esc(name(agencies[t.lead]))}</td>`;
      const info = withAcks ? ui.acks[a.fingerprint] : undefined;
      const ackCell = withAcks ? `<td class="ack-cell">${ackList(info)}${ackButton(a, info, `${rule} · ${name(t)}`)}</td>` : "";
      rows.push(`<tr class="alert" data-key="${esc(a.fingerprint)}" data-fingerprint="${esc(a.fingerprint)}" data-target="${esc(a.target)}" data-rule="${esc(a.rule)}" data-acks="${info ? info.acks.length : 0}">${cells}${ackCell}</tr>`);
      if (info && ui.ackOpen === a.fingerprint) rows.push(ackForm(a, info, `${rule} · ${name(t)}`));
    }
    const head = [w("severity"), w("rule"), w("target"), w("lead"), ...(withAcks ? [pw("acked")] : [])];
    morph($("alerts"), table("h-alerts", head, rows));
  }

  // Local time, to the minute (the form's end is entered in local time too).
  function localTime(iso) {
    const d = new Date(iso);
    const two = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
  }

  // Who acknowledged the alert (notify's active acknowledgements of its current episode).
  function ackList(info) {
    if (!info) return '<span class="sub">—</span>'; // notify does not hold this alert
    if (!info.acks.length) return `<span class="sub">${esc(pw("not_acked"))}</span>`;
    const items = info.acks.map((k) => {
      const until = k.until ? `${pw("until")} ${localTime(k.until)}` : pw("until_open");
      const note = k.note ? ` <span class="note">${esc(k.note)}</span>` : "";
      return `<li class="ack" data-key="${esc(k.receiver)}|${esc(k.by)}" data-by="${esc(k.by)}" data-receiver="${esc(k.receiver)}" data-until="${esc(k.until || "")}"><b>${esc(k.by)}</b> · ${esc(k.receiver)} · ${esc(until)}${note}</li>`;
    });
    return `<ul class="acks">${items.join("")}</ul>`;
  }

  function ackButton(a, info, label) {
    if (!info) return ""; // notify does not hold this alert (yet): nothing to acknowledge
    const open = ui.ackOpen === a.fingerprint;
    return `<button type="button" class="ack-open" data-fingerprint="${esc(a.fingerprint)}" aria-expanded="${open}" aria-controls="ackform-${esc(a.fingerprint)}">${esc(pw("ack"))}<span class="sr-only">: ${esc(label)}</span></button>`;
  }

  // The acknowledge form, in the row under its alert: the receiver (the alert's, in routing
  // order: the most specific last, chosen first), a note, an optional end (local time).
  function ackForm(a, info, label) {
    const fp = esc(a.fingerprint);
    const last = info.receivers.length - 1;
    const options = info.receivers.map((r, i) => `<option value="${esc(r)}"${i === last ? " selected" : ""}>${esc(r)}</option>`).join("");
    return `<tr class="ack-row" data-key="ackform:${fp}"><td colspan="5">
      <form class="ack-form" id="ackform-${fp}" data-fingerprint="${fp}" aria-label="${esc(`${pw("ack_for")}: ${label}`)}">
        <label>${esc(pw("receiver"))} <select name="receiver" required>${options}</select></label>
        <label>${esc(pw("note"))} <input type="text" name="note" maxlength="2000" size="28"></label>
        <label>${esc(pw("until"))} <input type="datetime-local" name="until" aria-describedby="ackhint-${fp}"></label>
        <span class="sub" id="ackhint-${fp}">${esc(pw("until_hint"))}</span>
        <button type="submit" class="ack-submit">${esc(pw("submit"))}</button>
        <button type="button" class="ack-cancel">${esc(pw("cancel"))}</button>
      </form></td></tr>`;
  }

  function ackSay(text, failed) {
    const el = $("ack-message");
    el.hidden = !text;
    el.dataset.state = failed ? "failed" : "ok";
    setText(el, text);
  }

  function focusAckButton(fingerprint) {
    const button = document.querySelector(`button.ack-open[data-fingerprint="${CSS.escape(fingerprint)}"]`);
    if (button) button.focus();
  }

  async function submitAck(form) {
    const fingerprint = form.dataset.fingerprint;
    const data = new FormData(form);
    const body = { receiver: data.get("receiver"), note: data.get("note") || "" };
    const until = data.get("until");
    if (until) body.until = new Date(until).toISOString();
    ackSay(pw("sending"), false);
    try {
      const response = await fetch(`/dashboard/api/alerts/${encodeURIComponent(fingerprint)}/ack`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
        cache: "no-store",
      });
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        ackSay(`${pw("ack_failed")}: ${problem.detail || problem.title || `HTTP ${response.status}`}`, true);
        return;
      }
      ui.ackOpen = null;
      await refreshAcks();
      render();
      ackSay(`${pw("ack_done")}: ${body.receiver}`, false);
      focusAckButton(fingerprint);
    } catch (error) {
      ackSay(`${pw("ack_failed")}: ${error}`, true);
    }
  }

  // An area's row opens and closes its tasks with a button (keyboard: Tab, then Enter/Space).
  function renderAreas(p, s) {
    const rows = [];
    for (const area of p.areas) {
      const r = s.areas[area.id];
      if (!r) continue;
      const open = ui.openAreas.has(area.id);
      const toggle = `<button type="button" class="toggle" data-area="${esc(area.id)}" aria-expanded="${open}" title="${esc(pw(open ? "close" : "open"))}"><span aria-hidden="true">${open ? "▾" : "▸"}</span> ${esc(area.id)} ${esc(name(area))}</button>`;
      rows.push(`<tr class="area" data-key="area:${esc(area.id)}" data-area="${esc(area.id)}" data-status="${esc(r.status || "")}"><td>${toggle}</td>
        <td>${statusBadge(r.status)}</td><td class="num">${num(r.score)}</td><td class="legend">${countsLegend(r.counts)}</td></tr>`);
      for (const task of p.tasks.filter((t) => t.area === area.id)) {
        const tr = s.tasks[task.id];
        if (!tr) continue;
        const unscored = (tr.unscored || []).includes(task.id);
        rows.push(`<tr class="task${open ? "" : " hidden"}${unscored ? " unscored" : ""}" data-key="task:${esc(task.id)}" data-task="${esc(task.id)}" data-status="${esc(tr.status || "")}"><td>${esc(task.id)} ${esc(name(task))}</td>
          <td>${unscored ? `<span class="sub">${esc(w("unscored"))} · ${taskTracking(p, s, task.id)}</span>` : statusBadge(tr.status)}</td><td class="num">${num(tr.score)}</td><td class="legend">${unscored ? "" : countsLegend(tr.counts)}</td></tr>`);
      }
    }
    morph($("areas"), table("h-areas", [`${w("area")} / ${w("task")}`, w("status"), w("score"), w("counts")], rows));
  }

  function renderFilters(s) {
    const counts = s.overall.counts;
    const buttons = [`<button type="button" data-key="all" data-filter="" aria-pressed="${ui.filter === null}">${esc(pw("all"))} ${Object.keys(s.targets).length}</button>`];
    for (const st of voc().status_order) {
      if (!counts[st]) continue;
      buttons.push(`<button type="button" data-key="${st}" data-filter="${st}" aria-pressed="${ui.filter === st}"><i class="swatch" style="background:${voc().status_colour[st]}"></i>${esc(voc().status[st])} ${counts[st]}</button>`);
    }
    const group = $("filters");
    group.setAttribute("aria-label", pw("filter"));
    morph(group, buttons.join(""));
  }

  function renderTargets(p, s) {
    const agencies = Object.fromEntries(p.agencies.map((a) => [a.id, a]));
    const cards = [];
    for (const t of p.targets) {
      const r = s.targets[t.id];
      if (!r || (ui.filter && r.status !== ui.filter)) continue;
      const { points, reports } = ui.series[t.id] || { points: [], reports: [] };
      const colour = voc().status_colour[r.status];
      const figures = [
        ["score", num(r.score)],
        ["current", r.current ? `${valueText(t, r.current.value)} (${r.current.as_of})` : "—"],
        ["goal", `${t.comparator} ${valueText(t, t.target)}`],
        ["deadline", t.deadline || w("no_date")],
        ["progress", pct(r.progress_share)],
        ["expected", pct(r.expected_share)],
        ["pace", num(r.pace_ratio)],
        ["projection", valueText(t, r.projected)],
        ["days_left", r.days_left == null ? "—" : String(r.days_left)],
        ["stale", r.stale ? w("yes") : w("no")],
      ];
      cards.push(`<article class="card target" data-key="${esc(t.id)}" data-target="${esc(t.id)}" data-status="${esc(r.status)}" style="border-top-color:${colour}" aria-labelledby="card-${esc(t.id)}">
        <header><div><span class="name" id="card-${esc(t.id)}">${esc(name(t))}</span> <span class="id">${esc(t.id)}</span></div>${statusBadge(r.status)}</header>
        <div class="who">${esc(w("lead"))}: ${esc(name(agencies[t.lead]))}${t.co.length ? ` · ${esc(w("co"))}: ${t.co.map((a) => esc(name(agencies[a]))).join(ui.lang === "zh" ? "、" : ", ")}` : ""}</div>
        <dl>${figures.map(([k, v]) => `<dt>${esc(w(k))}</dt><dd>${esc(v)}</dd>`).join("")}</dl>
        ${breakdownList(p, t, (s.breakdowns || {})[t.id], agencies)}
        ${chart(t, r, points, s.at)}
        ${reportList(t, reports || [], agencies)}
        ${problems.forTarget(problemsContext(p), t.id)}
      </article>`);
    }
    morph($("targets"), cards.join(""));
  }

  // Method v1.1 breakdowns: each county's or park's latest figure, beside (never in) the headline.
  function breakdownList(p, t, figures, agencies) {
    if (!figures) return "";
    const units = Object.fromEntries((p.breakdowns || []).map((u) => [u.id, u]));
    const items = Object.entries(figures).map(([scope, f]) =>
      `<li data-scope="${esc(scope)}">${esc(units[scope] ? name(units[scope]) : scope)}: ${esc(valueText(t, f.value))} (${esc(f.as_of)}, ${esc(agencies[f.agency] ? name(agencies[f.agency]) : f.agency)})</li>`);
    return `<div class="breakdowns"><div class="k">${esc(w("breakdowns"))}</div><ul>${items.join("")}</ul></div>`;
  }

  // The target's recent reports as the read API lists them (newest first), each with its note
  // (text, escaped) and evidence (a link only when it is an http(s) URL, opened without
  // opener or referrer).
  function reportList(t, reports, agencies) {
    if (!reports.length) return "";
    const items = reports.map((r) => {
      const who = agencies[r.agency] ? name(agencies[r.agency]) : r.agency;
      const evidence = !r.evidence
        ? ""
        : /^https?:\/\//i.test(r.evidence)
          ? ` <a class="evidence" href="${esc(r.evidence)}" rel="noopener noreferrer" target="_blank">${esc(w("evidence"))}</a>`
          : ` <span class="evidence">${esc(r.evidence)}</span>`;
      const note = r.note ? ` <span class="note">${esc(r.note)}</span>` : "";
      return `<li class="report" data-key="${esc(r.event_id)}" data-event="${esc(r.event_id)}">${esc(r.as_of)} ${esc(valueText(t, r.value))} · ${esc(who)} (${esc(r.reported_at.slice(0, 10))})${note}${evidence}</li>`;
    });
    return `<div class="reports"><div class="k">${esc(w("recent_reports"))}</div><ul>${items.join("")}</ul></div>`;
  }

  function renderAgencies(p, s) {
    const rows = p.agencies
      .filter((a) => s.agencies[a.id] && (sum(s.agencies[a.id].lead.counts) || sum(s.agencies[a.id].co.counts)))
      .map((a) => {
        const c = s.agencies[a.id];
        return `<tr data-key="${esc(a.id)}" data-agency="${esc(a.id)}" data-lead-status="${esc(c.lead.status || "")}" data-stale="${c.stale}">
          <td>${esc(name(a))}</td><td>${statusBadge(c.lead.status)} <span class="id">${sum(c.lead.counts)}</span></td><td class="num">${num(c.lead.score)}</td>
          <td>${statusBadge(c.co.status)} <span class="id">${sum(c.co.counts)}</span></td><td class="num">${num(c.co.score)}</td><td class="num">${c.stale}</td></tr>`;
      });
    const head = [w("agency"), w("lead"), w("score"), w("co"), w("score"), w("stale")];
    morph($("agencies"), table("h-agencies", head, rows));
  }

  function sum(counts) {
    return Object.values(counts || {}).reduce((a, b) => a + b, 0);
  }

  // Per section: its table as CSV (UTF-8 with a BOM) and as an Excel workbook.
  function renderExports() {
    const base = `/dashboard/api/plans/${encodeURIComponent(ui.planId)}/tables`;
    for (const table of TABLES) {
      const links = ["csv", "xlsx"].map((fmt) => {
        const href = `${base}/${table}.${fmt}?lang=${ui.lang}`;
        const file = `${ui.planId}-${table}-${ui.state ? ui.state.at : ""}.${fmt}`; // as the server names it
        return `<a class="export" data-table="${table}" data-format="${fmt}" href="${esc(href)}" download="${esc(file)}"><span class="sr-only">${esc(pw("download"))} ${esc(w(table === "alerts" ? "firing" : table))}, </span>${pw(fmt)}</a>`;
      });
      const el = document.querySelector(`.exports[data-table="${table}"]`);
      el.hidden = !ui.state;
      morph(el, links.join(""));
    }
  }

  function renderChrome() {
    const p = plan();
    document.documentElement.lang = ui.lang === "zh" ? "zh-CN" : "en";
    setText($("title"), p ? p.title[ui.lang] : "planwatch");
    document.title = `planwatch · ${p ? p.title[ui.lang] : ""}`;
    setText($("skip"), pw("skip"));
    $("plan").setAttribute("aria-label", pw("plan"));
    setText($("lang"), w("language"));
    $("lang").lang = ui.lang === "zh" ? "en" : "zh-CN"; // the button names the other language
    const live = $("live");
    if (live.dataset.state !== "connecting") setText(live, live.dataset.state === "live" ? w("live") : w("offline"));
    for (const key of ["alerts", "areas", "targets", "commitments", "indicators", "agencies"]) {
      setText($(`h-${key}`), w(key === "alerts" ? "firing" : key));
    }
    setText($("footer"), `planwatch · ${p ? p.doc_no : ""} · ${w("method")} ${ui.state ? ui.state.method : ""}`);
    renderExports();
  }

  // Problems raised and followed (problems.js): what it needs of the page, the language and
  // the catalog's names.
  const problems = window.planwatchProblems;
  function problemsContext(p) {
    const agencies = Object.fromEntries(p.agencies.map((a) => [a.id, a]));
    const deliverables = p.commitments.flatMap((c) => c.deliverables);
    const subjects = Object.fromEntries([...p.targets, ...p.indicators, ...p.tasks, ...deliverables].map((x) => [x.id, x]));
    return {
      lang: ui.lang,
      agencyName: (id) => (agencies[id] ? name(agencies[id]) : id),
      subjectName: (id) => (subjects[id] ? name(subjects[id]) : id),
    };
  }

  function render() {
    renderChrome();
    const p = plan();
    const s = ui.state;
    document.body.dataset.plan = ui.planId || "";
    if (!s) {
      $("message").hidden = false;
      setText($("message"), w("waiting"));
      document.body.dataset.at = "";
      for (const id of ["overview", "alerts", "areas", "commitments", "indicators", "filters", "targets", "agencies"]) morph($(id), "");
      return;
    }
    $("message").hidden = true;
    document.body.dataset.at = s.at;
    // The service clock: the latest event or tick consumed, to the second.
    const clock = s.clock ? ` · ${w("updated")} ${String(s.clock).replace("T", " ").slice(0, 19)}` : "";
    setText($("asof"), `${w("as_of")} ${s.at}${clock}`);
    renderOverview(p, s);
    renderAlerts(p, s);
    renderAreas(p, s);
    renderCommitments(p, s);
    renderIndicators(p, s);
    renderFilters(s);
    renderTargets(p, s);
    renderAgencies(p, s);
    morph($("problems"), problems.section(problemsContext(p))); // problems.js
  }

  async function start() {
    ui.catalog = await getJson("/dashboard/api/catalog");
    const wanted = new URLSearchParams(location.search).get("plan");
    ui.planId = ui.catalog.plans.some((p) => p.id === wanted) ? wanted : ui.catalog.plans[0].id;
    const select = $("plan");
    select.innerHTML = ui.catalog.plans.map((p) => `<option value="${esc(p.id)}">${esc(p.id)}</option>`).join("");
    select.value = ui.planId;
    select.addEventListener("change", () => {
      ui.planId = select.value;
      ui.series = {};
      ui.state = null;
      ui.acks = null;
      ui.ackOpen = null;
      poll();
    });
    $("lang").addEventListener("click", () => {
      ui.lang = ui.lang === "zh" ? "en" : "zh";
      localStorage.setItem("planwatch.lang", ui.lang);
      render();
    });
    // One listener per container: the buttons inside are updated in place, never rebound.
    $("areas").addEventListener("click", (event) => {
      const button = event.target.closest("button.toggle");
      if (!button) return;
      const id = button.dataset.area;
      if (ui.openAreas.has(id)) ui.openAreas.delete(id);
      else ui.openAreas.add(id);
      render();
    });
    // The acknowledge buttons and forms (one listener each for the whole table).
    $("alerts").addEventListener("click", (event) => {
      const opener = event.target.closest("button.ack-open");
      const cancel = event.target.closest("button.ack-cancel");
      if (!opener && !cancel) return;
      const fingerprint = opener ? opener.dataset.fingerprint : cancel.closest("form").dataset.fingerprint;
      ui.ackOpen = opener && ui.ackOpen !== fingerprint ? fingerprint : null;
      ackSay("", false);
      render();
      if (ui.ackOpen) $(`ackform-${fingerprint}`).querySelector("select").focus();
      else focusAckButton(fingerprint);
    });
    $("alerts").addEventListener("submit", (event) => {
      const form = event.target.closest("form.ack-form");
      if (!form) return;
      event.preventDefault();
      submitAck(form);
    });
    $("alerts").addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || !event.target.closest("form.ack-form")) return;
      const fingerprint = event.target.closest("form").dataset.fingerprint;
      ui.ackOpen = null;
      render();
      focusAckButton(fingerprint);
    });
    $("filters").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-filter]");
      if (!button) return;
      ui.filter = button.dataset.filter || null;
      render();
    });
    problems.bind(render); // history toggles (problems.js)
    render();
    poll();
  }

  start().catch((error) => {
    $("message").hidden = false;
    $("message").textContent = String(error);
  });
})();
