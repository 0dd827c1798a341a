// ComputeRails dashboard: draws the page's charts with Chart.js from the page's JSON, fetched
// from its /api endpoint when served, or embedded in the page in a static snapshot. A drawn
// canvas gets data-drawn="true" (what the browser tests wait for).
"use strict";

const COLORS = { jobs: "#3b6fd8", requests: "#e08a1e", earnings: "#2a9d62", subsidy: "#8a5cc7", fees: "#2a9d62", share: "#d64541" };

function pageData() {
  const embedded = document.getElementById("page-data");
  if (embedded) return Promise.resolve(JSON.parse(embedded.textContent));
  const api = document.body.dataset.api;
  if (!api) return Promise.resolve(null);
  return fetch(api, { headers: { Accept: "application/json" } }).then((r) => {
    if (!r.ok) throw new Error(`${api}: HTTP ${r.status}`);
    return r.json();
  });
}

function base(extra) {
  return Object.assign({ animation: false, responsive: true, maintainAspectRatio: false }, extra);
}

function shortTime(iso) {
  return iso.replace("T", " ").slice(0, 16);
}

const CHARTS = {
  activity(canvas, data) {
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.activity.map((d) => d.day),
        datasets: [
          { label: "jobs created", data: data.activity.map((d) => d.jobs), backgroundColor: COLORS.jobs, yAxisID: "y" },
          { label: "paid requests", data: data.activity.map((d) => d.paid_requests), backgroundColor: COLORS.requests, yAxisID: "y1" },
        ],
      },
      options: base({
        scales: {
          y: { beginAtZero: true, title: { display: true, text: "jobs" } },
          y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "requests" } },
        },
      }),
    });
  },
  earnings(canvas, data) {
    const tokens = [...new Set(data.earnings.map((e) => e.token || ""))];
    return new Chart(canvas, {
      type: "line",
      data: {
        labels: data.earnings.map((e) => shortTime(e.time)),
        datasets: [
          {
            label: "cumulative net earnings",
            data: data.earnings.map((e) => Number(e.cumulative)),
            borderColor: COLORS.earnings,
            backgroundColor: COLORS.earnings,
            stepped: true,
            tokens,
          },
        ],
      },
      options: base({ scales: { y: { beginAtZero: true } } }),
    });
  },
  // Per reward epoch: the subsidy and the providers' fee revenue (bars, token units; every
  // payment token summed, 1:1 with the reward token as the protocol prices them) and the
  // subsidy's share of the two (line, right axis).
  flywheel(canvas, data) {
    const points = data.flywheel;
    const fees = points.map((p) => Object.values(p.fee_revenue).reduce((a, v) => a + Number(v), 0));
    return new Chart(canvas, {
      data: {
        labels: points.map((p) => String(p.epoch)),
        datasets: [
          { type: "bar", label: "subsidy", data: points.map((p) => Number(p.subsidy)), backgroundColor: COLORS.subsidy, yAxisID: "y", order: 2 },
          { type: "bar", label: "provider fee revenue", data: fees, backgroundColor: COLORS.fees, yAxisID: "y", order: 3 },
          {
            type: "line",
            label: "subsidy share",
            data: points.map((p) => (p.subsidy_share === null ? null : 100 * p.subsidy_share)),
            borderColor: COLORS.share,
            backgroundColor: COLORS.share,
            spanGaps: true,
            yAxisID: "y1",
            order: 1,
          },
        ],
      },
      options: base({
        scales: {
          x: { title: { display: true, text: "reward epoch" } },
          y: { beginAtZero: true, title: { display: true, text: "tokens" } },
          y1: { min: 0, max: 100, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "subsidy share %" } },
        },
      }),
    });
  },
  uptime(canvas, data) {
    const epochs = data.uptime;
    return new Chart(canvas, {
      type: "matrix",
      data: {
        datasets: [
          {
            label: "uptime",
            data: epochs.map((u) => ({ x: String(u.epoch), y: "uptime", v: u.uptime_bps })),
            backgroundColor: (ctx) => uptimeColor(ctx.raw ? ctx.raw.v : 10000),
            borderColor: "#fff",
            borderWidth: 1,
            width: ({ chart }) => (chart.chartArea || {}).width / Math.max(epochs.length, 1) - 2,
            height: ({ chart }) => (chart.chartArea || {}).height - 2,
          },
        ],
      },
      options: base({
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (ctx) => `epoch ${ctx.raw.x}: ${(ctx.raw.v / 100).toFixed(2)} %` } },
        },
        scales: {
          x: { type: "category", labels: epochs.map((u) => String(u.epoch)), offset: true, title: { display: true, text: "epoch" }, grid: { display: false } },
          y: { type: "category", labels: ["uptime"], offset: true, grid: { display: false } },
        },
      }),
    });
  },
};

// Red below 90 %, shading to green at 100 %.
function uptimeColor(bps) {
  const t = Math.max(0, Math.min(1, (bps - 9000) / 1000));
  const r = Math.round(214 - t * (214 - 42));
  const g = Math.round(69 + t * (157 - 69));
  const b = Math.round(65 + t * (98 - 65));
  return `rgb(${r}, ${g}, ${b})`;
}

function draw() {
  const canvases = document.querySelectorAll("canvas[data-chart]");
  if (!canvases.length) return;
  pageData()
    .then((data) => {
      if (!data) return;
      canvases.forEach((canvas) => {
        CHARTS[canvas.dataset.chart](canvas, data);
        canvas.dataset.drawn = "true";
      });
    })
    .catch((err) => {
      canvases.forEach((canvas) => {
        const note = document.createElement("p");
        note.className = "problem";
        note.textContent = `chart unavailable: ${err.message}`;
        canvas.replaceWith(note);
      });
      console.error(err);
    });
}

document.addEventListener("DOMContentLoaded", draw);
