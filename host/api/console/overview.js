// Medic console: the overview — status bar, queue, chart, resurrections,
// decisions, plugins, shadow and mode — and the approve/deny buttons.

import { $, badge, clear, h, num, relative, s, shortId, time } from './dom.js';
import { api, canApprove, flash, hooks, sectionError, state } from './session.js';
import { confirmAction } from './confirm.js';

const CHART_HOURS = 24;

/** Runs one section's refresh, showing its error in the section. */
export async function guarded(section, work) {
  try {
    await work();
    sectionError(section, null);
  } catch (e) {
    sectionError(section, e);
    throw e;
  }
}

export async function refreshStatus() {
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

export async function refreshQueue() {
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
export async function loadContexts(items) {
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

export function queueRow(item) {
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
  if (canApprove()) row.appendChild(h('td', { class: 'decide' }, decideButtons(item, hooks.refresh)));
  return row;
}

export function factorList(factors) {
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

export function contextCell(decision) {
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
export function decideButtons(item, after) {
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

/** A resurrection as a row of a table (with its backend and attempts when `withBackend`). */
export function resurrectionRow(r, withBackend) {
  return h(
    'tr',
    { 'data-request-id': r.request_id, 'data-kill-id': r.kill_id },
    h('td', { class: 'strong' }, h('a', { href: `#/resurrections/${encodeURIComponent(r.request_id)}` }, r.target_module)),
    h('td', { class: 'small' }, r.kill_id),
    h('td', null, badge(r.state)),
    h('td', null, badge(r.status)),
    h('td', null, r.approved_by || '–'),
    h('td', { class: 'small' }, r.error ? h('span', { class: 'error' }, r.error) : r.rollback_reason || r.notes || '–'),
    h('td', { class: 'nowrap small' }, time(r.created_at)),
    withBackend ? h('td', { class: 'small' }, `${r.backend} · ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}`) : null,
  );
}

export async function refreshResurrections() {
  const section = $('#resurrections');
  await guarded(section, async () => {
    const requests = await api('GET', '/api/v1/resurrections?limit=50');
    const body = $('tbody', section);
    clear(body);
    for (const r of requests) body.appendChild(resurrectionRow(r, true));
    $('.empty', section).hidden = requests.length > 0;
  });
}

// -------------------------------------------------------------- decisions

/** A decision as a row of a table: its time links to its page. */
export function decisionRow(d) {
  return h(
    'tr',
    { 'data-decision-id': d.decision_id, 'data-kill-id': d.kill_id, 'data-module': d.target_module },
    h('td', { class: 'nowrap small' }, h('a', { href: `#/decisions/${encodeURIComponent(d.decision_id)}` }, time(d.timestamp))),
    h('td', { class: 'strong module' }, d.target_module),
    h('td', { class: 'small' }, d.kill_id),
    h('td', null, badge(d.outcome)),
    h('td', null, badge(d.risk_level), ` ${num(d.risk_score, 3)}`),
    h('td', null, num(d.confidence, 2)),
    h('td', null, d.executed ? 'yes' : 'no'),
    h('td', null, d.mode),
    h('td', { class: 'small' }, (d.guardrails || []).join(', ') || '–'),
  );
}

export async function refreshDecisions() {
  const section = $('#decisions');
  await guarded(section, async () => {
    const data = await api('GET', '/api/v1/decisions?limit=20');
    const decisions = data.decisions || [];
    const body = $('tbody', section);
    clear(body);
    for (const d of decisions) body.appendChild(decisionRow(d));
    $('.empty', section).hidden = decisions.length > 0;
  });
}

// ------------------------------------------------------------------ chart

export const OUTCOME_GROUPS = [
  { name: 'approved', outcomes: ['approve_auto', 'approve_manual'], colour: '#3fb950' },
  { name: 'pending review', outcomes: ['pending_review'], colour: '#d29922' },
  { name: 'denied', outcomes: ['deny'], colour: '#f85149' },
  { name: 'deferred', outcomes: ['defer'], colour: '#8b949e' },
];
export const RESULT_LINES = [
  { name: 'outcome: success', results: ['success', 'partial'], colour: '#58a6ff' },
  { name: 'outcome: failed / rolled back', results: ['failure', 're_killed', 'rollback'], colour: '#db61a2' },
];

export async function refreshChart() {
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

export function drawChart(start, hour, bars, lines) {
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

export function niceStep(max) {
  for (const step of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]) {
    if (max / step <= 5) return step;
  }
  return Math.ceil(max / 5);
}

export function legend(note) {
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

export async function refreshPlugins() {
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

export function signerText(signer) {
  if (!signer) return '–';
  if (signer.type === 'key') return `key ${signer.name}`;
  return signer.type === 'builtin' ? 'built in' : 'unsigned';
}

// ----------------------------------------------------------------- shadow

export async function refreshShadow() {
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

export async function reloadPlugins() {
  await confirmAction({
    title: 'Reload the plugins?',
    text: 'Medic reads the plugin directory again: a new or changed file is checked (signature, golden kills, the replay gate) and then serves at once; a file that fails keeps the version in force.',
    ok: 'Reload',
    run: async () => {
      const events = await api('POST', '/api/v1/plugins/reload');
      const changed = (events || []).filter((e) => e.outcome !== 'unchanged');
      const rejected = changed.filter((e) => e.outcome === 'rejected');
      let message = `Plugins reloaded: ${changed.length} change${changed.length === 1 ? '' : 's'}.`;
      if (rejected.length) message += ` Rejected: ${rejected.map((e) => `${e.path}: ${e.message}`).join('; ')}`;
      flash(message, rejected.length > 0);
      await hooks.refresh();
    },
  });
}

// ------------------------------------------------------------------- mode

export async function refreshMode() {
  const section = $('#mode');
  await guarded(section, async () => {
    const m = await api('GET', '/api/v1/mode');
    const body = $('tbody', section);
    clear(body);
    body.appendChild(h('tr', null, h('td', null, badge(m.current)), h('td', null, m.configured), h('td', null, m.fallback)));
  });
}

export async function switchMode(event) {
  event.preventDefault();
  const mode = $('#mode-select').value;
  const reason = $('#mode-reason').value.trim();
  await confirmAction({
    title: `Switch to ${mode}?`,
    text: `From the next kill on, Medic decides in ${mode} mode (observer records only; manual puts every kill to a person; semi_auto and full_auto bring services back without one where the constitution allows). Recorded in the audit log with your reason.`,
    ok: 'Switch',
    danger: mode === 'semi_auto' || mode === 'full_auto',
    run: async () => {
      const r = await api('PUT', '/api/v1/mode', { mode, reason });
      flash(`Mode switched: ${r.previous} → ${r.current}.`);
      $('#mode-reason').value = '';
      await hooks.refresh();
    },
  });
}
