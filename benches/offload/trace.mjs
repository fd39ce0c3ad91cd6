// The offload benchmark's traffic: a seeded, deterministic trace over a site's URLs. The same
// seed, size and site give the same trace, request for request, whatever replays it.
//
// A site is { pages, listings, images, files, statics, crawl(i), members } (paths; members are
// user names). The trace mixes:
// - anonymous visitors (some with analytics cookies), reading pages with Zipf popularity,
//   listings, static resources, images and files; some links carry tracking parameters
//   (utm_*, fbclid, gclid), some visits are conditional revisits (If-None-Match with the ETag
//   the visitor saw last) and some are HEAD;
// - logged-in members (the real login cookies, given by the runner) reading the same pages;
// - crawlers walking every page once and paginated listings (unique URLs);
// - edits through the CMS at a steady rate, to popular pages;
// - one origin outage window.
import { XorShift } from '../../tests/support/xorshift.mjs';

export const MIX = {
  /** Shares of the requests by audience. */
  audience: { anonymous: 0.72, member: 0.14, crawler: 0.14 },
  /** What an anonymous visitor asks for. */
  anonymous: { page: 0.5, listing: 0.06, static: 0.26, image: 0.12, file: 0.06 },
  /** What a member asks for. */
  member: { page: 0.62, listing: 0.08, static: 0.2, image: 0.1 },
  /** Of anonymous page and listing links: carrying a tracking parameter. */
  tracking: 0.2,
  /** Of page visits: a conditional revisit, and a HEAD. */
  revisit: 0.12,
  head: 0.03,
  /** Anonymous visitors carrying analytics cookies. */
  analyticsCookies: 0.4,
  /** Zipf exponent of page popularity. */
  zipf: 1.0,
  /** Distinct anonymous visitors. */
  visitors: 400,
  /** One edit every this many requests (fewer in a trace of under 5,000 requests: ten in
   * all), to one of the this many most popular pages. */
  editEvery: 500,
  editedTop: 100,
  /** The outage: from this share of the trace to that one. */
  outage: [0.6, 0.63],
};

class Rng extends XorShift {
  /** A float in [0, 1). */
  float() {
    return this.next() / 4294967296;
  }

  pick(xs) {
    return xs[this.below(xs.length)];
  }

  /** A key of `shares` ({ key: share }) chosen by its share. */
  choose(shares) {
    let x = this.float();
    const keys = Object.keys(shares);
    for (const k of keys) {
      x -= shares[k];
      if (x < 0) return k;
    }
    return keys[keys.length - 1];
  }
}

/** Cumulative Zipf weights over n ranks (rank 0 the most popular). */
function zipfCdf(n, s) {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i += 1) {
    total += 1 / (i + 1) ** s;
    cdf[i] = total;
  }
  for (let i = 0; i < n; i += 1) cdf[i] /= total;
  return cdf;
}

function zipfPick(rng, cdf) {
  const x = rng.float();
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Shuffles a copy of xs (Fisher–Yates) with rng. */
function shuffled(rng, xs) {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = rng.below(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function tracked(rng, path) {
  const id = () => rng.next().toString(36) + rng.next().toString(36);
  const params = [
    () => 'utm_source=newsletter&utm_medium=email&utm_campaign=weekly',
    () => `utm_source=twitter&utm_medium=social&utm_content=${rng.below(20)}`,
    () => `fbclid=IwAR${id()}`,
    () => `gclid=Cj0K${id()}`,
  ];
  return `${path}${path.includes('?') ? '&' : '?'}${rng.pick(params)()}`;
}

/**
 * The trace: { seed, requests, outage: { start, end } (request indexes), events } where each
 * event is a request { i, audience, visitor, method, path, kind, revisit, analytics } or an
 * edit { edit, path } placed before request i.
 */
export function generateTrace({ seed, requests, site, mix = MIX }) {
  const rng = new Rng(seed);
  // Popularity: a seeded permutation of the pages, so popular pages are spread over folders.
  const popular = shuffled(rng, site.pages);
  const cdf = zipfCdf(popular.length, mix.zipf);
  const listingCdf = zipfCdf(site.listings.length, mix.zipf);
  const staticCdf = zipfCdf(site.statics.length, mix.zipf);
  const imageCdf = zipfCdf(site.images.length, mix.zipf);
  const fileCdf = zipfCdf(site.files.length, mix.zipf);
  const outage = { start: Math.floor(requests * mix.outage[0]), end: Math.floor(requests * mix.outage[1]) };
  const editEvery = Math.max(10, Math.min(mix.editEvery, Math.floor(requests / 10)));
  const events = [];
  let crawled = 0;
  let edits = 0;
  for (let i = 0; i < requests; i += 1) {
    if (i > 0 && i % editEvery === 0 && (i < outage.start || i >= outage.end)) {
      events.push({ edit: edits, path: popular[rng.below(Math.min(mix.editedTop, popular.length))], i });
      edits += 1;
    }
    const audience = rng.choose(mix.audience);
    const ev = { i, audience, method: 'GET', revisit: false, analytics: false };
    if (audience === 'crawler') {
      ev.visitor = `crawler-${rng.below(3)}`;
      ev.kind = 'crawl';
      ev.path = site.crawl(crawled);
      crawled += 1;
    } else {
      const kind = rng.choose(audience === 'member' ? mix.member : mix.anonymous);
      ev.kind = kind;
      ev.visitor = audience === 'member' ? rng.pick(site.members) : `visitor-${rng.below(mix.visitors)}`;
      if (kind === 'page') ev.path = popular[zipfPick(rng, cdf)];
      else if (kind === 'listing') ev.path = site.listings[zipfPick(rng, listingCdf)];
      else if (kind === 'static') ev.path = site.statics[zipfPick(rng, staticCdf)];
      else if (kind === 'image') ev.path = site.images[zipfPick(rng, imageCdf)];
      else ev.path = site.files[zipfPick(rng, fileCdf)];
      if (kind === 'page' || kind === 'listing') {
        const r = rng.float();
        if (r < mix.revisit) ev.revisit = true;
        else if (r < mix.revisit + mix.head) ev.method = 'HEAD';
        if (audience === 'anonymous' && rng.float() < mix.tracking) ev.path = tracked(rng, ev.path);
      }
      if (audience === 'anonymous') {
        // A visitor keeps or lacks analytics cookies for the whole trace.
        const n = Number(ev.visitor.slice(8));
        ev.analytics = ((n * 2654435761) >>> 0) / 4294967296 < mix.analyticsCookies;
      }
    }
    events.push(ev);
  }
  return { seed, requests, outage, edits, events };
}
