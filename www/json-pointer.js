// Where each JSON Pointer starts in a JSON text, so that an error about a path can select its
// line in the editor.

/**
 * Parse JSON text and record where each JSON Pointer starts: for object
 * members the offset of the key, for array items the offset of the value.
 */
export function locate(src) {
  const map = new Map();
  let i = 0;
  const ws = () => {
    while (i < src.length && ' \t\n\r'.includes(src[i])) i += 1;
  };
  const esc = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');
  const str = () => {
    const start = i;
    i += 1;
    while (i < src.length && src[i] !== '"') i += src[i] === '\\' ? 2 : 1;
    i += 1;
    return JSON.parse(src.slice(start, i));
  };
  const value = (ptr) => {
    ws();
    const c = src[i];
    if (c === '{') {
      i += 1;
      ws();
      if (src[i] === '}') { i += 1; return; }
      for (;;) {
        ws();
        const at = i;
        const key = str();
        const p = `${ptr}/${esc(key)}`;
        map.set(p, at);
        ws();
        i += 1; // ':'
        value(p);
        ws();
        if (src[i] === ',') { i += 1; continue; }
        if (src[i] === '}') { i += 1; return; }
        throw new Error('bad object');
      }
    } else if (c === '[') {
      i += 1;
      ws();
      if (src[i] === ']') { i += 1; return; }
      for (let n = 0; ; n += 1) {
        ws();
        map.set(`${ptr}/${n}`, i);
        value(`${ptr}/${n}`);
        ws();
        if (src[i] === ',') { i += 1; continue; }
        if (src[i] === ']') { i += 1; return; }
        throw new Error('bad array');
      }
    } else if (c === '"') {
      str();
    } else {
      const m = /^-?[\w.+-]+/.exec(src.slice(i, i + 64));
      if (!m) throw new Error('bad value');
      i += m[0].length;
    }
  };
  map.set('', 0);
  value('');
  return map;
}

/** Offset for a JSON Pointer: exact, else its nearest existing ancestor, else a text search for the last key. */
export function findPath(positions, path, source) {
  if (positions) {
    let p = path;
    for (;;) {
      if (positions.has(p)) return positions.get(p);
      if (!p) break;
      p = p.slice(0, p.lastIndexOf('/'));
    }
  }
  const last = path.split('/').pop();
  if (last && !/^\d+$/.test(last)) {
    const key = last.replace(/~1/g, '/').replace(/~0/g, '~');
    const at = source.indexOf(JSON.stringify(key));
    if (at >= 0) return at;
  }
  return undefined;
}
