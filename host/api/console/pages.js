// Medic console: the pages with an address (#/queue/ID, #/decisions?…),
// the router that shows them and the blocks they are built of.

import { $, append, badge, clear, figure, h, num, relative, time } from './dom.js';
import { ApiFailure, api, canApprove, flash, hooks, isAdmin, state } from './session.js';
import { confirmAction } from './confirm.js';
import { decideButtons, decisionRow, factorList, refreshStatus, resurrectionRow, signerText } from './overview.js';

// ----------------------------------------------------------------- routes

/** The page the URL's hash names: `#/decisions/ID`, `#/queue?module=x`. */
export function parseHash() {
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
export function href(path, params) {
  const p = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== '') p.set(name, String(value));
  }
  const qs = p.toString();
  return `#/${path}${qs ? `?${qs}` : ''}`;
}

export const VIEWS = {
  queue: { list: queueList, detail: queueDetail },
  decisions: { list: decisionList, detail: decisionDetail },
  resurrections: { list: resurrectionList, detail: resurrectionDetail },
  audit: { list: auditView },
  thresholds: { list: thresholdsView },
  health: { list: healthView },
};

/** Shows the page the hash names: the overview, or one page built here. */
export async function route() {
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
    await hooks.refresh();
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
export async function guardedView(root, update) {
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
export function page(root, title, fill, options) {
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
export function kv(rows) {
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
export function json(value) {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'object' && Object.keys(value).length === 0) return '–';
  return h('code', { class: 'json' }, JSON.stringify(value));
}

export const list = (items) => (items && items.length ? h('ul', null, items.map((i) => h('li', null, i))) : h('span', { class: 'muted' }, 'none'));

export const block = (title, ...children) => h('div', { class: 'block' }, h('h3', null, title), children);

export const go = (path, text, attrs) => h('a', Object.assign({ href: `#/${path}` }, attrs || {}), text);

/** The filter form of a list: each field's value from the URL; submitting
 * it changes the URL (first page), which draws the list. */
export function filterForm(path, params, fields) {
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
export function pager(info, prev, next, back) {
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
export function slice(items, path, params, defaultLimit) {
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

export const byText = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

export const contains = (value, wanted) => !wanted || String(value || '').toLowerCase().includes(wanted.toLowerCase());

export function table(headers, rows, empty) {
  if (!rows.length) return h('p', { class: 'empty muted' }, empty);
  return h('table', null, h('thead', null, h('tr', null, headers.map((t) => h('th', null, t)))), h('tbody', null, rows));
}

export function roleNote(text) {
  return h('p', { class: 'muted small role-note' }, text);
}

// ---------------------------------------------------------------- queue

export function queueList(root, params) {
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
          canApprove() && i.status === 'pending' ? h('td', null, decideButtons(i, hooks.refresh)) : h('td', null),
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

export function queueDetail(root, id) {
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
          ? decideButtons(item, hooks.refresh)
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
export function decisionBlocks(d, context, kill) {
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

export function pluginUse(p) {
  if (!p) return null;
  return h(
    'span',
    null,
    `${p.name}@${p.version}`,
    h('span', { class: 'muted small mono' }, ` sha256 ${p.sha256}`),
    p.fallback ? h('div', { class: 'error small' }, `fallback: ${p.fallback}`) : null,
  );
}

export function killTable(k) {
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

export function contextDetail(status, c) {
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

export const OUTCOMES = ['approve_auto', 'approve_manual', 'pending_review', 'deny', 'defer'];
export const RISK_LEVELS = ['minimal', 'low', 'medium', 'high', 'critical'];
export const any = (values) => [['', 'any'], ...values.map((v) => [v, v])];

export function decisionList(root, params) {
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
      const rows = decisions.map(decisionRow);
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
export async function related(decisionId, module) {
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

export function outcomeRows(outcomes) {
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

export function decisionDetail(root, id) {
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

export const STATUSES = ['pending', 'approved', 'in_progress', 'completed', 'failed', 'rolled_back', 'cancelled'];

export function resurrectionList(root, params) {
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
      const rows = shown.map((r) => resurrectionRow(r, false));
      return [
        table(['Module', 'Kill', 'State', 'Status', 'Approved by', 'Notes / error', 'Created'], rows, 'No resurrection matches.'),
        h('p', { class: 'muted small' }, 'The newest 1000 requests are read.'),
        nav,
      ];
    },
    { before: filterForm('resurrections', params, fields) },
  );
}

export const ENDED = ['stable', 'completed', 'failed', 'cancelled'];

export function resurrectionDetail(root, id) {
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
          await hooks.refresh();
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

export const AUDIT_KINDS = [
  'kill_received', 'decision_made', 'human_approval', 'human_denial', 'resurrection_executed', 'rollback_triggered',
  'threshold_adjusted', 'threshold_refused', 'configuration_changed', 'plugin_changed', 'input_rejected',
  'queued_for_review', 'queue_overflow', 'queue_expired', 'resurrection_vetoed', 'resurrection_failed',
  'outcome_recorded', 'mode_changed',
];

export function auditView(root, params) {
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

export function changeText(c) {
  const names = Object.keys(Object.assign({}, c.before, c.after)).sort();
  return h('ul', { class: 'changes' }, names.map((n) => h('li', null, h('span', { class: 'mono' }, n), ` ${figure(c.before[n])} → ${figure(c.after[n])}`)));
}

export function thresholdsView(root) {
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
            await hooks.refresh();
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
export async function health() {
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

export const CHECKS = [
  ['database', 'Store'],
  ['event_bus', "Event bus (Smith's Redis stream)"],
  ['siem_connection', 'SIEM'],
  ['siem_breaker', 'SIEM circuit breaker'],
  ['plugins', 'Plugins serving'],
  ['queue', 'Approval queue'],
  ['smith_veto', 'Veto channel'],
  ['responses', 'Responses to Redis (outbox)'],
];

export function healthView(root) {
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
