// rulecache control panel. Plain ES modules, no build step, no framework: this one starts the
// panel, the modules it imports hold the API client, the session, the tabs and one view each.
// DOM is built with createElement/textContent only, so a strict CSP
// (script-src 'self'; style-src 'self') is enough.
import { ApiError } from './api.js';
import { lock, secret } from './session.js';
import { setupUnlock, unlockWith } from './unlock.js';
import { setupTabs } from './tabs.js';
import { setupSettings } from './settings.js';
import { setupImport } from './import.js';
import { setupPurge } from './purge.js';
import { setupStats } from './stats.js';
import { setupExplain } from './explain.js';

async function start() {
  setupUnlock();
  setupTabs();
  setupSettings();
  setupImport();
  setupPurge();
  setupStats();
  setupExplain();

  const token = secret();
  if (token) {
    try {
      await unlockWith(token);
    } catch (err) {
      // A rejected secret has already locked the panel with a message.
      if (!(err instanceof ApiError && (err.status === 401 || err.status === 403))) {
        lock('The worker could not be reached. Try again.');
      }
    }
    return;
  }
  lock('');
}

start();
