// Hit ratios and purge-to-visible times of the worker in front of the real Plone and Django
// sites (run by `make e2e-measure`, which starts them). Bounded: a fixed number of requests
// and edits, all to loopback. Writes bench-results/e2e.json and prints a summary.
import fs from 'node:fs';
import path from 'node:path';
import {
  PLONE, DJANGO, SECRET, root, users, reachable, startWorker, get, isHit, ploneLogin, ploneRegistry, until, ploneEditText,
} from './support.mjs';

const ROUNDS = Number(process.env.E2E_ROUNDS ?? 20);
const EDITS = Number(process.env.E2E_EDITS ?? 5);

function ratio(xs) {
  const hits = xs.filter(isHit).length;
  return { requests: xs.length, hits, ratio: xs.length ? +(hits / xs.length).toFixed(3) : 0 };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function plone() {
  await reachable(`${PLONE}/Plone`, 'Plone');
  const worker = await startWorker({ originUrl: PLONE, profile: 'plone6-splitviews.json' });
  try {
    await ploneRegistry({
      'plone.cachepurging.interfaces.ICachePurgingSettings.cachingProxies': [`http://purge:${SECRET}@${new URL(worker.url).host}`],
    });
    const pages = ['/Plone', '/Plone/news', '/Plone/events', '/Plone/folder1', '/Plone/folder1/item1', '/Plone/doc1'];
    const home = await get(worker.url, '/Plone');
    const resources = [...new Set([...home.body.matchAll(/(?:href|src)="http:\/\/[^/"]+(\/Plone\/\+\+[^"]+)"/g)].map((m) => m[1]))].slice(0, 6);
    const member = await ploneLogin(worker.url, 'member1');
    const anon = [];
    const logged = [];
    for (let i = 0; i < ROUNDS; i += 1) {
      for (const p of [...pages, ...resources]) anon.push(await get(worker.url, p));
      for (const p of pages.slice(0, 3)) logged.push(await get(worker.url, p, { cookie: member.ac }));
    }
    const crossed = logged.filter((x) => !x.body.includes(users.member1.fullname)).length;
    const times = [];
    for (let i = 0; i < EDITS; i += 1) {
      await get(worker.url, '/Plone/doc1');
      const text = `Measured edit ${Date.now()}-${i}`;
      const t0 = Date.now();
      await ploneEditText(PLONE, '/Plone/doc1', 'editor1', `<p>${text}</p>`);
      const saved = Date.now();
      const seen = await until(async () => (await get(worker.url, '/Plone/doc1')).body.includes(text), { everyMs: 20, limitMs: 20_000 });
      times.push({ saveMs: saved - t0, visibleAfterSaveMs: seen.value ? seen.elapsedMs : null });
    }
    return {
      anonymous: ratio(anon),
      anonymousPages: ratio(anon.filter((_, i) => i % (pages.length + resources.length) < pages.length)),
      loggedIn: { ...ratio(logged), pagesWithoutTheirName: crossed },
      resources: resources.length,
      purgeToVisibleMs: times,
      purgeToVisibleMedianMs: median(times.map((t) => t.visibleAfterSaveMs ?? Infinity)),
    };
  } finally {
    await worker.stop();
  }
}

async function django() {
  await reachable(`${DJANGO}/`, 'Django');
  const worker = await startWorker({ originUrl: DJANGO, profile: 'django.json' });
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'target/e2e/django-state/static/staticfiles.json'), 'utf8'));
    const pages = ['/', '/cached/', `/static/${manifest.paths['e2e/site.css']}`];
    const cookieSets = [undefined, '_ga=GA1.2.3', 'csrftoken=abcdefabcdefabcdefabcdefabcdefab; _ga=GA1.9'];
    const anon = [];
    for (let i = 0; i < ROUNDS; i += 1) {
      for (const p of pages) for (const c of cookieSets) anon.push(await get(worker.url, p, c ? { cookie: c } : {}));
    }
    return { anonymous: ratio(anon) };
  } finally {
    await worker.stop();
  }
}

const result = { rounds: ROUNDS, plone: await plone(), django: await django() };
fs.mkdirSync(path.join(root, 'bench-results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench-results/e2e.json'), `${JSON.stringify(result, null, 2)}\n`);
const p = result.plone;
console.log(`Plone anonymous: ${p.anonymous.hits}/${p.anonymous.requests} hits (${p.anonymous.ratio}); pages only ${p.anonymousPages.ratio}; resources ${p.resources}`);
console.log(`Plone logged in: ${p.loggedIn.hits}/${p.loggedIn.requests} hits, ${p.loggedIn.pagesWithoutTheirName} pages without the member's name`);
console.log(`Plone purge-to-visible after the save returned (ms): ${p.purgeToVisibleMs.map((t) => t.visibleAfterSaveMs).join(', ')} (median ${p.purgeToVisibleMedianMs})`);
console.log(`Django anonymous: ${result.django.anonymous.hits}/${result.django.anonymous.requests} hits (${result.django.anonymous.ratio})`);
