// Medic console: one page, no build step (ES modules from this origin).
// Every piece of data comes from the API with the key the operator typed,
// and goes into the page as text (dom.js): never as HTML.

import { $ } from './dom.js';
import { api, canApprove, hideFlash, hooks, isAdmin, state } from './session.js';
import { closeConfirm } from './confirm.js';
import { refreshChart, refreshDecisions, refreshMode, refreshPlugins, refreshQueue, refreshResurrections, refreshShadow, refreshStatus, reloadPlugins, switchMode } from './overview.js';
import { route } from './pages.js';

const KEY_STORAGE = 'medic.console.key';
const REFRESH_MS = 5000;

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

// ------------------------------------------------------------------ start

hooks.refresh = refresh;

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
    hideFlash();
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
