// Resuming an answer parked on one promise from that promise's own `then` (see settle.rs).
// A promise dropped unsettled (its request cancelled) lets its answer go.
const unsettled = typeof FinalizationRegistry === 'undefined'
  ? null
  : new FinalizationRegistry(({ id, forget }) => forget(id));
export function resumeOn(promise, id, resume, forget) {
  const token = {};
  const settled = (v, ok) => {
    unsettled?.unregister(token);
    return resume(id, v, ok);
  };
  const onValue = (v) => settled(v, true);
  unsettled?.register(onValue, { id, forget }, token);
  return promise.then(onValue, (e) => settled(e, false));
}
