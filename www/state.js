// What the panel holds while it is unlocked.

export const state = {
  policy: null, // GET api/policy answer
  profiles: null,
  loaded: new Set(),
};
