// Medic console: the session (key, role, what is shown), the API calls
// made with its key, and the messages an action leaves.

import { $ } from './dom.js';

export const state = {
  key: null,
  who: null, // {name, role}
  timer: null,
  refreshing: false,
  again: false,
  queueSignature: null,
  contexts: new Map(), // decision_id -> SIEM context (or null when none)
  view: null, // the mounted page's {update}
};

export const canApprove = () => !!state.who && (state.who.role === 'approver' || state.who.role === 'admin');
export const isAdmin = () => !!state.who && state.who.role === 'admin';

export class ApiFailure extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Calls the API with the session's key; the envelope's data, or the API's own error. */
export async function api(method, path, body, key) {
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

export function sectionError(section, error) {
  const p = $('.section-error', section);
  if (p) p.textContent = error ? error.message : '';
}

let flashTimer = null;
export function flash(message, isError) {
  const el = $('#flash');
  el.textContent = message;
  el.classList.toggle('flash-error', !!isError);
  el.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => {
    el.hidden = true;
  }, 8000);
}

/** Hides the message an action left (its page was left). */
export function hideFlash() {
  clearTimeout(flashTimer);
  $('#flash').hidden = true;
}

/** Set by app.js: a refresh of what is shown (after an action). */
export const hooks = { refresh: async () => {} };
