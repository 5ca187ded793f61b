// The Status tab: the server's own counters, live. While the tab is shown it fetches
// /metrics.json once a second (the same registry as /metrics, Prometheus's text format) and
// draws what changed: a counter only goes up, so a rate is the difference of two readings
// divided by the time between them, as Prometheus's rate() computes it.
//
// The charts are a <canvas> each, drawn by hand (no chart library): the last 60 readings, the
// y axis scaled to the largest, in the page's own colours.

import { $, el } from './dom.js';
import { CLOSE_CODES } from './connection.js';

const PERIOD_MS = 1000;
const HISTORY = 60; // readings kept per chart: one minute
/** The endpoints the server has, in its own order: the `endpoint` labels of its counters. */
const endpoints = (view) => samples(view, 'wsmith_connections_open').map((sample) => sample.labels.endpoint);
/** Shown even while nothing happens on them: the endpoints the page itself talks to. */
const ALWAYS_SHOWN = ['echo', 'broadcast', 'chat', 'notifications'];

// ───────────────────────────── reading the JSON view ─────────────────────────────

/** The samples of one family (`[]` if the server has none). */
const samples = (view, name) => (view && view[name] && view[name].samples) || [];

/** The value of `name` whose labels include `labels`; the sum of every sample if none given. */
function value(view, name, labels = {}) {
  let total = 0;
  for (const sample of samples(view, name)) {
    if (Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) total += sample.value || 0;
  }
  return total;
}

// ───────────────────────────── numbers for people ─────────────────────────────

const decimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat('en');

/** 1234 → "1.2k", 0.4 → "0.4". */
function short(n) {
  if (!Number.isFinite(n)) return '–';
  const abs = Math.abs(n);
  if (abs >= 1e9) return decimal.format(n / 1e9) + 'G';
  if (abs >= 1e6) return decimal.format(n / 1e6) + 'M';
  if (abs >= 1e4) return decimal.format(n / 1e3) + 'k';
  return abs >= 100 ? whole.format(Math.round(n)) : decimal.format(n);
}

