// The session: the secret kept in sessionStorage while the panel is unlocked, and locking
// (the secret forgotten, everything the panel held dropped).
import { $, show } from './dom.js';
import { state } from './state.js';

export const SECRET_KEY = 'rulecache.secret';

export function secret() {
  return sessionStorage.getItem(SECRET_KEY);
}

export function lock(message) {
  sessionStorage.removeItem(SECRET_KEY);
  state.policy = null;
  state.profiles = null;
  state.loaded.clear();
  show($('app'), false);
  show($('lock'), false);
  show($('unlock'), true);
  $('secret').value = '';
  $('unlock-error').textContent = message || '';
  $('secret').setAttribute('aria-invalid', message ? 'true' : 'false');
  $('secret').focus();
}
