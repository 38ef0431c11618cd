// Insights for admins: questions per day by mode, fallback rate, latency, unanswered
// questions (with the closest pages and an "ask again" link) and negative feedback.
import { api, el, formatDate, initHeader, signedOut } from "./common.js";
import { horizontalBars, meter, stackedBars } from "./chart.js";
import { linkTo } from "./markdown.js";

const SERIES = [
  { key: "local", label: "Local docs", className: "fill-local" },
  { key: "fallback", label: "Docs site", className: "fill-fallback" },
  { key: "none", label: "Not found", className: "fill-none" },
  { key: "action", label: "Key action", className: "fill-action" },
];
const MODES = { local: "Local docs", fallback: "Docs site", none: "Not found", action: "Key action" };

const container = document.getElementById("insights");
const notice = document.getElementById("auth-notice");
const errorBanner = document.getElementById("insights-error");
const daysSelect = document.getElementById("days");
let me = null;

function shortDate(iso) {
  const date = new Date(`${iso}T00:00:00`);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

function dataTable(days) {
  const head = el("tr", {}, el("th", { scope: "col", text: "Date" }), ...SERIES.map((s) => el("th", { scope: "col", text: s.label })));
  const body = days.map((day) => el("tr", {}, el("th", { scope: "row", text: day.date }), ...SERIES.map((s) => el("td", { text: String(day[s.key] || 0) }))));
  // Tables ignore a 1px width, so the screen-reader copy is hidden by a wrapper.
  const table = el("table", {}, el("caption", { text: "Questions per day by answer mode" }), el("thead", {}, head), el("tbody", {}, ...body));
  return el("div", { className: "visually-hidden" }, table);
}

function renderUnanswered(items) {
  const list = document.getElementById("unanswered");
  list.replaceChildren();
  if (!items.length) {
    list.append(el("li", { className: "meta", text: "Every question found an answer in this period." }));
    return;
  }
  for (const item of items) {
    const closest = el("div", { className: "closest" }, "Closest pages: ");
    const pages = (item.closest || []).map((page) => linkTo(page.url, page.title || page.url)).filter(Boolean);
    if (pages.length) pages.forEach((link, i) => closest.append(i ? ", " : "", link));
    else closest.append("none");
    const again = el("a", { href: `/?q=${encodeURIComponent(item.question)}`, text: "Ask again" });
    list.append(
      el(
        "li",
        { "data-testid": "unanswered-item" },
        el("div", { className: "q", text: item.question }),
        el("div", { className: "meta" }, `Asked ${item.count} time${item.count === 1 ? "" : "s"} · ${MODES[item.mode] || item.mode} · `, again),
        closest,
      ),
    );
  }
}

function renderFeedback(items) {
  const list = document.getElementById("feedback");
  list.replaceChildren();
  if (!items.length) {
    list.append(el("li", { className: "meta", text: "No negative feedback in this period." }));
    return;
  }
  for (const item of items) {
    list.append(
      el(
        "li",
        { "data-testid": "feedback-item" },
        el("div", { className: "q", text: item.question || "(question not recorded)" }),
        item.comment ? el("div", { text: `“${item.comment}”` }) : null,
        el("div", { className: "meta", text: `${item.rating === "down" ? "Rated not helpful" : "Rated helpful"} · ${formatDate(item.at, true)}` }),
      ),
    );
  }
}

let lastData = null;

/** Draw the per-day chart at the panel's own width, so labels stay readable on phones. */
function drawPerDay() {
  if (!lastData) return;
  const box = document.getElementById("per-day");
  const days = lastData.days || [];
  const width = Math.max(300, Math.round(box.clientWidth || 720));
  box.replaceChildren(
    stackedBars(days, SERIES, {
      title: "Questions per day by answer mode",
      label: (row) => shortDate(row.date),
      width,
      height: width < 500 ? 220 : 260,
    }),
    dataTable(days),
  );
}

let resizeTimer = 0;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(drawPerDay, 150);
});

function render(data) {
  document.getElementById("total").textContent = String(data.total ?? 0);
  const rate = Number(data.fallback_rate) || 0;
  document.getElementById("fallback-rate").textContent = `${Math.round(rate * 1000) / 10}%`;
  document.getElementById("fallback-meter").replaceChildren(meter(rate, { title: `Fallback rate ${Math.round(rate * 100)}%` }));
  const latency = data.latency_ms || {};
  document.getElementById("latency").replaceChildren(
    horizontalBars(
      ["p50", "p95", "p99"].map((p) => ({ label: p, value: latency[p] || 0 })),
      { title: `Latency p50 ${latency.p50 ?? 0} ms, p95 ${latency.p95 ?? 0} ms, p99 ${latency.p99 ?? 0} ms`, unit: " ms" },
    ),
  );
  const legend = document.getElementById("legend");
  legend.replaceChildren(...SERIES.map((s) => el("span", {}, el("i", { className: s.className, "aria-hidden": "true" }), s.label)));
  lastData = data;
  drawPerDay();
  renderUnanswered(data.unanswered || []);
  renderFeedback(data.feedback || []);
  container.hidden = false;
  drawPerDay();
}

async function load() {
  errorBanner.textContent = "";
  container.hidden = true;
  if (!me) {
    notice.textContent = "Sign in with an admin's API key to see insights.";
    return;
  }
  if (!me.is_admin) {
    notice.textContent = "Insights are for admins. Your key is not an admin's key.";
    return;
  }
  notice.textContent = "";
  try {
    render(await api(`/v1/insights?days=${encodeURIComponent(daysSelect.value)}`));
  } catch (error) {
    if (error.status === 401) signedOut();
    errorBanner.textContent = error.message;
  }
}

daysSelect.addEventListener("change", load);
me = await initHeader((who) => {
  me = who;
  load();
});
await load();
