// Browser test of the control panel (www/) in headless Chromium.
//
// Drives the real worker through the panel: unlock, settings, profile import,
// explain, purge, stats, keyboard navigation, lock. Screenshots of every tab go
// to test-results/panel/. Any console error or page error on the main page
// fails the test; checks that must produce HTTP errors (wrong secret, a
// rejected bundle) run in a separate browser context whose console is not
// counted.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startStack } from '../support/stack.mjs';

const SECRET = 'panel-test-secret';
/** The purge secret: a CMS holds it, and it must not open the panel. */
const PURGE_SECRET = 'panel-test-purge-secret';
const SHOTS = fileURLToPath(new URL('../../test-results/panel/', import.meta.url));
const DESKTOP = { width: 1280, height: 900 };
const NARROW = { width: 375, height: 812 };
const STEP = { timeout: 60_000 };

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let stack;
let browser;
let context;
let page;
let panelUrl;
const errors = [];

async function shot(name) {
  await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });
}

async function openTab(name) {
  await page.click(`#tab-${name}`);
  await page.locator(`#panel-${name}`).waitFor({ state: 'visible' });
}

/** Wait for the live status region to announce a message matching `pattern` (and `accept`). */
async function waitStatus(pattern, accept = () => true) {
  let match = null;
  await assertEventually(async () => {
    match = pattern.exec((await page.textContent('#status')) || '');
    return match !== null && accept(match);
  }, `status matching ${pattern}`);
  return match;
}

