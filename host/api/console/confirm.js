// Medic console: the confirmation dialog before an action.

import { $ } from './dom.js';

let confirmDone = null;

/** Asks before an action: a title, what will happen, an optional text
 * field (`required` ones are checked here). On Confirm, `run(text)`;
 * if it fails, the API's message shows in the dialog, which stays open. */
export function confirmAction({ title, text, field, ok, danger, run }) {
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

export function closeConfirm(result) {
  const box = $('#confirm');
  if (!box || box.hidden) return;
  box.hidden = true;
  $('#confirm-ok').onclick = null;
  const done = confirmDone;
  confirmDone = null;
  if (done) done(!!result);
}