/** Bytes in binary units: "512 B", "12.3 KiB", "4 MiB". */
function bytes(n) {
  if (!Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${i === 0 ? Math.round(n) : decimal.format(n)} ${units[i]}`;
}

/** Seconds as "37 µs", "1.2 ms", "0.3 s". */
function seconds(s) {
  if (!Number.isFinite(s)) return '–';
  if (s < 1e-3) return `${decimal.format(s * 1e6)} µs`;
  if (s < 1) return `${decimal.format(s * 1e3)} ms`;
  return `${decimal.format(s)} s`;
}

function uptime(startSeconds) {
  if (!startSeconds) return '–';
  let s = Math.max(0, Math.round(Date.now() / 1000 - startSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  s %= 60;
  return h ? `${h} h ${m} min` : m ? `${m} min ${s} s` : `${s} s`;
}

// ───────────────────────────── a chart, by hand ─────────────────────────────

/** A line chart of the last HISTORY readings of one or more series, on a <canvas>. */
class Chart {
  /**
   * `series`: [{ key, color: CSS variable name }]; `format` labels the y axis, whose top is at
   * least `floor` (so a quiet server draws a flat line at the bottom, not noise blown up).
   */
  constructor(canvas, series, format, floor, nice = niceCeiling) {
    this.canvas = canvas;
    this.series = series.map((s) => ({ ...s, points: [] }));
    this.format = format;
    this.floor = floor;
    this.nice = nice;
  }

  push(values) {
    for (const s of this.series) {
      s.points.push(Math.max(0, values[s.key] || 0));
      if (s.points.length > HISTORY) s.points.shift();
    }
  }

  draw() {
    const { canvas } = this;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const g = canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    const css = getComputedStyle(document.documentElement);
    const color = (name) => css.getPropertyValue(name).trim() || '#888';

    const max = this.nice(Math.max(this.floor, ...this.series.flatMap((s) => s.points)));
    const top = 8;
    const bottom = height - 16;
    const left = 4;
    const right = width - 4;
    const x = (i) => left + ((right - left) * i) / (HISTORY - 1);
    const y = (v) => bottom - ((bottom - top) * v) / max;

    // Grid: three lines, the top one labelled with the axis maximum.
    g.strokeStyle = color('--border');
    g.lineWidth = 1;
    g.fillStyle = color('--muted');
    g.font = `11px ${css.getPropertyValue('--font')}`;
    for (const f of [0, 0.5, 1]) {
      const at = Math.round(y(max * f)) + 0.5;
      g.beginPath();
      g.moveTo(left, at);
      g.lineTo(right, at);
      g.stroke();
    }
    g.textBaseline = 'top';
    g.fillText(this.format(max), left + 2, top + 2);
    g.textBaseline = 'alphabetic';
    g.fillText('60 s ago', left + 2, height - 2);
    const now = 'now';
    g.fillText(now, right - g.measureText(now).width - 2, height - 2);

    for (const s of this.series) {
      const start = HISTORY - s.points.length;
      if (s.points.length < 2) continue;
      const stroke = color(s.color);
      g.beginPath();
      s.points.forEach((v, i) => (i ? g.lineTo(x(start + i), y(v)) : g.moveTo(x(start + i), y(v))));
      g.strokeStyle = stroke;
      g.lineWidth = 2;
      g.lineJoin = 'round';
      g.stroke();
      // A soft fill under the line, then a dot on the latest reading.
      g.lineTo(x(HISTORY - 1), bottom);
      g.lineTo(x(start), bottom);
      g.closePath();
      g.globalAlpha = 0.12;
      g.fillStyle = stroke;
      g.fill();
      g.globalAlpha = 1;
      g.beginPath();
      g.arc(x(HISTORY - 1), y(s.points[s.points.length - 1]), 3, 0, 2 * Math.PI);
      g.fill();
    }
    canvas.dataset.points = String(Math.max(...this.series.map((s) => s.points.length)));
    canvas.dataset.max = String(max);
  }
}

/** The smallest of 1, 2, 5 × 10ⁿ at or above `v`: a y-axis top that reads well. */
function niceCeiling(v) {
  const power = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 5, 10]) if (step * power >= v) return step * power;
  return 10 * power;
}

/** The same in binary units: 1, 2, 5 × 10ⁿ KiB, MiB … (a byte axis that reads well). */
function niceBytes(v) {
  let unit = 1;
  while (v / unit >= 1000) unit *= 1024;
  return niceCeiling(v / unit) * unit;
}

// ───────────────────────────── the tab ─────────────────────────────

/** Sets up the Status tab; it polls only while shown. */
export function mount(page) {
  const charts = {
    messages: new Chart($('status-chart-messages'), [{ key: 'in', color: '--in' }, { key: 'out', color: '--out' }], (n) => `${short(n)}/s`, 10),
    bytes: new Chart($('status-chart-bytes'), [{ key: 'in', color: '--in' }, { key: 'out', color: '--out' }], (n) => `${bytes(n)}/s`, 1024, niceBytes),
    hub: new Chart($('status-chart-hub'), [{ key: 'queue', color: '--ctl' }], (n) => `${short(n)} waiting`, 10),
  };
  const state = { readings: 0, last: null, rates: null, error: null };
  let previous = null; // { at, view }
  let running = false;

  /** Reads once a second while the tab is shown. */
  async function run() {
    running = true;
    while (page.isShown('status')) {
      await readOnce();
      await new Promise((resolve) => setTimeout(resolve, PERIOD_MS));
    }
    running = false;
  }

  async function readOnce() {
    try {
      const response = await fetch('/metrics.json', { cache: 'no-store' });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const view = await response.json();
      const at = performance.now();
      show(view, previous && { at: previous.at, view: previous.view }, at);
      previous = { at, view };
      state.error = null;
    } catch (err) {
      state.error = String(err.message || err);
      $('status-updated').textContent = `Cannot read /metrics.json (${state.error}); trying again…`;
      $('status-updated').dataset.state = 'error';
    }
  }

  /** Per second, from two readings of a counter; 0 after a restart (the counter went down). */
  function rate(name, labels, view, before, dt) {
    if (!before || dt <= 0) return 0;
    const delta = value(view, name, labels) - value(before.view, name, labels);
    return delta >= 0 ? delta / dt : 0;
  }

  function show(view, before, at) {
    const dt = before ? (at - before.at) / 1000 : 0;
    const r = (name, labels = {}) => rate(name, labels, view, before, dt);
    const rates = {
      messagesIn: r('wsmith_messages_received_total'),
      messagesOut: r('wsmith_messages_sent_total'),
      bytesIn: r('wsmith_received_bytes_total'),
      bytesOut: r('wsmith_sent_bytes_total'),
    };
    state.readings += 1;
    state.last = view;
    state.rates = rates;

    showConnections(view, r);
    if (before) {
      charts.messages.push({ in: rates.messagesIn, out: rates.messagesOut });
      charts.bytes.push({ in: rates.bytesIn, out: rates.bytesOut });
    }
    charts.hub.push({ queue: value(view, 'wsmith_hub_queue_depth') });
    for (const chart of Object.values(charts)) chart.draw();
    figure('status-msg-in', `${short(rates.messagesIn)}/s`, rates.messagesIn);
    figure('status-msg-out', `${short(rates.messagesOut)}/s`, rates.messagesOut);
    figure('status-bytes-in', `${bytes(rates.bytesIn)}/s`, rates.bytesIn);
    figure('status-bytes-out', `${bytes(rates.bytesOut)}/s`, rates.bytesOut);
    showHub(view, before);
    showCloses(view);
    showTrouble(view);
    figure('status-threads', `${short(value(view, 'wsmith_threads', { state: 'busy' }))} busy · ${short(value(view, 'wsmith_threads', { state: 'parked' }))} parked`);
    figure('status-outbox', bytes(value(view, 'wsmith_outbox_bytes')), value(view, 'wsmith_outbox_bytes'));
    figure('status-tcp', `${short(value(view, 'wsmith_tcp_connections'))} of ${short(value(view, 'wsmith_max_connections'))}`);
    figure('status-uptime', uptime(value(view, 'wsmith_start_time_seconds')));

    const updated = $('status-updated');
    updated.dataset.state = 'ok';
    updated.dataset.readings = String(state.readings);
    updated.textContent = `Updated ${new Date().toLocaleTimeString()} · a reading every second`;
  }

  /** Sets a figure's text, and its value for tests. */
  function figure(id, text, number) {
    const node = $(id);
    node.textContent = text;
    if (number !== undefined) node.dataset.value = String(number);
  }

  function showConnections(view, r) {
    const rows = endpoints(view).map((endpoint) => {
      const open = value(view, 'wsmith_connections_open', { endpoint });
      const inRate = r('wsmith_messages_received_total', { endpoint });
      const outRate = r('wsmith_messages_sent_total', { endpoint });
      return { endpoint, open, inRate, outRate };
    }).filter((row) => row.open || row.inRate || row.outRate || ALWAYS_SHOWN.includes(row.endpoint));
    const most = Math.max(1, ...rows.map((row) => row.open));
    $('status-endpoints').replaceChildren(...rows.map((row) =>
      el('tr', { 'data-testid': `status-endpoint-${row.endpoint}`, dataset: { open: row.open } },
        el('th', { scope: 'row' }, el('code', {}, '/' + row.endpoint)),
        el('td', { class: 'metrics-bar-cell', 'aria-hidden': 'true' },
          el('span', { class: 'metrics-bar', style: `--share: ${row.open / most}` })),
        el('td', { class: 'metrics-num', 'data-testid': `status-open-${row.endpoint}` }, whole.format(row.open)),
        el('td', { class: 'metrics-num' }, `${short(row.inRate)}/s`),
        el('td', { class: 'metrics-num' }, `${short(row.outRate)}/s`))));
  }

  function showHub(view, before) {
    const queue = value(view, 'wsmith_hub_queue_depth');
    figure('status-hub-queue', whole.format(queue), queue);
    const now = samples(view, 'wsmith_hub_command_duration_seconds')[0];
    const then = before && samples(before.view, 'wsmith_hub_command_duration_seconds')[0];
    if (!now || !then) return;
    const count = now.count - then.count;
    if (count <= 0) {
      figure('status-hub-latency', 'idle: no command in the last second', 0);
      return;
    }
    const mean = (now.sum - then.sum) / count;
    // The 99th percentile's bucket: the first upper bound that 99 % of this second's commands are under.
    const p99 = now.buckets.find((b, i) => b.count - then.buckets[i].count >= 0.99 * count);
    const bound = p99 && (p99.le === '+Inf' ? 'over 250 ms' : `≤ ${seconds(p99.le)}`);
    figure('status-hub-latency', `${short(count)} commands · mean ${seconds(mean)} · 99 % ${bound}`, mean);
  }

  function showCloses(view) {
    const byCode = new Map();
    for (const { labels, value: n } of samples(view, 'wsmith_closes_total')) {
      const row = byCode.get(labels.code) || { client: 0, server: 0, network: 0 };
      row[labels.by] = (row[labels.by] || 0) + n;
      byCode.set(labels.code, row);
    }
    const rows = [...byCode.entries()].sort(([a], [b]) => a.localeCompare(b));
    $('status-closes-empty').hidden = rows.length > 0;
    $('status-closes').replaceChildren(...rows.map(([code, row]) =>
      el('tr', { 'data-testid': `status-close-${code}` },
        el('th', { scope: 'row' }, el('code', {}, code), ' ', el('span', { class: 'hint' }, CLOSE_CODES[code] || codeRange(code))),
        el('td', { class: 'metrics-num' }, whole.format(row.client)),
        el('td', { class: 'metrics-num' }, whole.format(row.server)),
        el('td', { class: 'metrics-num' }, whole.format(row.network)))));
  }

  function codeRange(code) {
    return { '3xxx': 'libraries (IANA)', '4xxx': 'private use', other: 'outside §7.4' }[code] || '';
  }

  function showTrouble(view) {
    figure('status-slow', whole.format(value(view, 'wsmith_slow_consumer_drops_total')), value(view, 'wsmith_slow_consumer_drops_total'));
    figure('status-rate-closes', whole.format(value(view, 'wsmith_rate_limit_closes_total')), value(view, 'wsmith_rate_limit_closes_total'));
    const failures = samples(view, 'wsmith_handshake_failures_total').map((s) => `${s.labels.status} × ${whole.format(s.value)}`);
    figure('status-handshake-failures', failures.length ? failures.join(', ') : 'none', value(view, 'wsmith_handshake_failures_total'));
    figure('status-refused', whole.format(value(view, 'wsmith_connections_refused_total')), value(view, 'wsmith_connections_refused_total'));
  }

  // Redraw at the new size (the readings stay).
  new ResizeObserver(() => Object.values(charts).forEach((chart) => chart.draw())).observe($('panel-status'));

  return {
    view: 'status',
    onViewChange(view) {
      if (view === 'status' && !running) run();
    },
    state: { status: state },
  };
}