async function assertEventually(check, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function get(path) {
  const res = await fetch(`${stack.workerUrl}${path}`, { redirect: 'manual', signal: AbortSignal.timeout(15_000) });
  await res.arrayBuffer();
  return { status: res.status, cacheStatus: (res.headers.get('cache-status') || '').toLowerCase() };
}

describe('control panel', { timeout: 240_000 }, () => {
  before(async () => {
    await mkdir(SHOTS, { recursive: true });
    stack = await startStack({ secret: PURGE_SECRET, adminSecret: SECRET, bindings: { STATS_LOCATION: 'PANEL', STATS_FLUSH_MS: '500' } });
    panelUrl = `${stack.workerUrl}/_rulecache/`;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 60_000 });
    context = await browser.newContext({ viewport: DESKTOP });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(`console: ${msg.text()} @ ${msg.location().url || ''}`);
    });
    page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('refuses a wrong secret, and the purge secret, and unlocks nothing', STEP, async () => {
    // A 401 fetch is logged as a console error by Chromium: use a separate context.
    const other = await browser.newContext({ viewport: DESKTOP });
    try {
      for (const wrong of ['not-the-secret', PURGE_SECRET]) {
        const p = await other.newPage();
        p.setDefaultTimeout(15_000);
        await p.goto(panelUrl);
        await p.locator('#secret').waitFor({ state: 'visible' });
        await p.fill('#secret', wrong);
        await p.press('#secret', 'Enter');
        await p.locator('#unlock-error').filter({ hasText: /wrong secret/i }).waitFor();
        assert.equal(await p.locator('#app').isVisible(), false, 'panel stays hidden');
        assert.equal(await p.evaluate(() => sessionStorage.length + localStorage.length), 0, 'nothing stored');
        assert.equal(await p.getAttribute('#secret', 'aria-invalid'), 'true');
        await p.close();
      }
    } finally {
      await other.close();
    }
  });

  it('shows validation errors by path for a rejected bundle', STEP, async () => {
    // A 422 is logged as a console error too: separate context again.
    const other = await browser.newContext({ viewport: DESKTOP });
    try {
      const p = await other.newPage();
      p.setDefaultTimeout(15_000);
      await p.goto(panelUrl);
      await p.fill('#secret', SECRET);
      await p.press('#secret', 'Enter');
      await p.locator('#app').waitFor({ state: 'visible' });
      const before = await p.textContent('#active-version');

      // Invalid JSON is caught in the page, without a request.
      await p.fill('#bundle', '{ "rules": [ }');
      await p.click('#save');
      await p.locator('#editor-errors li').first().waitFor();
      assert.match(await p.textContent('#editor-errors'), /JSON|token|Expected/i);

      // Valid JSON that is not a valid bundle is rejected by the worker with paths.
      await p.fill('#bundle', '{\n  "notAPolicyKey": true\n}');
      await p.click('#save');
      await p.locator('#status').filter({ hasText: /rejected/i }).waitFor();
      const items = p.locator('#editor-errors li');
      assert.ok((await items.count()) >= 1, 'at least one error listed');
      assert.equal(await p.getAttribute('#bundle', 'aria-invalid'), 'true');
      const first = p.locator('#editor-errors button:not([disabled])').first();
      if (await first.count()) {
        await first.click();
        assert.equal(await p.evaluate(() => document.activeElement.id), 'bundle', 'error moves focus to the editor');
      }
      // The secret survives a reload of the tab, and nothing was activated.
      await p.reload();
      await p.locator('#app').waitFor({ state: 'visible' });
      assert.equal(await p.textContent('#active-version'), before, 'nothing was activated');
    } finally {
      await other.close();
    }
  });

  it('unlocks with the right secret, kept only in sessionStorage', STEP, async () => {
    await page.goto(panelUrl);
    await page.locator('#secret').waitFor({ state: 'visible' });
    await shot('unlock');
    await page.fill('#secret', SECRET);
    await page.press('#secret', 'Enter');
    await page.locator('#app').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('rulecache.secret')), SECRET);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.ok(!page.url().includes(SECRET), 'secret never in the URL');
    assert.equal(await page.locator('#unlock').isVisible(), false);
  });

  it('Settings shows the active version and the ruleset table', STEP, async () => {
    await openTab('settings');
    assert.match((await page.textContent('#active-version')).trim(), /^\d+$/);
    const rows = page.locator('#ruleset-table tbody tr');
    assert.ok((await rows.count()) >= 1, 'ruleset rows');
    assert.match(await page.textContent('#ruleset-table'), /plone\.content\.folderView/);
    assert.match(await page.inputValue('#bundle'), /^\s*\{/);
    assert.ok((await page.locator('#history-table tbody tr').count()) >= 1, 'history rows');
    await shot('settings');
  });

  it('Import shows a diff for a profile and activates it as a new version', STEP, async () => {
    const before = Number((await page.textContent('#active-version')).trim());
    await openTab('import');
    await page.locator('#profile option[value="with-caching-proxy-splitviews"]').waitFor({ state: 'attached' });
    await page.selectOption('#profile', 'with-caching-proxy-splitviews');
    await page.locator('#import-result').waitFor({ state: 'visible' });
    assert.ok((await page.locator('#diff li').count()) >= 1, 'diff lines shown');
    assert.match(await page.textContent('#diff-summary'), /added|identical/);
    assert.match(await page.textContent('#compare-table tbody'), /plone\.content\.folderView/, 'ruleset comparison');
    await shot('import');

    await page.click('#activate');
    const [, first] = await waitStatus(/Activated .* as version (\d+)/, (m) => Number(m[1]) > before);
    await openTab('settings');
    assert.equal((await page.textContent('#active-version')).trim(), first);
  });

  it('History rolls back to an earlier version', STEP, async () => {
    // Push the same profile again, then roll back to the previous push.
    const first = Number((await page.textContent('#active-version')).trim());
    await openTab('import');
    await page.click('#activate');
    const [, second] = await waitStatus(/Activated .* as version (\d+)/, (m) => Number(m[1]) > first);
    await openTab('settings');
    assert.equal((await page.textContent('#active-version')).trim(), second);
    await page.click(`#history-table button[data-version="${first}"]`);
    await waitStatus(/Rolled back\. Version (\d+) is now active/, (m) => Number(m[1]) === first);
    assert.equal((await page.textContent('#active-version')).trim(), String(first));
    const activeRow = page.locator('#history-table tbody tr', { has: page.locator('.badge') });
    assert.equal((await activeRow.locator('td').first().textContent()).trim(), String(first));
  });

  it('Explain names the ruleset of /news', STEP, async () => {
    await openTab('explain');
    await page.fill('#explain-url', `${stack.workerUrl}/news`);
    await page.selectOption('#explain-method', 'GET');
    await page.click('#explain');
    await page.locator('#explain-ruleset').filter({ hasText: 'plone.content.folderView' }).waitFor();
    await shot('explain');
  });

  it('Purge removes a cached page', STEP, async () => {
    // Cache /news: the second (or a following) request is a hit.
    await get('/news');
    let last = await get('/news');
    for (let i = 0; i < 10 && !last.cacheStatus.includes('hit'); i += 1) {
      await new Promise((r) => setTimeout(r, 200));
      last = await get('/news');
    }
    assert.equal(last.status, 200);
    assert.match(last.cacheStatus, /hit/, `cached before purge (Cache-Status: ${last.cacheStatus})`);
    const hitsBefore = await stack.originHits('/news');

    await openTab('purge');
    await page.fill('#purge-urls', '/news');
    await page.check('input[name="purge-kind"][value="hard"]');
    await page.click('#purge');
    await page.locator('#purge-result').waitFor({ state: 'visible' });
    const id = (await page.textContent('#purge-id')).trim();
    assert.ok(id && id !== '—', `purge id shown (${id})`);
    assert.match(await page.textContent('#purge-result'), /\/news/);
    await shot('purge');

    const after = await get('/news');
    assert.equal(after.status, 200);
    assert.match(after.cacheStatus, /fwd=/, `miss after purge (Cache-Status: ${after.cacheStatus})`);
    assert.ok((await stack.originHits('/news')) > hitsBefore, 'origin asked again');
  });

  it('Stats shows a row for plone.content.folderView', STEP, async () => {
    await openTab('stats');
    await page.click('#stats-refresh');
    await page.locator('#stats-table tbody tr').filter({ hasText: 'plone.content.folderView' }).waitFor();
    assert.match(await page.textContent('#stats-scope'), /this isolate/);
    await page.locator('#memory-meter').waitFor();
    assert.ok((await page.locator('#stats-body svg rect').count()) >= 1, 'chart drawn');
    // The fleet's figures arrive once this isolate has flushed (STATS_FLUSH_MS, on the back of
    // a request): refreshed until the ruleset shows there too.
    let fleetRow = 0;
    for (let i = 0; i < 20 && !fleetRow; i += 1) {
      await new Promise((r) => setTimeout(r, 700));
      await page.click('#stats-refresh');
      await page.locator('#fleet-table').waitFor();
      fleetRow = await page.locator('#fleet-table tbody tr').filter({ hasText: 'plone.content.folderView' }).count();
    }
    assert.ok(fleetRow, 'the fleet table shows the ruleset');
    assert.match(await page.textContent('#fleet-locations'), /PANEL/);
    assert.ok((await page.locator('#fleet-minutes rect').count()) >= 1, 'hit ratio per minute drawn');
    await shot('stats');
  });

  it('tabs work from the keyboard with a roving tabindex', STEP, async () => {
    await openTab('settings');
    await page.focus('#tab-settings');
    const selected = () => page.evaluate(() => ({
      focused: document.activeElement.id,
      selected: [...document.querySelectorAll('[role="tab"][aria-selected="true"]')].map((t) => t.id),
      tabbable: [...document.querySelectorAll('[role="tab"]')].filter((t) => t.tabIndex === 0).map((t) => t.id),
      visible: [...document.querySelectorAll('[role="tabpanel"]')].filter((p) => !p.hidden).map((p) => p.id),
    }));
    const expect = async (name) => {
      assert.deepEqual(await selected(), {
        focused: `tab-${name}`,
        selected: [`tab-${name}`],
        tabbable: [`tab-${name}`],
        visible: [`panel-${name}`],
      });
    };
    await page.keyboard.press('ArrowRight');
    await expect('import');
    await page.keyboard.press('ArrowRight');
    await expect('purge');
    await page.keyboard.press('ArrowLeft');
    await expect('import');
    await page.keyboard.press('End');
    await expect('explain');
    await page.keyboard.press('ArrowRight');
    await expect('settings');
    await page.keyboard.press('ArrowLeft');
    await expect('explain');
    await page.keyboard.press('Home');
    await expect('settings');
    // Tab leaves the tablist for the panel.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'panel-settings');
  });

  it('is readable at 375 px', STEP, async () => {
    await page.setViewportSize(NARROW);
    for (const name of ['settings', 'stats']) {
      await openTab(name);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 1, `no horizontal page scroll on ${name} (${overflow}px)`);
    }
    await openTab('settings');
    await shot('settings-375');
    await page.setViewportSize(DESKTOP);
  });

  it('Lock forgets the secret', STEP, async () => {
    await page.click('#lock');
    await page.locator('#unlock').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#app').isVisible(), false);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('rulecache.secret')), null);
    await page.reload();
    await page.locator('#secret').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#app').isVisible(), false, 'still locked after reload');
  });

  it('logged no console errors or page errors', () => {
    assert.deepEqual(errors, []);
  });
});
