// Unlocking the panel with the secret, and locking it again.
import { $, show } from './dom.js';
import { announce } from './status.js';
import { api, ApiError, busy } from './api.js';
import { lock, SECRET_KEY } from './session.js';
import { state } from './state.js';
import { currentTab, selectTab } from './tabs.js';
import { renderPolicy } from './settings.js';

export async function unlockWith(token) {
  const data = await api('policy', { token });
  sessionStorage.setItem(SECRET_KEY, token);
  state.policy = data;
  show($('unlock'), false);
  show($('app'), true);
  show($('lock'), true);
  $('unlock-error').textContent = '';
  renderPolicy();
  selectTab(currentTab() || $('tab-settings'), false);
}

export function setupUnlock() {
  $('unlock-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = $('secret');
    const token = input.value;
    if (!token) {
      $('unlock-error').textContent = 'Enter the secret.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    $('unlock-error').textContent = '';
    await busy($('unlock-button'), async () => {
      try {
        await unlockWith(token);
        input.value = '';
        announce('Unlocked.', 'ok');
        $('tab-settings').focus();
      } catch (err) {
        sessionStorage.removeItem(SECRET_KEY);
        const msg = err instanceof ApiError
          ? (err.status === 401 || err.status === 403 ? `Wrong secret: ${err.message}` : `Could not unlock: ${err.message}`)
          : 'Could not reach the worker.';
        $('unlock-error').textContent = msg;
        input.setAttribute('aria-invalid', 'true');
        input.select();
        input.focus();
      }
    });
  });

  $('lock').addEventListener('click', () => {
    lock('');
    announce('Locked. The secret has been forgotten.', 'info');
  });
}
