// The purge tab: URLs, prefixes and tags purged (soft or hard), and the receipt.
import { $, clear, el, show } from './dom.js';
import { facts, num, text, time } from './format.js';
import { announce } from './status.js';
import { api, ApiError, busy, failed } from './api.js';

function lines(area) {
  return area.value.split('\n').map((s) => s.trim()).filter(Boolean);
}

/** A path such as /news is taken relative to this site. */
function absolute(entry) {
  if (entry.startsWith('/') && !entry.startsWith('//')) return new URL(entry, location.origin).href;
  return entry;
}

export function setupPurge() {
  $('purge-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = {
      urls: lines($('purge-urls')).map(absolute),
      prefixes: lines($('purge-prefixes')).map(absolute),
      tags: lines($('purge-tags')),
      soft: document.querySelector('input[name="purge-kind"]:checked').value === 'soft',
    };
    const box = $('purge-result');
    if (!body.urls.length && !body.prefixes.length && !body.tags.length) {
      announce('Give at least one URL, prefix or tag to purge.', 'error');
      $('purge-urls').focus();
      return;
    }
    await busy($('purge'), async () => {
      try {
        const res = (await api('purge', { method: 'POST', body })) || {};
        const expanded = Array.isArray(res.expanded) ? res.expanded : [];
        clear(box).append(
          el('h3', null, body.soft ? 'Soft purge recorded' : 'Purge recorded'),
          facts([
            ['Purge id', el('code', { id: 'purge-id' }, text(res.id))],
            ['Kind', body.soft ? 'soft (stale, revalidated on next use)' : 'hard (removed)'],
            ['Removed here', `${num(res.removedLocal)} entr${res.removedLocal === 1 ? 'y' : 'ies'} in this location`],
            ['Honoured everywhere by', time(res.honouredEverywhereBy)],
          ]),
          expanded.length ? el('h4', null, 'Expanded URLs') : null,
          expanded.length ? el('ul', { className: 'plain mono' }, expanded.map((u) => el('li', null, u))) : null,
        );
        box.classList.remove('bad');
        show(box, true);
        announce(`Purge ${text(res.id)} recorded.`, 'ok');
      } catch (err) {
        if (err instanceof ApiError && err.status === 400 && err.body && Array.isArray(err.body.errors)) {
          clear(box).append(
            el('h3', null, 'Purge refused'),
            el('ul', { className: 'errors' }, err.body.errors.map((e) => el('li', null,
              typeof e === 'string' ? e : [e.path ? el('code', null, e.path) : null, ' ', text(e.message)])))
          );
          box.classList.add('bad');
          show(box, true);
          announce('The purge was refused.', 'error');
        } else {
          failed('Purge', err);
        }
      }
    });
  });
}
