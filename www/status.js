// The status line: messages announced in the aria-live region.
import { $ } from './dom.js';

let statusTimer = 0;
/** Announce a message in the aria-live region. kind: 'ok' | 'error' | 'info'. */
export function announce(message, kind = 'info') {
  const box = $('status');
  clearTimeout(statusTimer);
  box.className = `status is-${kind}`;
  // Clear first so that repeating the same message is announced again.
  box.textContent = '';
  requestAnimationFrame(() => {
    box.textContent = message;
  });
  if (kind !== 'error') {
    statusTimer = setTimeout(() => {
      box.textContent = '';
      box.className = 'status';
    }, 8000);
  }
}
