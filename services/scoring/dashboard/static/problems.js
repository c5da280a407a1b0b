// planwatch live dashboard: problems raised and followed (issue #17). Loaded before app.js,
// which calls it on every poll and render (window.planwatchProblems):
//   refresh(planId)        fetch the plan's problems from the read API (and each one's history
//                          when it changed): GET /v1/plans/{plan}/problems[/{id}]
//   section(ctx)           the coordinator's "open problems" list (state, age, subject, raised
//                          by, asked of, overdue) and the open problems by agency
//   forTarget(ctx, id)     the problems on one target (open and ended), for its card
//   bind(rerender)         one listener for every history toggle on the page
// Every problem shows its history on demand (a button with aria-expanded). Text an agency wrote
// is always escaped. A service without the problems API (404) only hides the section.
"use strict";

window.planwatchProblems = (function () {
  const WORDS = {
    zh: { heading: "待解决问题", none: "目前没有待解决的问题。", state: "状态", age: "已持续",
          subject: "对象", raised_by: "提出单位", asked: "请求协助", overdue: "超期",
          overdue_yes: "超期未解决", history: "处理记录", show: "查看处理记录",
          by_agency: "按单位", agency: "单位", raised_open: "提出（未解决）",
          asked_open: "被请求协助（未解决）", problems: "问题", days: (n) => `${n} 天`,
          summary: (n, late) => `${n} 个待解决问题，其中 ${late} 个超期`,
          target_problems: "问题", not_applied: "未生效", needs: "所需支持", download: "下载表格",
          states: { open: "待处理", acknowledged: "已受理", resolved: "已解决", closed: "已关闭" },
          actions: { raised: "提出", acknowledged: "受理", commented: "评论", resolved: "解决",
                     closed: "关闭" } },
    en: { heading: "Open problems", none: "No open problem.", state: "State", age: "Age",
          subject: "Subject", raised_by: "Raised by", asked: "Asked of", overdue: "Overdue",
          overdue_yes: "Overdue", history: "History", show: "Show history",
          by_agency: "By agency", agency: "Agency", raised_open: "Raised (open)",
          asked_open: "Asked to help (open)", problems: "Problems",
          days: (n) => `${n} d`,
          summary: (n, late) => `${n} open problem${n === 1 ? "" : "s"}, ${late} overdue`,
          target_problems: "Problems", not_applied: "not applied", needs: "Needs",
          download: "Download table",
          states: { open: "Open", acknowledged: "Acknowledged", resolved: "Resolved",
                    closed: "Closed" },
          actions: { raised: "raised", acknowledged: "acknowledged", commented: "commented",
                     resolved: "resolved", closed: "closed" } },
  };
  // White text on each at least 4.5:1 (as the status badges; planwatch/report/problems_render.py).
  const STATE_COLOUR = { open: "#cf222e", acknowledged: "#953800", resolved: "#1a7f37", closed: "#57606a" };
  const OVERDUE_COLOUR = "#a40e26";

  const data = {
    planId: null,
    list: null, // the read API's list (null: none yet, or no problems API)
    details: {}, // problem id -> {key, history}
    shown: new Set(), // "<where>:<problem id>" whose history is open
    off: false, // the service has no problems API (404): not asked again
  };

  const esc = (text) =>
    String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const domId = (text) => String(text).replace(/[^A-Za-z0-9_-]/g, (c) => `_${c.charCodeAt(0).toString(16)}`);
  const isOpen = (p) => p.state === "open" || p.state === "acknowledged";
  const changeKey = (p) => `${p.state}|${p.updated_at}|${p.comments}`;

  async function getJson(url) {
    const response = await fetch(url, { cache: "no-store" });
    if (response.status === 404) return null;
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  async function refresh(planId) {
    if (planId !== data.planId) {
      Object.assign(data, { planId, list: null, details: {}, off: false });
      data.shown.clear();
    }
    if (data.off) return;
    const base = `/v1/plans/${encodeURIComponent(planId)}/problems`;
    const list = await getJson(base);
    if (list === null) {
      data.off = true;
      data.list = null;
      return;
    }
    // Each problem's history, fetched again only when the problem changed.
    await Promise.all(list.problems.map(async (p) => {
      const known = data.details[p.problem_id];
      if (known && known.key === changeKey(p)) return;
      const detail = await getJson(`${base}/${encodeURIComponent(p.problem_id)}`);
      data.details[p.problem_id] = { key: changeKey(p), history: detail ? detail.history : [] };
    }));
    data.list = list;
  }

  function badge(ctx, p) {
    const words = WORDS[ctx.lang];
    const state = `<span class="badge" data-state="${esc(p.state)}" style="background:${STATE_COLOUR[p.state] || STATE_COLOUR.closed}">${esc(words.states[p.state] || p.state)}</span>`;
    const late = p.overdue ? ` <span class="badge overdue" style="background:${OVERDUE_COLOUR}">${esc(words.overdue_yes)}</span>` : "";
    return state + late;
  }

  function toggle(ctx, p, where) {
    const words = WORDS[ctx.lang];
    const key = `${where}:${p.problem_id}`;
    const open = data.shown.has(key);
    const steps = (data.details[p.problem_id] || { history: [] }).history.length;
    return `<button type="button" class="problem-toggle" data-toggle="${esc(key)}" aria-expanded="${open}" aria-controls="history-${esc(domId(key))}"><span aria-hidden="true">${open ? "▾" : "▸"}</span> ${esc(words.history)} (${steps})<span class="sr-only">: ${esc(p.summary || p.problem_id)}</span></button>`;
  }

  function history(ctx, p, where) {
    const words = WORDS[ctx.lang];
    const key = `${where}:${p.problem_id}`;
    const steps = (data.details[p.problem_id] || { history: [] }).history.map((h) => {
      const refused = h.refused ? ` <span class="refused">(${esc(words.not_applied)}: ${esc(h.refused)})</span>` : "";
      const note = h.note ? `: <span class="note">${esc(h.note)}</span>` : "";
      return `<li class="step" data-key="${esc(h.event_id)}" data-action="${esc(h.action)}"${h.refused ? ` data-refused="${esc(h.refused)}"` : ""}>${esc(h.at.replace("T", " ").slice(0, 16))} · ${esc(ctx.agencyName(h.agency))} ${esc(words.actions[h.action] || h.action)}${refused}${note}</li>`;
    });
    return `<ol class="problem-history" id="history-${esc(domId(key))}"${data.shown.has(key) ? "" : " hidden"}>${steps.join("")}</ol>`;
  }

  function what(ctx, p) {
    const words = WORDS[ctx.lang];
    const summary = p.summary ? `<span class="summary">${esc(p.summary)}</span>` : "";
    const needs = p.needs ? `<div class="sub needs">${esc(words.needs)}: ${esc(p.needs)}</div>` : "";
    return `${summary} <span class="id">${esc(p.problem_id)}</span>${needs}`;
  }

  function asked(ctx, p) {
    return p.from_agencies.map((a) => esc(ctx.agencyName(a))).join(ctx.lang === "zh" ? "、" : ", ");
  }

  function region(heading, head, rows) {
    const ths = head.map((h) => `<th scope="col">${esc(h)}</th>`).join("");
    return `<div class="table-wrap" role="region" tabindex="0" aria-labelledby="${heading}"><table><thead><tr>${ths}</tr></thead><tbody>${rows.join("")}</tbody></table></div>`;
  }

  // The coordinator's list: every open or acknowledged problem, oldest first; then by agency.
  function section(ctx) {
    const words = WORDS[ctx.lang];
    const heading = document.getElementById("h-problems");
    if (heading && heading.textContent !== words.heading) heading.textContent = words.heading;
    const box = document.getElementById("problems-section");
    if (box) box.hidden = data.off;
    exportLinks(ctx);
    if (data.off || data.list === null) return "";
    const open = data.list.problems.filter(isOpen);
    document.body.dataset.problemsOpen = String(open.length);
    const late = open.filter((p) => p.overdue).length;
    const intro = `<p class="sub" id="problems-count" data-open="${open.length}" data-overdue="${late}">${esc(words.summary(open.length, late))}</p>`;
    if (!open.length) return `${intro}<p class="sub">${esc(words.none)}</p>`;
    const rows = open.map((p) => `<tr class="problem" data-key="${esc(p.problem_id)}" data-problem="${esc(p.problem_id)}" data-state="${esc(p.state)}" data-subject="${esc(p.subject)}" data-overdue="${p.overdue}" id="problem-${esc(domId(p.problem_id))}">
        <td>${badge(ctx, p)}</td><td class="num">${esc(words.days(Math.floor(p.age_days)))}</td>
        <td>${what(ctx, p)}<div class="sub">${esc(ctx.subjectName(p.subject))} <span class="id">${esc(p.subject)}</span></div></td>
        <td>${esc(ctx.agencyName(p.raised_by))}</td><td>${asked(ctx, p)}</td>
        <td>${toggle(ctx, p, "list")}${history(ctx, p, "list")}</td></tr>`);
    const head = [words.state, words.age, words.subject, words.raised_by, words.asked, words.history];
    return intro + region("h-problems", head, rows) + byAgency(ctx, open);
  }

  // Every problem of the plan as CSV or Excel (problem_downloads.py), in the page's language.
  function exportLinks(ctx) {
    const el = document.getElementById("problems-exports");
    if (!el) return;
    el.hidden = data.off || data.list === null;
    const plan = encodeURIComponent(data.planId || "");
    const links = ["csv", "xlsx"].map((fmt) => {
      const label = `<span class="sr-only">${esc(WORDS[ctx.lang].download)} ${esc(WORDS[ctx.lang].problems)}, </span>`;
      return `<a class="export" data-table="problems" data-format="${fmt}" href="/dashboard/api/plans/${plan}/problems.${fmt}?lang=${ctx.lang}" download>${label}${fmt === "csv" ? "CSV" : "Excel"}</a>`;
    });
    window.planwatchMorph(el, links.join(""));
  }

  // Per agency: the open problems it raised and those it is asked to help with (groups as
  // named), each a link to its row in the list above.
  function byAgency(ctx, open) {
    const words = WORDS[ctx.lang];
    const agencies = new Map();
    const entry = (a) => agencies.get(a) || agencies.set(a, { raised: [], asked: [] }).get(a);
    for (const p of open) {
      entry(p.raised_by).raised.push(p);
      for (const a of p.from_agencies) entry(a).asked.push(p);
    }
    const link = (p) => `<a href="#problem-${esc(domId(p.problem_id))}" data-problem="${esc(p.problem_id)}">${esc(p.problem_id)}</a>${p.overdue ? ` <span class="sub">(${esc(words.overdue)})</span>` : ""}`;
    const rows = [...agencies.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([a, c]) =>
      `<tr class="problem-agency" data-key="agency:${esc(a)}" data-agency="${esc(a)}" data-raised="${c.raised.length}" data-asked="${c.asked.length}">
        <td>${esc(ctx.agencyName(a))}</td><td>${c.raised.map(link).join(" ") || "—"}</td><td>${c.asked.map(link).join(" ") || "—"}</td></tr>`);
    const head = [words.agency, words.raised_open, words.asked_open];
    return `<h3 id="h-problems-agencies">${esc(words.by_agency)}</h3>${region("h-problems-agencies", head, rows)}`;
  }

  // A target's card: its problems (open first, then ended), each with its history.
  function forTarget(ctx, targetId) {
    if (data.off || data.list === null) return "";
    const mine = data.list.problems.filter((p) => p.subject === targetId);
    if (!mine.length) return "";
    const words = WORDS[ctx.lang];
    mine.sort((a, b) => Number(isOpen(b)) - Number(isOpen(a)) || a.raised_at.localeCompare(b.raised_at));
    const items = mine.map((p) => `<li class="problem" data-key="${esc(p.problem_id)}" data-problem="${esc(p.problem_id)}" data-state="${esc(p.state)}" data-overdue="${p.overdue}">
      ${badge(ctx, p)} ${what(ctx, p)} · ${esc(ctx.agencyName(p.raised_by))} · ${esc(words.days(Math.floor(p.age_days)))}
      ${toggle(ctx, p, `card-${targetId}`)}${history(ctx, p, `card-${targetId}`)}</li>`);
    return `<div class="problems"><div class="k">${esc(words.target_problems)}</div><ul>${items.join("")}</ul></div>`;
  }

  function bind(rerender) {
    document.addEventListener("click", (event) => {
      const button = event.target.closest("button.problem-toggle");
      if (!button) return;
      const key = button.dataset.toggle;
      if (data.shown.has(key)) data.shown.delete(key);
      else data.shown.add(key);
      rerender();
    });
  }

  return { refresh, section, forTarget, bind };
})();
