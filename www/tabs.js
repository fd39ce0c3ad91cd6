// The tabs: selection by click and keyboard (arrows, Home, End), and what a tab loads the
// first time it is shown.
import { $, show } from './dom.js';
import { state } from './state.js';
import { loadProfiles } from './import.js';
import { loadStats } from './stats.js';

const TABS = ['settings', 'import', 'purge', 'stats', 'explain'];

function tabs() {
  return TABS.map((t) => $(`tab-${t}`));
}

export function currentTab() {
  return tabs().find((t) => t.getAttribute('aria-selected') === 'true');
}

export function selectTab(tab, focus = true) {
  for (const t of tabs()) {
    const on = t === tab;
    t.setAttribute('aria-selected', on ? 'true' : 'false');
    t.tabIndex = on ? 0 : -1;
    show($(t.getAttribute('aria-controls')), on);
  }
  if (focus) tab.focus();
  const name = tab.id.slice(4);
  onTabShown(name);
}

export function setupTabs() {
  const list = $('tabs');
  list.addEventListener('click', (ev) => {
    const tab = ev.target.closest('[role="tab"]');
    if (tab) selectTab(tab);
  });
  list.addEventListener('keydown', (ev) => {
    const all = tabs();
    const i = all.indexOf(document.activeElement);
    if (i < 0) return;
    let next = null;
    if (ev.key === 'ArrowRight') next = all[(i + 1) % all.length];
    else if (ev.key === 'ArrowLeft') next = all[(i - 1 + all.length) % all.length];
    else if (ev.key === 'Home') next = all[0];
    else if (ev.key === 'End') next = all[all.length - 1];
    if (next) {
      ev.preventDefault();
      selectTab(next);
    }
  });
}

function onTabShown(name) {
  if (name === 'import' && !state.loaded.has('import')) {
    state.loaded.add('import');
    loadProfiles();
  } else if (name === 'stats' && !state.loaded.has('stats')) {
    state.loaded.add('stats');
    loadStats();
  } else if (name === 'explain' && !$('explain-url').value) {
    $('explain-url').value = `${location.origin}/`;
  }
}
