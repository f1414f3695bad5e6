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
    drafts: new Map(), // "item_id/field" -> text typed, kept across redraws
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
    for (const child of children.flat()) {
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
    state.drafts.clear();
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
    refresh();
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
      const results = await Promise.allSettled([
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
        h('div', { class: 'strong' }, k.target_module),
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
    if (canApprove()) row.appendChild(h('td', { class: 'decide' }, decideForm(item)));
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

  function draftInput(item, field, placeholder) {
    const key = `${item.item_id}/${field}`;
    const input = h('input', { type: 'text', class: field, name: field, placeholder, value: state.drafts.get(key) || '' });
    input.addEventListener('input', () => state.drafts.set(key, input.value));
    return input;
  }

  function decideForm(item) {
    const notes = draftInput(item, 'notes', 'notes (optional)');
    const reason = draftInput(item, 'reason', 'reason (required)');
    // No backend serves the module: an approval would be refused, so the
    // item says why and Approve stays off.
    const blocked = item.cannot_resurrect || '';
    const approve = h('button', { type: 'button', class: 'approve', title: blocked || null }, 'Approve');
    const deny = h('button', { type: 'button', class: 'deny danger' }, 'Deny');
    const problem = h('div', { class: 'error small', role: 'alert' });
    const busy = (on) => {
      approve.disabled = on || !!blocked;
      deny.disabled = on;
    };
    busy(false);
    approve.addEventListener('click', async () => {
      problem.textContent = '';
      busy(true);
      try {
        const text = notes.value.trim();
        const data = await api('POST', `/api/v1/queue/${encodeURIComponent(item.item_id)}/approve`, text ? { notes: text } : {});
        const request = data.request || {};
        flash(`Approved ${item.kill.target_module}: resurrection ${shortId(request.request_id)} is ${request.state || 'under way'}.`);
        forget(item);
        await refresh();
      } catch (e) {
        problem.textContent = e.message;
        busy(false);
      }
    });
    deny.addEventListener('click', async () => {
      problem.textContent = '';
      const text = reason.value.trim();
      if (!text) {
        problem.textContent = 'A denial needs a reason.';
        reason.focus();
        return;
      }
      busy(true);
      try {
        await api('POST', `/api/v1/queue/${encodeURIComponent(item.item_id)}/deny`, { reason: text });
        flash(`Denied ${item.kill.target_module}: it stays down.`);
        forget(item);
        await refresh();
      } catch (e) {
        problem.textContent = e.message;
        busy(false);
      }
    });
    return h(
      'div',
      { class: 'decide-form' },
      blocked ? h('div', { class: 'cannot-resurrect small', role: 'note' }, `Cannot be approved: ${blocked}`) : null,
      h('div', { class: 'row' }, notes, approve),
      h('div', { class: 'row' }, reason, deny),
      problem,
    );
  }

  function forget(item) {
    state.drafts.delete(`${item.item_id}/notes`);
    state.drafts.delete(`${item.item_id}/reason`);
    state.queueSignature = null;
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
            h('td', { class: 'strong' }, r.target_module),
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
            h('td', { class: 'strong' }, d.target_module),
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

    const saved = sessionStorage.getItem(KEY_STORAGE);
    if (saved) {
      login(saved).catch((e) => logout(e.message));
    } else {
      $('#key').focus();
    }
  });
})();
