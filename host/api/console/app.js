// Medic console: one page, no build step. Every piece of data comes from the
// API with the key the operator typed, and goes into the page as text
// (textContent, createTextNode, setAttribute): never as HTML.
'use strict';

(function () {
  const KEY_STORAGE = 'medic.console.key';
  const REFRESH_MS = 5000;
  const CHART_HOURS = 24;

  const state = {
    key: null,
    who: null, // {name, role}
    timer: null,
    refreshing: false,
    again: false,
    queueSignature: null,
    contexts: new Map(), // decision_id -> SIEM context (or null when none)
    view: null, // the mounted page's {update}
  };

  // ---------------------------------------------------------------- helpers

  const $ = (selector, root) => (root || document).querySelector(selector);

  /** An HTML element; string and number children become text nodes. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';

  /** An SVG element, built the same way. */
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  function setAttrs(el, attrs) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  const num = (v, digits) => (typeof v === 'number' ? v.toFixed(digits) : '–');

  function time(iso) {
    if (!iso) return '–';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return d.toISOString().replace('T', ' ').slice(0, 19) + 'Z';
  }

  function relative(iso) {
    if (!iso) return '–';
    const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
    const abs = Math.abs(seconds);
    const text =
      abs < 90 ? `${abs} s` : abs < 5400 ? `${Math.round(abs / 60)} min` : `${(abs / 3600).toFixed(1)} h`;
    return seconds >= 0 ? `in ${text}` : `${text} ago`;
  }

  /** A threshold: whole numbers as they are, others to 3 decimals. */
  const figure = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : '–');

  const shortId = (id) => (id ? String(id).slice(0, 8) : '–');

  /** A badge whose colour follows its value (a state, a level, an outcome). */
  function badge(value) {
    const text = value === null || value === undefined || value === '' ? '–' : String(value);
    return h('span', { class: `badge badge-${text.replace(/[^a-z_]/g, '')}` }, text);
  }

  const canApprove = () => !!state.who && (state.who.role === 'approver' || state.who.role === 'admin');
  const isAdmin = () => !!state.who && state.who.role === 'admin';

  class ApiFailure extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  /** Calls the API with the session's key; the envelope's data, or the API's own error. */
  async function api(method, path, body, key) {
    const headers = { 'X-API-Key': key || state.key || '' };
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiFailure(0, `Medic cannot be reached (${e.message})`);
    }
    let json = null;
    try {
      json = await response.json();
    } catch (_) {
      json = null;
    }
    if (!response.ok || !json || json.success !== true) {
      const first = json && Array.isArray(json.errors) ? json.errors[0] : null;
      let message = first && first.message ? String(first.message) : `HTTP ${response.status}`;
      if (first && first.field) message = `${first.field}: ${message}`;
      throw new ApiFailure(response.status, message);
    }
    return json.data;
  }

  function sectionError(section, error) {
    const p = $('.section-error', section);
    if (p) p.textContent = error ? error.message : '';
  }

  let flashTimer = null;
  function flash(message, isError) {
    const el = $('#flash');
    el.textContent = message;
    el.classList.toggle('flash-error', !!isError);
    el.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => {
      el.hidden = true;
    }, 8000);
  }

  // ------------------------------------------------------------ the session

  async function login(key) {
    const who = await api('GET', '/api/v1/whoami', undefined, key);
    state.key = key;
    state.who = who;
    sessionStorage.setItem(KEY_STORAGE, key);
    showApp();
  }

  function logout(message) {
    clearInterval(state.timer);
    state.timer = null;
    state.key = null;
    state.who = null;
    state.queueSignature = null;
    state.contexts.clear();
    state.view = null;
    closeConfirm();
    sessionStorage.removeItem(KEY_STORAGE);
    $('#app').hidden = true;
    $('#session').hidden = true;
    $('#statusbar').hidden = true;
    $('#login').hidden = false;
    $('#login-error').textContent = message || '';
    $('#key').value = '';
    $('#key').focus();
  }

  function showApp() {
    $('#login').hidden = true;
    $('#login-error').textContent = '';
    $('#app').hidden = false;
    $('#session').hidden = false;
    $('#whoami').textContent = `${state.who.name} (${state.who.role})`;
    for (const el of document.querySelectorAll('.approver-only')) el.hidden = !canApprove();
    for (const el of document.querySelectorAll('.admin-only')) el.hidden = !isAdmin();
    // The audit log is for admins: others see the link off, saying why.
    const audit = $('#nav a[data-view="audit"]');
    audit.classList.toggle('disabled', !isAdmin());
    audit.title = isAdmin() ? '' : 'The audit log needs an admin key';
    route();
    clearInterval(state.timer);
    state.timer = setInterval(refresh, REFRESH_MS);
  }

  // ------------------------------------------------------------- refreshing

  async function refresh() {
    if (!state.key) return;
    if (state.refreshing) {
      // One more round when this one ends, so an action's effect shows now.
      state.again = true;
      return;
    }
    state.refreshing = true;
    try {
      const results = await Promise.allSettled(
        state.view ? [refreshStatus(), state.view.update()] : [
        refreshStatus(),
        refreshQueue(),
        refreshChart(),
        refreshResurrections(),
        refreshDecisions(),
        refreshPlugins(),
        refreshShadow(),
        refreshMode(),
      ]);
      if (results.some((r) => r.status === 'rejected' && r.reason && r.reason.status === 401)) {
        logout('Your key is no longer accepted: log in again.');
      }
    } finally {
      state.refreshing = false;
    }
    if (state.again && state.key) {
      state.again = false;
      await refresh();
    }
  }

  /** Runs one section's refresh, showing its error in the section. */
  async function guarded(section, work) {
    try {
      await work();
      sectionError(section, null);
    } catch (e) {
      sectionError(section, e);
      throw e;
    }
  }

  async function refreshStatus() {
    const bar = $('#statusbar');
    try {
      const st = await api('GET', '/api/v1/status');
      clear(bar);
      const queued = st.queue && typeof st.queue.pending === 'number' ? st.queue.pending : '–';
      const items = [
        ['mode', st.mode],
        ['phase', st.phase],
        ['pending', queued],
        ['in progress', (st.resurrections_in_progress || []).length],
        ['decisions', st.decisions],
        ['SIEM', !st.siem ? '–' : st.siem.breaker ? `${st.siem.adapter} (breaker ${st.siem.breaker})` : st.siem.adapter],
        ['version', st.version],
      ];
      for (const [label, value] of items) {
        bar.appendChild(h('span', { class: 'stat' }, h('span', { class: 'muted' }, label), ' ', String(value)));
      }
      bar.hidden = false;
    } catch (e) {
      clear(bar);
      bar.appendChild(h('span', { class: 'error' }, e.message));
      bar.hidden = false;
      throw e;
    }
  }

  // ------------------------------------------------------------ the queue

  async function refreshQueue() {
    const section = $('#queue');
    await guarded(section, async () => {
      const data = await api('GET', '/api/v1/queue?limit=100');
      const items = data.items || [];
      const st = data.stats || {};
      $('#queue-stats').textContent =
        `${st.pending ?? 0} pending · ${st.approved ?? 0} approved · ${st.denied ?? 0} denied · ` +
        `${st.expired ?? 0} expired · at most ${st.max_pending ?? '–'}`;
      await loadContexts(items);
      // Redrawn only when the items change, so what is being typed stays.
      const signature = JSON.stringify([items.map((i) => [i.item_id, i.status]), canApprove()]);
      if (signature === state.queueSignature) return;
      state.queueSignature = signature;
      const body = $('tbody', section);
      clear(body);
      for (const item of items) body.appendChild(queueRow(item));
      $('.empty', section).hidden = items.length > 0;
    });
  }

  /** The SIEM context of each item's decision, fetched once per decision. */
  async function loadContexts(items) {
    const missing = items.filter((i) => !state.contexts.has(i.decision.decision_id));
    await Promise.all(
      missing.map(async (i) => {
        try {
          const rec = await api('GET', `/api/v1/decisions/${encodeURIComponent(i.decision.decision_id)}`);
          state.contexts.set(i.decision.decision_id, { context: rec.context || null });
        } catch (e) {
          state.contexts.set(i.decision.decision_id, { error: e.message });
        }
      }),
    );
  }

  function queueRow(item) {
    const d = item.decision || {};
    const k = item.kill || {};
    const row = h('tr', { 'data-item-id': item.item_id, 'data-kill-id': k.kill_id });
    row.appendChild(
      h(
        'td',
        null,
        h('div', { class: 'strong' }, h('a', { href: `#/queue/${encodeURIComponent(item.item_id)}`, class: 'item-link' }, k.target_module)),
        h('div', { class: 'muted small' }, `${k.target_instance_id} · kill ${k.kill_id}`),
        h('div', { class: 'small' }, `${k.kill_reason} · severity ${k.severity} · Smith ${num(k.confidence_score, 2)}`),
        h('div', { class: 'muted small' }, `killed ${time(k.timestamp)}`),
      ),
    );
    row.appendChild(
      h(
        'td',
        null,
        badge(d.risk_level),
        h('div', { class: 'small' }, `score ${num(d.risk_score, 3)}`),
        h('div', { class: 'muted small' }, `strategy said ${d.strategy_outcome || '–'}`),
      ),
    );
    row.appendChild(
      h(
        'td',
        { class: 'reasoning' },
        h('div', { class: 'strong' }, item.reason),
        h('ul', null, (d.reasoning || []).map((r) => h('li', null, r))),
        (d.guardrails || []).length ? h('div', { class: 'muted small' }, `guardrails: ${d.guardrails.join(', ')}`) : null,
      ),
    );
    row.appendChild(h('td', null, factorList(d.risk_factors || [])));
    row.appendChild(h('td', null, contextCell(d)));
    row.appendChild(h('td', { class: 'nowrap' }, relative(item.expires_at), h('div', { class: 'muted small' }, time(item.expires_at))));
    if (canApprove()) row.appendChild(h('td', { class: 'decide' }, decideButtons(item, refresh)));
    return row;
  }

  function factorList(factors) {
    if (!factors.length) return h('span', { class: 'muted' }, 'none given');
    const sorted = [...factors].sort((a, b) => (b.contribution || 0) - (a.contribution || 0));
    return h(
      'ul',
      { class: 'factors' },
      sorted.map((f) =>
        h(
          'li',
          { title: f.detail || '' },
          h('span', { class: 'strong' }, f.name),
          ` ${num(f.contribution, 3)}`,
          h('span', { class: 'muted small' }, ` (value ${num(f.value, 2)} × weight ${num(f.weight, 2)})`),
          f.detail ? h('div', { class: 'muted small' }, f.detail) : null,
        ),
      ),
    );
  }

  function contextCell(decision) {
    const status = decision.context_status || {};
    const entry = state.contexts.get(decision.decision_id);
    if (entry && entry.error) return h('span', { class: 'error' }, entry.error);
    const c = entry ? entry.context : null;
    if (!c) {
      const why = status.status === 'failed' ? `SIEM failed: ${status.reason}` : status.status === 'disabled' ? 'SIEM disabled' : 'no context';
      return h('span', { class: 'muted' }, why);
    }
    const indicators = c.threat_indicators || [];
    return h(
      'div',
      { class: 'context' },
      h('div', null, 'SIEM risk ', h('span', { class: 'strong' }, num(c.risk_score, 2)), ` · false positives ${c.false_positive_history ?? 0}`),
      c.recommendation ? h('div', { class: 'small' }, `recommends: ${c.recommendation}`) : null,
      indicators.length
        ? h(
            'ul',
            { class: 'small' },
            indicators.slice(0, 4).map((i) => h('li', null, `${i.indicator_type} ${i.value} (${num(i.threat_score, 2)}, ${i.source})`)),
            indicators.length > 4 ? h('li', { class: 'muted' }, `and ${indicators.length - 4} more`) : null,
          )
        : h('div', { class: 'muted small' }, 'no threat indicators'),
    );
  }

  /** Approve and Deny for a pending item, each behind a confirmation
   * (a denial's reason is typed in it); `after` runs once it is done. */
  function decideButtons(item, after) {
    // No backend serves the module: an approval would be refused, so the
    // item says why and Approve stays off.
    const blocked = item.cannot_resurrect || '';
    const k = item.kill || {};
    const d = item.decision || {};
    const approve = h('button', { type: 'button', class: 'approve', title: blocked || null }, 'Approve');
    const deny = h('button', { type: 'button', class: 'deny danger' }, 'Deny');
    approve.disabled = !!blocked;
    const what = `${k.target_module} (${k.target_instance_id}), kill ${k.kill_id}, risk ${d.risk_level} ${num(d.risk_score, 3)}`;
    approve.addEventListener('click', () =>
      confirmAction({
        title: `Approve ${k.target_module}?`,
        text: `${what}. Medic will bring it back and watch it; the approval is recorded under your key's name.`,
        field: { label: 'Notes (optional, kept with the approval)', required: false },
        ok: 'Approve',
        run: async (notes) => {
          const data = await api('POST', `/api/v1/queue/${encodeURIComponent(item.item_id)}/approve`, notes ? { notes } : {});
          const request = data.request || {};
          flash(`Approved ${k.target_module}: resurrection ${shortId(request.request_id)} is ${request.state || 'under way'}.`);
          state.queueSignature = null;
          await after();
        },
      }),
    );
    deny.addEventListener('click', () =>
      confirmAction({
        title: `Deny ${k.target_module}?`,
        text: `${what}. It stays down; the denial and its reason are recorded under your key's name.`,
        field: { label: 'Reason (required)', required: true, missing: 'A denial needs a reason.' },
        ok: 'Deny',
        danger: true,
        run: async (reason) => {
          await api('POST', `/api/v1/queue/${encodeURIComponent(item.item_id)}/deny`, { reason });
          flash(`Denied ${k.target_module}: it stays down.`);
          state.queueSignature = null;
          await after();
        },
      }),
    );
    return h(
      'div',
      { class: 'decide-form' },
      blocked ? h('div', { class: 'cannot-resurrect small', role: 'note' }, `Cannot be approved: ${blocked}`) : null,
      h('div', { class: 'row' }, approve, deny),
    );
  }

  // ---------------------------------------------------------- resurrections

  async function refreshResurrections() {
    const section = $('#resurrections');
    await guarded(section, async () => {
      const requests = await api('GET', '/api/v1/resurrections?limit=50');
      const body = $('tbody', section);
      clear(body);
      for (const r of requests) {
        body.appendChild(
          h(
            'tr',
            { 'data-request-id': r.request_id, 'data-kill-id': r.kill_id },
            h('td', { class: 'strong' }, h('a', { href: `#/resurrections/${encodeURIComponent(r.request_id)}` }, r.target_module)),
            h('td', { class: 'small' }, r.kill_id),
            h('td', null, badge(r.state)),
            h('td', null, badge(r.status)),
            h('td', null, r.approved_by || '–'),
            h('td', { class: 'small' }, r.error ? h('span', { class: 'error' }, r.error) : r.rollback_reason || r.notes || '–'),
            h('td', { class: 'nowrap small' }, time(r.created_at)),
            h('td', { class: 'small' }, `${r.backend} · ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}`),
          ),
        );
      }
      $('.empty', section).hidden = requests.length > 0;
    });
  }

  // -------------------------------------------------------------- decisions

  async function refreshDecisions() {
    const section = $('#decisions');
    await guarded(section, async () => {
      const data = await api('GET', '/api/v1/decisions?limit=20');
      const decisions = data.decisions || [];
      const body = $('tbody', section);
      clear(body);
      for (const d of decisions) {
        body.appendChild(
          h(
            'tr',
            { 'data-decision-id': d.decision_id, 'data-kill-id': d.kill_id },
            h('td', { class: 'nowrap small' }, time(d.timestamp)),
            h('td', { class: 'strong' }, h('a', { href: `#/decisions/${encodeURIComponent(d.decision_id)}` }, d.target_module)),
            h('td', { class: 'small' }, d.kill_id),
            h('td', null, badge(d.outcome)),
            h('td', null, badge(d.risk_level), ` ${num(d.risk_score, 3)}`),
            h('td', null, num(d.confidence, 2)),
            h('td', null, d.executed ? 'yes' : 'no'),
            h('td', null, d.mode),
            h('td', { class: 'small' }, (d.guardrails || []).join(', ') || '–'),
          ),
        );
      }
      $('.empty', section).hidden = decisions.length > 0;
    });
  }

  // ------------------------------------------------------------------ chart

  const OUTCOME_GROUPS = [
    { name: 'approved', outcomes: ['approve_auto', 'approve_manual'], colour: '#3fb950' },
    { name: 'pending review', outcomes: ['pending_review'], colour: '#d29922' },
    { name: 'denied', outcomes: ['deny'], colour: '#f85149' },
    { name: 'deferred', outcomes: ['defer'], colour: '#8b949e' },
  ];
  const RESULT_LINES = [
    { name: 'outcome: success', results: ['success', 'partial'], colour: '#58a6ff' },
    { name: 'outcome: failed / rolled back', results: ['failure', 're_killed', 'rollback'], colour: '#db61a2' },
  ];

  async function refreshChart() {
    const section = $('#chart-card');
    await guarded(section, async () => {
      const now = Date.now();
      const hour = 3600 * 1000;
      const end = Math.floor(now / hour) * hour + hour;
      const start = end - CHART_HOURS * hour;
      const from = encodeURIComponent(new Date(start).toISOString());
      const [decisions, outcomes] = await Promise.all([
        api('GET', `/api/v1/decisions?from=${from}&limit=1000`),
        api('GET', `/api/v1/outcomes?from=${from}&limit=1000`),
      ]);
      const bucket = (iso) => Math.floor((new Date(iso).getTime() - start) / hour);
      const bars = Array.from({ length: CHART_HOURS }, () => OUTCOME_GROUPS.map(() => 0));
      for (const d of decisions.decisions || []) {
        const b = bucket(d.timestamp);
        const g = OUTCOME_GROUPS.findIndex((grp) => grp.outcomes.includes(d.outcome));
        if (b >= 0 && b < CHART_HOURS && g >= 0) bars[b][g] += 1;
      }
      const lines = RESULT_LINES.map(() => new Array(CHART_HOURS).fill(0));
      for (const o of outcomes || []) {
        const b = bucket(o.recorded_at);
        const l = RESULT_LINES.findIndex((line) => line.results.includes(o.result));
        if (b >= 0 && b < CHART_HOURS && l >= 0) lines[l][b] += 1;
      }
      const chart = $('#chart');
      clear(chart);
      chart.appendChild(drawChart(start, hour, bars, lines));
      const truncated = (decisions.decisions || []).length >= 1000 ? ' (the newest 1000 decisions)' : '';
      chart.appendChild(legend(truncated));
    });
  }

  function drawChart(start, hour, bars, lines) {
    const W = 1160;
    const H = 220;
    const pad = { left: 40, right: 12, top: 12, bottom: 28 };
    const innerW = W - pad.left - pad.right;
    const innerH = H - pad.top - pad.bottom;
    const totals = bars.map((b) => b.reduce((a, x) => a + x, 0));
    const max = Math.max(1, ...totals, ...lines.flat());
    const step = niceStep(max);
    const top = Math.ceil(max / step) * step;
    const x = (i) => pad.left + (i * innerW) / CHART_HOURS;
    const y = (v) => pad.top + innerH - (v * innerH) / top;
    const svg = s('svg', {
      viewBox: `0 0 ${W} ${H}`,
      class: 'chart',
      role: 'img',
      'aria-label': 'Decisions per hour by outcome, and resurrection outcomes per hour',
    });
    for (let v = 0; v <= top; v += step) {
      svg.appendChild(s('line', { x1: pad.left, x2: W - pad.right, y1: y(v), y2: y(v), class: 'grid' }));
      svg.appendChild(s('text', { x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, String(v)));
    }
    const barW = innerW / CHART_HOURS;
    bars.forEach((counts, i) => {
      let base = 0;
      counts.forEach((count, g) => {
        if (!count) return;
        const rect = s('rect', {
          x: x(i) + barW * 0.15,
          width: barW * 0.7,
          y: y(base + count),
          height: y(base) - y(base + count),
          fill: OUTCOME_GROUPS[g].colour,
        });
        rect.appendChild(s('title', null, `${OUTCOME_GROUPS[g].name}: ${count}`));
        svg.appendChild(rect);
        base += count;
      });
      if (i % 3 === 0) {
        const label = new Date(start + i * hour).toISOString().slice(11, 16);
        svg.appendChild(s('text', { x: x(i) + barW / 2, y: H - 8, 'text-anchor': 'middle', class: 'axis' }, label));
      }
    });
    lines.forEach((counts, l) => {
      const points = counts.map((c, i) => `${x(i) + barW / 2},${y(c)}`).join(' ');
      svg.appendChild(s('polyline', { points, fill: 'none', stroke: RESULT_LINES[l].colour, 'stroke-width': 2 }));
      counts.forEach((c, i) => {
        if (!c) return;
        const dot = s('circle', { cx: x(i) + barW / 2, cy: y(c), r: 3.5, fill: RESULT_LINES[l].colour });
        dot.appendChild(s('title', null, `${RESULT_LINES[l].name}: ${c}`));
        svg.appendChild(dot);
      });
    });
    svg.appendChild(s('line', { x1: pad.left, x2: W - pad.right, y1: y(0), y2: y(0), class: 'baseline' }));
    return svg;
  }

  function niceStep(max) {
    for (const step of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]) {
      if (max / step <= 5) return step;
    }
    return Math.ceil(max / 5);
  }

  function legend(note) {
    const swatch = (colour, kind) =>
      s('svg', { width: 14, height: 14, viewBox: '0 0 14 14', class: 'swatch' },
        kind === 'bar'
          ? s('rect', { x: 1, y: 1, width: 12, height: 12, fill: colour })
          : s('line', { x1: 0, x2: 14, y1: 7, y2: 7, stroke: colour, 'stroke-width': 3 }));
    return h(
      'div',
      { class: 'legend' },
      OUTCOME_GROUPS.map((g) => h('span', null, swatch(g.colour, 'bar'), ` decisions ${g.name}`)),
      RESULT_LINES.map((l) => h('span', null, swatch(l.colour, 'line'), ` ${l.name}`)),
      note ? h('span', { class: 'muted' }, note) : null,
    );
  }

  // ---------------------------------------------------------------- plugins

  async function refreshPlugins() {
    const section = $('#plugins');
    await guarded(section, async () => {
      const data = await api('GET', '/api/v1/plugins');
      const active = data.active || {};
      const activeBody = $('.active-plugins tbody', section);
      clear(activeBody);
      activeBody.appendChild(
        h(
          'tr',
          null,
          h('td', null, badge(data.phase)),
          h('td', { class: 'strong' }, active.risk_scorer || '–'),
          h('td', { class: 'strong' }, active.strategy || '–'),
          h('td', { class: 'strong' }, active.threshold_learner || '–'),
        ),
      );
      // What the other phases would bind (constitution and run-time
      // bindings), so an operator sees the plan for the next phase.
      const bindings = data.bindings || {};
      for (const phase of Object.keys(bindings).sort()) {
        if (phase === data.phase) continue;
        const b = bindings[phase] || {};
        const name = (binding) => (binding && binding.name) || '–';
        activeBody.appendChild(
          h(
            'tr',
            { class: 'bound' },
            h('td', null, phase),
            h('td', null, name(b.risk_scorer)),
            h('td', null, name(b.strategy)),
            h('td', null, name(b.threshold_learner)),
          ),
        );
      }
      const body = $('.catalogue tbody', section);
      clear(body);
      for (const p of data.plugins || []) {
        body.appendChild(
          h(
            'tr',
            { title: p.description || '' },
            h('td', { class: 'strong' }, p.name),
            h('td', null, p.kind),
            h('td', null, p.version),
            h('td', null, badge(p.status)),
            h('td', null, signerText(p.signer)),
            h('td', { class: 'nowrap small' }, time(p.loaded_at)),
          ),
        );
      }
    });
  }

  function signerText(signer) {
    if (!signer) return '–';
    if (signer.type === 'key') return `key ${signer.name}`;
    return signer.type === 'builtin' ? 'built in' : 'unsigned';
  }

  // ----------------------------------------------------------------- shadow

  async function refreshShadow() {
    const section = $('#shadow');
    await guarded(section, async () => {
      const v = await api('GET', '/api/v1/shadow?hours=168');
      const r = v.report || {};
      const summary = $('.shadow-summary', section);
      const body = $('.shadow-kills tbody', section);
      clear(body);
      if (!v.strategy) {
        summary.textContent = `No shadow is bound for ${v.phase} (plugins.<phase>.shadow in the constitution).`;
        return;
      }
      const pct = r.judged ? ((100 * r.agreed) / r.judged).toFixed(1) : '0.0';
      summary.textContent =
        `${v.strategy} (scorer ${v.scorer}) shadows ${v.phase}: last 7 days, ${r.judged} kills judged, ` +
        `agreed on ${r.agreed} (${pct}%); truth known for ${r.known}; ` +
        `would have revived ${r.would_revive_threats} known threat(s), recovered ${r.would_recover_sooner} ` +
        `false positive(s) sooner, held ${r.would_hold_threats} threat(s) brought back; ${v.skipped} not shadowed.`;
      const rows = [
        ['revive_threats', 'would have revived a known threat'],
        ['recover_sooner', 'would have recovered a false positive sooner'],
        ['hold_threats', 'would have held a threat brought back'],
      ];
      for (const [list, meaning] of rows) {
        for (const k of r[list] || []) {
          body.appendChild(
            h(
              'tr',
              { class: list },
              h('td', { class: 'strong' }, k.kill_id),
              h('td', null, k.module),
              h('td', null, badge(k.live)),
              h('td', null, badge(k.shadow)),
              h('td', null, meaning),
            ),
          );
        }
      }
    });
  }

  async function reloadPlugins() {
    const button = $('#reload-plugins');
    button.disabled = true;
    try {
      const events = await api('POST', '/api/v1/plugins/reload');
      const changed = (events || []).filter((e) => e.outcome !== 'unchanged');
      const rejected = changed.filter((e) => e.outcome === 'rejected');
      let message = `Plugins reloaded: ${changed.length} change${changed.length === 1 ? '' : 's'}.`;
      if (rejected.length) message += ` Rejected: ${rejected.map((e) => `${e.path}: ${e.message}`).join('; ')}`;
      flash(message, rejected.length > 0);
      await refresh();
    } catch (e) {
      flash(`Reload failed: ${e.message}`, true);
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------------- mode

  async function refreshMode() {
    const section = $('#mode');
    await guarded(section, async () => {
      const m = await api('GET', '/api/v1/mode');
      const body = $('tbody', section);
      clear(body);
      body.appendChild(h('tr', null, h('td', null, badge(m.current)), h('td', null, m.configured), h('td', null, m.fallback)));
    });
  }

  async function switchMode(event) {
    event.preventDefault();
    const mode = $('#mode-select').value;
    const reason = $('#mode-reason').value.trim();
    try {
      const r = await api('PUT', '/api/v1/mode', { mode, reason });
      flash(`Mode switched: ${r.previous} → ${r.current}.`);
      $('#mode-reason').value = '';
      await refresh();
    } catch (e) {
      flash(`Mode not switched: ${e.message}`, true);
    }
  }

  // -------------------------------------------------------- confirmations

  let confirmDone = null;

  /** Asks before an action: a title, what will happen, an optional text
   * field (`required` ones are checked here). On Confirm, `run(text)`;
   * if it fails, the API's message shows in the dialog, which stays open. */
  function confirmAction({ title, text, field, ok, danger, run }) {
    closeConfirm();
    const box = $('#confirm');
    const input = $('#confirm-input');
    const okButton = $('#confirm-ok');
    const problem = $('#confirm-error');
    $('#confirm-title').textContent = title;
    $('#confirm-text').textContent = text;
    $('#confirm-field').hidden = !field;
    $('#confirm-label').textContent = field ? field.label : '';
    input.value = '';
    problem.textContent = '';
    okButton.textContent = ok;
    okButton.classList.toggle('danger', !!danger);
    okButton.disabled = false;
    box.hidden = false;
    (field ? input : okButton).focus();
    return new Promise((resolve) => {
      confirmDone = resolve;
      okButton.onclick = async () => {
        const value = input.value.trim();
        problem.textContent = '';
        if (field && field.required && !value) {
          problem.textContent = field.missing || `${field.label}: required`;
          input.focus();
          return;
        }
        okButton.disabled = true;
        try {
          await run(value);
          closeConfirm(true);
        } catch (e) {
          problem.textContent = e.message;
          okButton.disabled = false;
        }
      };
      $('#confirm-cancel').onclick = () => closeConfirm(false);
    });
  }

  function closeConfirm(result) {
    const box = $('#confirm');
    if (!box || box.hidden) return;
    box.hidden = true;
    $('#confirm-ok').onclick = null;
    const done = confirmDone;
    confirmDone = null;
    if (done) done(!!result);
  }

  // ----------------------------------------------------------------- routes

  /** The page the URL's hash names: `#/decisions/ID`, `#/queue?module=x`. */
  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, '');
    const q = raw.indexOf('?');
    const path = (q < 0 ? raw : raw.slice(0, q)).split('/').filter(Boolean).map((p) => {
      try {
        return decodeURIComponent(p);
      } catch (_) {
        return p;
      }
    });
    return { path, params: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)), hash: location.hash };
  }

  /** A link's href to a page with its parameters (empty ones left out). */
  function href(path, params) {
    const p = new URLSearchParams();
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== null && value !== undefined && value !== '') p.set(name, String(value));
    }
    const qs = p.toString();
    return `#/${path}${qs ? `?${qs}` : ''}`;
  }

  const VIEWS = {
    queue: { list: queueList, detail: queueDetail },
    decisions: { list: decisionList, detail: decisionDetail },
    resurrections: { list: resurrectionList, detail: resurrectionDetail },
    audit: { list: auditView },
    thresholds: { list: thresholdsView },
    health: { list: healthView },
  };

  /** Shows the page the hash names: the overview, or one page built here. */
  async function route() {
    if (!state.key) return;
    const r = parseHash();
    const [name, id] = r.path;
    const view = VIEWS[name];
    for (const a of document.querySelectorAll('#nav a')) {
      a.classList.toggle('active', a.dataset.view === (view ? name : 'overview'));
    }
    const holder = $('#view-page');
    if (!view || (id && !view.detail)) {
      state.view = null;
      clear(holder);
      holder.hidden = true;
      $('#view-overview').hidden = false;
      state.queueSignature = null;
      await refresh();
      return;
    }
    $('#view-overview').hidden = true;
    clear(holder);
    holder.hidden = false;
    const root = h('section', { class: 'card page', id: `page-${name}${id ? '-detail' : ''}` });
    holder.appendChild(root);
    window.scrollTo(0, 0);
    const mounted = id ? view.detail(root, id) : view.list(root, r.params);
    state.view = mounted;
    refreshStatus().catch(() => {});
    // A failure shows at the top of the page; the next refresh tries again.
    await guardedView(root, mounted.update).catch(() => {});
  }

  /** Runs a page's update, showing its error at the top of the page. */
  async function guardedView(root, update) {
    let p = $('.page-error', root);
    if (!p) {
      p = h('p', { class: 'error page-error', role: 'alert' });
      root.insertBefore(p, root.firstChild);
    }
    try {
      await update();
      p.textContent = '';
    } catch (e) {
      p.textContent = e.message;
      throw e;
    }
  }

  /** A page: its heading, what `options.before` holds (a filter form, made
   * once), and a body filled by `fill` on every refresh. */
  function page(root, title, fill, options) {
    const head = h('div', { class: 'card-head' }, h('h2', null, title));
    const body = h('div', { class: 'page-body' });
    root.appendChild(head);
    if (options && options.before) root.appendChild(options.before);
    root.appendChild(body);
    return {
      update: () =>
        guardedView(root, async () => {
          const parts = await fill();
          clear(body);
          append(body, [parts]);
        }),
    };
  }

  // ------------------------------------------------------ page building blocks

  /** A table of labelled values; values may be nodes. */
  function kv(rows) {
    return h(
      'table',
      { class: 'kv' },
      h(
        'tbody',
        null,
        rows
          .filter((r) => r)
          .map(([label, value, attrs]) =>
            h('tr', attrs || null, h('th', null, label), h('td', null, value === null || value === undefined || value === '' ? '–' : value)),
          ),
      ),
    );
  }

  /** A value shown as JSON text (objects the console has no layout for). */
  function json(value) {
    if (value === null || value === undefined) return '–';
    if (typeof value === 'object' && Object.keys(value).length === 0) return '–';
    return h('code', { class: 'json' }, JSON.stringify(value));
  }

  const list = (items) => (items && items.length ? h('ul', null, items.map((i) => h('li', null, i))) : h('span', { class: 'muted' }, 'none'));

  const block = (title, ...children) => h('div', { class: 'block' }, h('h3', null, title), children);

  const go = (path, text, attrs) => h('a', Object.assign({ href: `#/${path}` }, attrs || {}), text);

  /** The filter form of a list: each field's value from the URL; submitting
   * it changes the URL (first page), which draws the list. */
  function filterForm(path, params, fields) {
    const form = h('form', { class: 'filters inline-form', autocomplete: 'off' });
    for (const f of fields) {
      const id = `filter-${path}-${f.name}`;
      let input;
      if (f.options) {
        // A value from a shared URL that the list does not offer is kept.
        const given = params.get(f.name);
        const options = given && !f.options.some(([v]) => v === given) ? [...f.options, [given, given]] : f.options;
        input = h(
          'select',
          { id, name: f.name },
          options.map(([value, label]) => h('option', { value, selected: (given || '') === value }, label)),
        );
      } else {
        input = h('input', { id, name: f.name, type: 'text', placeholder: f.placeholder || '', value: params.get(f.name) || '' });
      }
      form.appendChild(h('label', { for: id }, f.label));
      form.appendChild(input);
    }
    form.appendChild(h('button', { type: 'submit', class: 'secondary' }, 'Apply'));
    form.appendChild(h('a', { href: `#/${path}`, class: 'reset small' }, 'reset'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const next = {};
      for (const f of fields) next[f.name] = form.elements[f.name].value.trim();
      location.hash = href(path, next);
    });
    return form;
  }

  /** Previous / next links and what the page holds. */
  function pager(info, prev, next, back) {
    const label = back || '← previous';
    return h(
      'div',
      { class: 'pager' },
      prev ? h('a', { href: prev, class: 'prev' }, label) : h('span', { class: 'muted' }, label),
      h('span', { class: 'muted page-info' }, info),
      next ? h('a', { href: next, class: 'next' }, 'next →') : h('span', { class: 'muted' }, 'next →'),
    );
  }

  /** A page of an array fetched whole: `page` (1-based) and `limit` from the URL. */
  function slice(items, path, params, defaultLimit) {
    const limitN = Math.min(Math.max(parseInt(params.get('limit'), 10) || defaultLimit, 1), 1000);
    const pages = Math.max(1, Math.ceil(items.length / limitN));
    const pageN = Math.min(Math.max(parseInt(params.get('page'), 10) || 1, 1), pages);
    const at = (n) => {
      const p = Object.fromEntries(params.entries());
      p.page = n;
      return href(path, p);
    };
    const shown = items.slice((pageN - 1) * limitN, pageN * limitN);
    return {
      shown,
      pager: pager(
        `page ${pageN} of ${pages} · ${items.length} in all`,
        pageN > 1 ? at(pageN - 1) : null,
        pageN < pages ? at(pageN + 1) : null,
      ),
    };
  }

  const byText = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

  const contains = (value, wanted) => !wanted || String(value || '').toLowerCase().includes(wanted.toLowerCase());

  function table(headers, rows, empty) {
    if (!rows.length) return h('p', { class: 'empty muted' }, empty);
    return h('table', null, h('thead', null, h('tr', null, headers.map((t) => h('th', null, t)))), h('tbody', null, rows));
  }

  function roleNote(text) {
    return h('p', { class: 'muted small role-note' }, text);
  }

  // ---------------------------------------------------------------- queue

  function queueList(root, params) {
    const fields = [
      { name: 'status', label: 'Status', options: [['pending', 'pending'], ['all', 'all'], ['approved', 'approved'], ['denied', 'denied'], ['expired', 'expired']] },
      { name: 'module', label: 'Module', placeholder: 'any' },
      { name: 'sort', label: 'Sort', options: [['expires', 'expiring first'], ['newest', 'newest first'], ['oldest', 'oldest first'], ['risk', 'highest risk first']] },
    ];
    return page(
      root,
      'Approval queue',
      async () => {
        const status = params.get('status') || 'pending';
        const data = await api('GET', `/api/v1/queue?limit=1000${status === 'pending' ? '' : '&all=true'}`);
        let items = (data.items || []).filter(
          (i) => (status === 'all' || i.status === status) && contains(i.kill && i.kill.target_module, params.get('module')),
        );
        const sort = params.get('sort') || 'expires';
        const sorters = {
          expires: (a, b) => byText(a.expires_at, b.expires_at),
          newest: (a, b) => byText(b.enqueued_at, a.enqueued_at),
          oldest: (a, b) => byText(a.enqueued_at, b.enqueued_at),
          risk: (a, b) => (b.decision.risk_score || 0) - (a.decision.risk_score || 0),
        };
        items = [...items].sort(sorters[sort] || sorters.expires);
        const { shown, pager: nav } = slice(items, 'queue', params, 25);
        const rows = shown.map((i) => {
          const k = i.kill || {};
          const d = i.decision || {};
          return h(
            'tr',
            { 'data-item-id': i.item_id, 'data-kill-id': k.kill_id },
            h('td', null, h('div', { class: 'strong' }, go(`queue/${encodeURIComponent(i.item_id)}`, k.target_module)), h('div', { class: 'muted small' }, `kill ${k.kill_id}`)),
            h('td', null, badge(i.status)),
            h('td', null, badge(d.risk_level), ` ${num(d.risk_score, 3)}`),
            // An approver reads why it cannot be approved beside its buttons.
            h('td', { class: 'reasoning' }, i.reason, i.cannot_resurrect && !canApprove() ? h('div', { class: 'cannot-resurrect small' }, `Cannot be approved: ${i.cannot_resurrect}`) : null),
            h('td', { class: 'nowrap small' }, time(i.enqueued_at)),
            h('td', { class: 'nowrap small' }, i.status === 'pending' ? relative(i.expires_at) : `${i.decided_by || '–'} ${time(i.decided_at)}`),
            canApprove() && i.status === 'pending' ? h('td', null, decideButtons(i, refresh)) : h('td', null),
          );
        });
        const st = data.stats || {};
        return [
          h('p', { class: 'muted small' }, `${st.pending ?? 0} pending · ${st.approved ?? 0} approved · ${st.denied ?? 0} denied · ${st.expired ?? 0} expired (the newest 1000 items are read)`),
          canApprove() ? null : roleNote('Deciding needs an approver key.'),
          table(['Kill', 'Status', 'Risk', 'Why a human decides', 'Queued', 'Expires / decided', canApprove() ? 'Decide' : ''], rows, 'No item matches.'),
          nav,
        ];
      },
      { before: filterForm('queue', params, fields) },
    );
  }

  function queueDetail(root, id) {
    return page(root, 'Queue item', async () => {
      const item = await api('GET', `/api/v1/queue/${encodeURIComponent(id)}`);
      const d = item.decision || {};
      let record = null;
      try {
        record = await api('GET', `/api/v1/decisions/${encodeURIComponent(d.decision_id)}`);
      } catch (_) {
        record = null;
      }
      return [
        h(
          'div',
          { class: 'summary' },
          h('span', { class: 'big strong' }, item.kill.target_module),
          ' ',
          badge(item.status),
          ' ',
          badge(d.risk_level),
        ),
        item.status === 'pending'
          ? canApprove()
            ? decideButtons(item, refresh)
            : roleNote('Deciding needs an approver key.')
          : null,
        block(
          'The item',
          kv([
            ['Item', item.item_id],
            ['Why a human decides', item.reason],
            ['Status', badge(item.status)],
            ['Queued', time(item.enqueued_at)],
            ['Expires', `${time(item.expires_at)} (${relative(item.expires_at)})`],
            ['Decided by', item.decided_by],
            ['Decided', item.decided_at ? time(item.decided_at) : null],
            ['Note', item.note],
            item.cannot_resurrect ? ['Cannot be approved', item.cannot_resurrect, { class: 'cannot-resurrect' }] : null,
            ['Decision', go(`decisions/${encodeURIComponent(d.decision_id)}`, d.decision_id, { class: 'decision-link' })],
            ['Resurrection', item.request_id ? go(`resurrections/${encodeURIComponent(item.request_id)}`, item.request_id, { class: 'resurrection-link' }) : 'none (not approved)'],
          ]),
        ),
        decisionBlocks(d, record ? record.context : null, item.kill),
      ];
    });
  }

  // ------------------------------------------------------------ decisions

  /** Everything an approver weighs: the decision, its reasons, risk factors,
   * guardrails, the SIEM context and the kill. */
  function decisionBlocks(d, context, kill) {
    return [
      block(
        'Decision',
        kv([
          ['Outcome', badge(d.outcome)],
          ['Strategy said', d.strategy_outcome ? badge(d.strategy_outcome) : null],
          ['Recommendation', d.recommended_action],
          ['Risk', h('span', null, badge(d.risk_level), ` score ${num(d.risk_score, 3)}`)],
          ['Confidence', num(d.confidence, 2)],
          ['Guardrails', d.guardrails && d.guardrails.length ? d.guardrails.join(', ') : 'none changed it'],
          ['Constraints', list(d.constraints)],
          ['Needs a person', d.requires_human_review ? 'yes' : 'no'],
          ['Auto-approval eligible', d.auto_approve_eligible ? 'yes' : 'no'],
          ['Executed', d.executed ? 'yes' : 'no'],
          ['Mode · phase', `${d.mode} · ${d.phase}`],
          ['Decided', time(d.timestamp)],
          ['Timeout', `${d.timeout_minutes} min`],
          ['Scorer', pluginUse(d.scorer)],
          ['Strategy', pluginUse(d.strategy)],
          ['Source · latency', `${d.source} · ${d.latency_us} µs`],
          ['Correlation id', d.correlation_id],
          ['Decision id', d.decision_id],
        ]),
      ),
      block('Reasoning', h('div', { class: 'reasoning-list' }, list(d.reasoning))),
      block('Risk factors', factorList(d.risk_factors || [])),
      block('SIEM context', contextDetail(d.context_status, context)),
      block('Kill', killTable(kill)),
    ];
  }

  function pluginUse(p) {
    if (!p) return null;
    return h(
      'span',
      null,
      `${p.name}@${p.version}`,
      h('span', { class: 'muted small mono' }, ` sha256 ${p.sha256}`),
      p.fallback ? h('div', { class: 'error small' }, `fallback: ${p.fallback}`) : null,
    );
  }

  function killTable(k) {
    if (!k) return h('span', { class: 'muted' }, 'not stored');
    return kv([
      ['Kill id', k.kill_id],
      ['Module · instance', `${k.target_module} · ${k.target_instance_id}`],
      ['Killed', time(k.timestamp)],
      ['Reason', k.kill_reason],
      ['Severity', badge(k.severity)],
      ['Smith confidence', num(k.confidence_score, 2)],
      ['Reported by', k.source_agent],
      ['Evidence', list(k.evidence)],
      ['Dependencies', list(k.dependencies)],
      ['Metadata', json(k.metadata)],
    ]);
  }

  function contextDetail(status, c) {
    const st = status || {};
    if (!c) {
      const why = st.status === 'failed' ? `SIEM failed: ${st.reason}` : st.status === 'disabled' ? 'SIEM disabled' : 'no context stored';
      return h('span', { class: 'muted' }, why);
    }
    const indicators = c.threat_indicators || [];
    return [
      kv([
        ['SIEM risk', num(c.risk_score, 2)],
        ['Recommendation', c.recommendation],
        ['False positives before', String(c.false_positive_history ?? 0)],
        ['Historical behaviour', json(c.historical_behavior)],
        ['Network', json(c.network_context)],
        ['User', json(c.user_context)],
        ['Queried', `${time(c.timestamp)} (query ${c.query_id})`],
      ]),
      table(
        ['Indicator', 'Value', 'Threat', 'Source', 'Last seen', 'Tags'],
        indicators.map((i) =>
          h(
            'tr',
            null,
            h('td', null, i.indicator_type),
            h('td', { class: 'mono' }, i.value),
            h('td', null, num(i.threat_score, 2)),
            h('td', null, i.source),
            h('td', { class: 'nowrap small' }, time(i.last_seen)),
            h('td', { class: 'small' }, (i.tags || []).join(', ')),
          ),
        ),
        'No threat indicators.',
      ),
    ];
  }

  const OUTCOMES = ['approve_auto', 'approve_manual', 'pending_review', 'deny', 'defer'];
  const RISK_LEVELS = ['minimal', 'low', 'medium', 'high', 'critical'];
  const any = (values) => [['', 'any'], ...values.map((v) => [v, v])];

  function decisionList(root, params) {
    const fields = [
      { name: 'module', label: 'Module', placeholder: 'exact name' },
      { name: 'outcome', label: 'Outcome', options: any(OUTCOMES) },
      { name: 'risk_level', label: 'Risk', options: any(RISK_LEVELS) },
      { name: 'from', label: 'From', placeholder: '2026-01-01T00:00:00Z' },
      { name: 'to', label: 'To', placeholder: 'RFC 3339' },
      { name: 'sort', label: 'Sort page', options: [['newest', 'newest first'], ['oldest', 'oldest first'], ['risk', 'highest risk first']] },
      { name: 'limit', label: 'Per page', options: [['25', '25'], ['50', '50'], ['100', '100'], ['10', '10']] },
    ];
    return page(
      root,
      'Decisions',
      async () => {
        const q = new URLSearchParams();
        for (const name of ['module', 'outcome', 'risk_level', 'from', 'to', 'cursor']) {
          if (params.get(name)) q.set(name, params.get(name));
        }
        q.set('limit', params.get('limit') || '25');
        const data = await api('GET', `/api/v1/decisions?${q}`);
        let decisions = data.decisions || [];
        const sort = params.get('sort') || 'newest';
        if (sort === 'oldest') decisions = [...decisions].reverse();
        if (sort === 'risk') decisions = [...decisions].sort((a, b) => b.risk_score - a.risk_score);
        const here = Object.fromEntries(params.entries());
        const next = data.next_cursor ? href('decisions', Object.assign({}, here, { cursor: data.next_cursor })) : null;
        // Older pages follow the cursor; back is the browser's history, or the newest page.
        const first = params.get('cursor') ? href('decisions', Object.assign({}, here, { cursor: '' })) : null;
        const rows = decisions.map((d) =>
          h(
            'tr',
            { 'data-decision-id': d.decision_id, 'data-kill-id': d.kill_id, 'data-module': d.target_module },
            h('td', { class: 'nowrap small' }, go(`decisions/${encodeURIComponent(d.decision_id)}`, time(d.timestamp))),
            h('td', { class: 'strong module' }, d.target_module),
            h('td', { class: 'small' }, d.kill_id),
            h('td', null, badge(d.outcome)),
            h('td', null, badge(d.risk_level), ` ${num(d.risk_score, 3)}`),
            h('td', null, num(d.confidence, 2)),
            h('td', null, d.executed ? 'yes' : 'no'),
            h('td', null, d.mode),
            h('td', { class: 'small' }, (d.guardrails || []).join(', ') || '–'),
          ),
        );
        return [
          table(['Time', 'Module', 'Kill', 'Outcome', 'Risk', 'Confidence', 'Executed', 'Mode', 'Guardrails'], rows, 'No decision matches.'),
          data.partial ? h('p', { class: 'muted small' }, 'The search stopped at its time budget: there may be more on the next page.') : null,
          pager(`${decisions.length} on this page${params.get('cursor') ? '' : ' (the newest)'}`, first, next, '← newest page'),
        ];
      },
      { before: filterForm('decisions', params, fields) },
    );
  }

  /** The queue item, resurrections and outcome of a decision, found among
   * the newest 1000 of each (the API has no index from a decision to them). */
  async function related(decisionId, module) {
    const settle = async (p) => {
      try {
        return await p;
      } catch (_) {
        return null;
      }
    };
    const [queue, requests, outcomes] = await Promise.all([
      settle(api('GET', '/api/v1/queue?all=true&limit=1000')),
      settle(api('GET', '/api/v1/resurrections?limit=1000')),
      settle(api('GET', `/api/v1/outcomes?module=${encodeURIComponent(module)}&limit=1000`)),
    ]);
    return {
      item: queue ? (queue.items || []).find((i) => i.decision.decision_id === decisionId) : null,
      requests: (requests || []).filter((r) => r.decision_id === decisionId),
      outcomes: (outcomes || []).filter((o) => o.decision_id === decisionId),
    };
  }

  function outcomeRows(outcomes) {
    return outcomes.map((o) =>
      kv([
        ['Result', badge(o.result)],
        ['Recorded', time(o.recorded_at)],
        ['Time to stable', o.time_to_stable === null || o.time_to_stable === undefined ? null : `${o.time_to_stable} s`],
        ['Smith feedback', o.smith_feedback],
        ['Human feedback', o.human_feedback],
        ['Lessons', list(o.lessons_learned)],
      ]),
    );
  }

  function decisionDetail(root, id) {
    // Found once, when the page opens (each is a read of up to 1000 items).
    let links = null;
    return page(root, 'Decision', async () => {
      const rec = await api('GET', `/api/v1/decisions/${encodeURIComponent(id)}`);
      const d = rec.decision;
      if (!links) links = await related(d.decision_id, d.target_module);
      return [
        h('div', { class: 'summary' }, h('span', { class: 'big strong' }, d.target_module), ' ', badge(d.outcome), ' ', badge(d.risk_level)),
        block(
          'Where it led',
          kv([
            ['Queue item', links.item ? go(`queue/${encodeURIComponent(links.item.item_id)}`, links.item.item_id, { class: 'item-link' }) : 'none'],
            [
              'Resurrection',
              links.requests.length
                ? links.requests.map((r) => h('div', null, go(`resurrections/${encodeURIComponent(r.request_id)}`, `${r.request_id} (${time(r.created_at)})`, { class: 'resurrection-link' })))
                : 'none',
            ],
            ['Outcome', links.outcomes.length ? outcomeRows(links.outcomes) : 'none recorded'],
          ]),
        ),
        decisionBlocks(d, rec.context, rec.kill),
      ];
    });
  }

  // -------------------------------------------------------- resurrections

  const STATUSES = ['pending', 'approved', 'in_progress', 'completed', 'failed', 'rolled_back', 'cancelled'];

  function resurrectionList(root, params) {
    const fields = [
      { name: 'status', label: 'Status', options: any(STATUSES) },
      { name: 'module', label: 'Module', placeholder: 'any' },
      { name: 'sort', label: 'Sort', options: [['newest', 'newest first'], ['oldest', 'oldest first'], ['module', 'module']] },
    ];
    return page(
      root,
      'Resurrections',
      async () => {
        const all = await api('GET', '/api/v1/resurrections?limit=1000');
        let rs = all.filter((r) => (!params.get('status') || r.status === params.get('status')) && contains(r.target_module, params.get('module')));
        const sort = params.get('sort') || 'newest';
        if (sort === 'oldest') rs = [...rs].sort((a, b) => byText(a.created_at, b.created_at));
        else if (sort === 'module') rs = [...rs].sort((a, b) => byText(a.target_module, b.target_module));
        else rs = [...rs].sort((a, b) => byText(b.created_at, a.created_at));
        const { shown, pager: nav } = slice(rs, 'resurrections', params, 25);
        const rows = shown.map((r) =>
          h(
            'tr',
            { 'data-request-id': r.request_id, 'data-kill-id': r.kill_id },
            h('td', { class: 'strong' }, go(`resurrections/${encodeURIComponent(r.request_id)}`, r.target_module)),
            h('td', { class: 'small' }, r.kill_id),
            h('td', null, badge(r.state)),
            h('td', null, badge(r.status)),
            h('td', null, r.approved_by || '–'),
            h('td', { class: 'small' }, r.error ? h('span', { class: 'error' }, r.error) : r.rollback_reason || r.notes || '–'),
            h('td', { class: 'nowrap small' }, time(r.created_at)),
          ),
        );
        return [
          table(['Module', 'Kill', 'State', 'Status', 'Approved by', 'Notes / error', 'Created'], rows, 'No resurrection matches.'),
          h('p', { class: 'muted small' }, 'The newest 1000 requests are read.'),
          nav,
        ];
      },
      { before: filterForm('resurrections', params, fields) },
    );
  }

  const ENDED = ['stable', 'completed', 'failed', 'cancelled'];

  function resurrectionDetail(root, id) {
    // Found once: the page refreshes the request itself every 5 seconds.
    let item;
    let mine = [];
    return page(root, 'Resurrection', async () => {
      const r = await api('GET', `/api/v1/resurrections/${encodeURIComponent(id)}`);
      if (item === undefined) {
        const links = await related(r.decision_id, r.target_module);
        item = links.item || null;
      }
      // The outcome record is looked for until it is there.
      if (!mine.length) {
        const outcomes = await api('GET', `/api/v1/outcomes?module=${encodeURIComponent(r.target_module)}&limit=1000`).catch(() => []);
        mine = outcomes.filter((o) => o.request_id === r.request_id);
      }
      const steps = r.transitions || [];
      const rollback = h('button', { type: 'button', class: 'rollback danger' }, 'Roll back');
      if (!canApprove()) {
        rollback.disabled = true;
        rollback.title = 'Rolling back needs an approver key';
      }
      rollback.addEventListener('click', () =>
        confirmAction({
          title: `Roll back ${r.target_module}?`,
          text: `Resurrection ${r.request_id} (${r.state}). Medic stops what it brought back; only a resurrection being monitored can be rolled back.`,
          field: { label: 'Reason (required, recorded)', required: true, missing: 'A rollback needs a reason.' },
          ok: 'Roll back',
          danger: true,
          run: async (reason) => {
            await api('POST', `/api/v1/resurrections/${encodeURIComponent(r.request_id)}/rollback`, { reason });
            flash(`Rollback of ${r.target_module} requested.`);
            await refresh();
          },
        }),
      );
      return [
        h('div', { class: 'summary' }, h('span', { class: 'big strong' }, r.target_module), ' ', badge(r.state), ' ', badge(r.status)),
        h(
          'div',
          { class: 'actions' },
          rollback,
          canApprove()
            ? h('span', { class: 'muted small' }, ENDED.includes(r.state) ? ' Its workflow has ended: Medic will refuse a rollback.' : ' Possible while it is being monitored.')
            : roleNote('Rolling back needs an approver key.'),
        ),
        block(
          'Request',
          kv([
            ['Request id', r.request_id],
            ['Module · instance', `${r.target_module} · ${r.target_instance_id}`],
            ['State · status', h('span', null, badge(r.state), ' ', badge(r.status))],
            ['Backend', `${r.backend} · ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}`],
            ['Approved by', r.approved_by],
            ['Notes', r.notes],
            ['Error', r.error ? h('span', { class: 'error' }, r.error) : null],
            ['Rollback reason', r.rollback_reason],
            ['Created', time(r.created_at)],
            ['Approved', r.approved_at ? time(r.approved_at) : null],
            ['Executed', r.executed_at ? time(r.executed_at) : null],
            ['Completed', r.completed_at ? time(r.completed_at) : null],
            ['Monitoring', `${r.monitoring_duration_minutes} min`],
            ['Health checks', list(r.health_checks)],
            ['Dependencies', list(r.dependencies)],
            ['Decision', go(`decisions/${encodeURIComponent(r.decision_id)}`, r.decision_id, { class: 'decision-link' })],
            ['Queue item', item ? go(`queue/${encodeURIComponent(item.item_id)}`, item.item_id, { class: 'item-link' }) : 'none (approved automatically)'],
            ['Kill', r.kill_id],
          ]),
        ),
        block(
          'Step history',
          table(
            ['#', 'From', 'To', 'At', 'After', 'Note'],
            steps.map((t, i) =>
              h(
                'tr',
                { class: 'step' },
                h('td', null, String(i + 1)),
                h('td', null, badge(t.from)),
                h('td', null, badge(t.to)),
                h('td', { class: 'nowrap small' }, time(t.at)),
                h('td', { class: 'nowrap small' }, i ? `${((new Date(t.at) - new Date(steps[i - 1].at)) / 1000).toFixed(1)} s` : '–'),
                h('td', { class: 'small' }, t.note || '–'),
              ),
            ),
            'No step yet.',
          ),
        ),
        block('Outcome', mine.length ? outcomeRows(mine) : h('span', { class: 'muted' }, 'none recorded yet')),
      ];
    });
  }

  // ---------------------------------------------------------------- audit

  const AUDIT_KINDS = [
    'kill_received', 'decision_made', 'human_approval', 'human_denial', 'resurrection_executed', 'rollback_triggered',
    'threshold_adjusted', 'threshold_refused', 'configuration_changed', 'plugin_changed', 'input_rejected',
    'queued_for_review', 'queue_overflow', 'queue_expired', 'resurrection_vetoed', 'resurrection_failed',
    'outcome_recorded', 'mode_changed',
  ];

  function auditView(root, params) {
    if (!isAdmin()) {
      root.appendChild(h('h2', null, 'Audit log'));
      root.appendChild(roleNote('The audit log needs an admin key.'));
      return { update: async () => {} };
    }
    const fields = [
      { name: 'kind', label: 'Kind', options: any(AUDIT_KINDS) },
      { name: 'actor', label: 'Actor', placeholder: 'any' },
      { name: 'kill_id', label: 'Kill', placeholder: 'any' },
      { name: 'order', label: 'Order', options: [['newest', 'newest first'], ['oldest', 'oldest first']] },
      { name: 'limit', label: 'Per page', options: [['100', '100'], ['500', '500'], ['1000', '1000'], ['20', '20']] },
    ];
    return page(
      root,
      'Audit log',
      async () => {
        // Newest first pages back with `before`, oldest first on with `after`.
        const newest = params.get('order') !== 'oldest';
        const cursor = newest ? 'before' : 'after';
        const q = new URLSearchParams({ limit: params.get('limit') || '100' });
        if (newest) q.set('newest', 'true');
        if (params.get(cursor)) q.set(cursor, params.get(cursor));
        const data = await api('GET', `/api/v1/audit?${q}`);
        const read = data.events || [];
        const events = read.filter(
          (e) =>
            (!params.get('kind') || e.kind === params.get('kind')) &&
            contains(e.actor, params.get('actor')) &&
            contains(e.kill_id, params.get('kill_id')),
        );
        const here = Object.fromEntries(params.entries());
        delete here.before;
        delete here.after;
        // A full page may have more beyond it; a short one is the end of the log.
        const mark = newest ? data.next_before : data.next_after;
        const more = read.length >= Number(q.get('limit')) && mark !== null && mark !== undefined;
        const next = more ? href('audit', Object.assign({}, here, { [cursor]: mark })) : null;
        const first = params.get(cursor) ? href('audit', here) : null;
        const rows = events.map((e) =>
          h(
            'tr',
            { 'data-seq': e.seq, 'data-kind': e.kind },
            h('td', null, `#${e.seq}`),
            h('td', { class: 'nowrap small' }, time(e.at)),
            h('td', null, badge(e.kind)),
            h('td', null, e.actor),
            h('td', { class: 'small nowrap' }, e.decision_id ? go(`decisions/${encodeURIComponent(e.decision_id)}`, e.kill_id || e.decision_id) : e.kill_id || '–'),
            h('td', { class: 'small' }, json(e.details)),
          ),
        );
        const where = params.get(cursor) ? `${newest ? 'before' : 'after'} #${params.get(cursor)}` : newest ? 'from the newest' : 'from the start';
        return [
          table(['#', 'At', 'Kind', 'Actor', 'Kill', 'Details'], rows, 'No event matches on this page.'),
          h('p', { class: 'muted small' }, `Kind, actor and kill filter the ${read.length} events of this page (${newest ? 'newest' : 'oldest'} first, ${where}).`),
          pager(`${events.length} shown`, first, next, newest ? '← newest page' : '← first page'),
        ];
      },
      { before: filterForm('audit', params, fields) },
    );
  }

  // ----------------------------------------------------------- thresholds

  function changeText(c) {
    const names = Object.keys(Object.assign({}, c.before, c.after)).sort();
    return h('ul', { class: 'changes' }, names.map((n) => h('li', null, h('span', { class: 'mono' }, n), ` ${figure(c.before[n])} → ${figure(c.after[n])}`)));
  }

  function thresholdsView(root) {
    return page(root, 'Thresholds', async () => {
      const t = await api('GET', '/api/v1/config/thresholds');
      const history = [...(t.history || [])].sort((a, b) => b.id - a.id);
      const current = Object.entries(t.current || {}).sort(([a], [b]) => byText(a, b));
      const rows = history.map((c) => {
        const revert = h('button', { type: 'button', class: 'revert secondary' }, 'Revert');
        if (!isAdmin()) {
          revert.disabled = true;
          revert.title = 'Reverting needs an admin key';
        }
        revert.addEventListener('click', () =>
          confirmAction({
            title: `Revert change #${c.id}?`,
            text: `Puts back what change #${c.id} (${c.source} by ${c.actor}, ${time(c.at)}) replaced: ${Object.keys(c.before)
              .sort()
              .map((n) => `${n} ${figure(c.after[n])} → ${figure(c.before[n])}`)
              .join(', ')}. Recorded as a new change.`,
            ok: 'Revert',
            run: async () => {
              const done = await api('POST', `/api/v1/config/thresholds/${encodeURIComponent(c.id)}/revert`);
              flash(`Change #${c.id} reverted by change #${done.id}.`);
              await refresh();
            },
          }),
        );
        return h(
          'tr',
          { 'data-change-id': c.id, class: 'change' },
          h('td', null, `#${c.id}`),
          h('td', { class: 'nowrap small' }, time(c.at)),
          h('td', null, badge(c.source), c.reverts ? h('div', { class: 'small muted' }, `undoes #${c.reverts}`) : null),
          h('td', null, c.actor),
          h('td', null, changeText(c)),
          h('td', { class: 'small' }, list(c.reasons), c.samples ? h('div', { class: 'muted' }, `${c.samples} samples`) : null),
          h('td', null, revert),
        );
      });
      return [
        block(
          'In force',
          table(
            ['Name', 'Value'],
            current.map(([name, value]) => h('tr', { 'data-threshold': name }, h('td', { class: 'mono' }, name), h('td', { class: 'value' }, figure(value)))),
            'None.',
          ),
        ),
        block(
          'History (newest first)',
          isAdmin() ? null : roleNote('Reverting needs an admin key.'),
          table(['#', 'At', 'Source', 'By', 'Change', 'Why', ''], rows, 'No change yet.'),
        ),
      ];
    });
  }

  // --------------------------------------------------- health and plugins

  /** /health answers without the envelope (and 503 when unhealthy). */
  async function health() {
    let response;
    try {
      response = await fetch('/health', { cache: 'no-store' });
    } catch (e) {
      throw new ApiFailure(0, `Medic cannot be reached (${e.message})`);
    }
    try {
      return await response.json();
    } catch (_) {
      throw new ApiFailure(response.status, `HTTP ${response.status}`);
    }
  }

  const CHECKS = [
    ['database', 'Store'],
    ['event_bus', "Event bus (Smith's Redis stream)"],
    ['siem_connection', 'SIEM'],
    ['siem_breaker', 'SIEM circuit breaker'],
    ['plugins', 'Plugins serving'],
    ['queue', 'Approval queue'],
    ['smith_veto', 'Veto channel'],
    ['responses', 'Responses to Redis (outbox)'],
  ];

  function healthView(root) {
    return page(root, 'Health and plugins', async () => {
      const [hl, st, pl] = await Promise.all([health(), api('GET', '/api/v1/status'), api('GET', '/api/v1/plugins')]);
      const checks = hl.checks || {};
      const serving = st.plugins || {};
      return [
        h('div', { class: 'summary' }, 'Medic is ', badge(hl.status), hl.ready ? ' and ready for kills' : ' and NOT ready for kills', h('span', { class: 'muted small' }, ` · version ${hl.version} · up ${hl.uptime_seconds} s`)),
        block(
          'Dependencies',
          table(
            ['Dependency', 'State'],
            CHECKS.map(([name, label]) =>
              h(
                'tr',
                { 'data-check': name },
                h('td', null, label),
                h('td', null, badge(checks[name]), name === 'responses' && checks.responses_waiting ? ` ${checks.responses_waiting} waiting` : null),
              ),
            ),
            'No check.',
          ),
        ),
        block(
          `Serving (${st.phase})`,
          table(
            ['Kind', 'Plugin', 'Quarantined', 'sha256'],
            ['risk_scorer', 'strategy', 'threshold_learner'].map((kind) => {
              const p = serving[kind] || {};
              return h(
                'tr',
                { 'data-kind': kind },
                h('td', null, kind),
                h('td', { class: 'strong' }, `${p.name}@${p.version}`),
                h('td', null, p.quarantined ? badge('quarantined') : 'no'),
                h('td', { class: 'mono small' }, p.sha256),
              );
            }),
            '',
          ),
        ),
        block(
          'Every plugin loaded',
          table(
            ['Name', 'Kind', 'Version', 'Status', 'Quarantine', 'Calls · failures', 'Signer', 'Source', 'sha256', 'Loaded'],
            (pl.plugins || []).map((p) => {
              const hr = p.health || {};
              return h(
                'tr',
                { 'data-plugin': p.name, title: p.description || '' },
                h('td', { class: 'strong' }, p.name),
                h('td', null, p.kind),
                h('td', null, p.version),
                h('td', null, badge(p.status)),
                h(
                  'td',
                  { class: 'quarantine' },
                  hr.quarantined ? badge('quarantined') : `no (${hr.consecutive_failures || 0} failures in a row)`,
                  hr.last_error ? h('div', { class: 'error small' }, hr.last_error) : null,
                ),
                h('td', null, `${hr.calls ?? 0} · ${hr.failures ?? 0}`),
                h('td', null, signerText(p.signer), p.signer && p.signer.fingerprint ? h('div', { class: 'muted small mono' }, p.signer.fingerprint) : null),
                h('td', { class: 'small' }, p.source && p.source.type === 'file' ? p.source.path : 'built in'),
                h('td', { class: 'mono small sha' }, p.sha256),
                h('td', { class: 'nowrap small' }, time(p.loaded_at)),
              );
            }),
            'No plugin.',
          ),
        ),
        block(
          'Recent reloads',
          table(
            ['At', 'File', 'Outcome', 'Plugin', 'Message'],
            (pl.recent_events || []).map((e) =>
              h('tr', null, h('td', { class: 'nowrap small' }, time(e.at)), h('td', { class: 'small' }, e.path), h('td', null, badge(e.outcome)), h('td', null, e.plugin || '–'), h('td', { class: 'small' }, e.message)),
            ),
            'No reload yet.',
          ),
        ),
      ];
    });
  }

  // ------------------------------------------------------------------ start

  document.addEventListener('DOMContentLoaded', () => {
    $('#login-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const key = $('#key').value.trim();
      $('#login-error').textContent = '';
      $('#login-button').disabled = true;
      try {
        await login(key);
      } catch (e) {
        $('#login-error').textContent = e.message;
      } finally {
        $('#login-button').disabled = false;
      }
    });
    $('#logout').addEventListener('click', () => logout(''));
    $('#reload-plugins').addEventListener('click', reloadPlugins);
    $('#mode-form').addEventListener('submit', switchMode);
    window.addEventListener('hashchange', () => {
      closeConfirm(false);
      // What an action said belongs to the page it was done on.
      clearTimeout(flashTimer);
      $('#flash').hidden = true;
      route();
    });
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') closeConfirm(false);
    });

    const saved = sessionStorage.getItem(KEY_STORAGE);
    if (saved) {
      login(saved).catch((e) => logout(e.message));
    } else {
      $('#key').focus();
    }
  });
})();
