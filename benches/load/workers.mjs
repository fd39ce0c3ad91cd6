// The comparison workers of the load benchmark, by the id a result row carries: read by the
// benchmark's report and by the documentation's generated performance page.
export const WORKERS = {
  'js-fixed': 'plain JS fixed response',
  'js-forwarder': 'plain JS forwarder',
  'rust-forwarder': 'plain Rust forwarder',
  'js-edge-cache': 'plain JS edge cache',
  'js-caches-default-hit': 'plain JS caches.default hit',
  'js-same-answer': 'plain JS same answer',
};
