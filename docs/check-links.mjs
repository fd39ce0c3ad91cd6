#!/usr/bin/env node
// Checks the documentation without network and without mdBook (run by `make docs-check`, part
// of `make lint`):
// - every relative link in README.md and docs/src/*.md points at a file that exists, and its
//   `#anchor` at a heading of that file, slugged as mdBook and GitHub slug them (lower case;
//   letters, digits, `-` and `_` kept; whitespace to `-`; the rest dropped; `-1`, `-2`… for
//   repeats; `{#id}` sets an id);
// - links from the book's pages stay inside docs/src (the built site holds nothing else);
// - every page in docs/src is listed in SUMMARY.md;
// - docs/src/performance.md keeps its generated-section markers;
// - README.md stays under 20,000 bytes.
// Node 20, no dependencies. Prints every problem and exits 1 when there is one.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'docs/src');
const README_LIMIT = 20_000;
const problems = [];
const rel = (p) => path.relative(root, p);

/** The lines of a Markdown file outside fenced code blocks, each with its line number. */
function proseLines(text) {
  const out = [];
  let fence = null;
  text.split('\n').forEach((line, i) => {
    const m = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence) {
      // A closing fence: the same character, at least as many, nothing after it.
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length && /^ {0,3}[`~]+\s*$/.test(line)) fence = null;
      return;
    }
    if (m) {
      fence = m[1];
      return;
    }
    out.push({ line, n: i + 1 });
  });
  return out;
}

/** The line with its inline code spans blanked out (links inside code are not links). */
function withoutCode(line) {
  return line.replace(/(`+)([\s\S]*?)\1/g, (_, ticks, body) => ' '.repeat(ticks.length * 2 + body.length));
}

/** The text a heading shows: code spans keep their content, links their text, emphasis goes. */
function headingText(raw) {
  const spans = [];
  let s = raw.replace(/(`+)\s?([\s\S]*?)\s?\1/g, (_, t, body) => {
    spans.push(body);
    return `\u0000${spans.length - 1}\u0000`;
  });
  s = s
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/\*+/g, '')
    .replace(/\\([!-/:-@[-`{-~])/g, '$1');
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => spans[Number(i)]);
}

function slug(text) {
  let out = '';
  for (const ch of text.trim().toLowerCase()) {
    if (/[\p{L}\p{N}_-]/u.test(ch)) out += ch;
    else if (/\s/u.test(ch)) out += '-';
  }
  return out;
}

const anchorCache = new Map();
/** The ids of a Markdown file's headings (ATX and setext). */
function anchors(file) {
  if (anchorCache.has(file)) return anchorCache.get(file);
  const ids = new Set();
  const used = new Set();
  const add = (raw) => {
    const custom = /\s*\{#([^}\s]+)\}\s*$/.exec(raw);
    let id = custom ? custom[1] : slug(headingText(raw));
    if (!custom && used.has(id)) {
      let k = 1;
      while (used.has(`${id}-${k}`)) k += 1;
      id = `${id}-${k}`;
    }
    used.add(id);
    ids.add(id);
  };
  const lines = proseLines(fs.readFileSync(file, 'utf8'));
  lines.forEach(({ line }, i) => {
    const atx = /^ {0,3}#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*$/.exec(line);
    if (atx) {
      add(atx[1] ?? '');
      return;
    }
    const prev = lines[i - 1];
    if (/^ {0,3}(=+|-+)\s*$/.test(line) && prev && prev.n === lines[i].n - 1 && prev.line.trim() && !/^ {0,3}([#>|*+-]|\d+[.)]\s)/.test(prev.line)) add(prev.line.trim());
  });
  anchorCache.set(file, ids);
  return ids;
}

/** Every link target in a Markdown file: inline links and images, reference definitions. */
function links(text) {
  const out = [];
  for (const { line, n } of proseLines(text)) {
    const bare = withoutCode(line);
    const def = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+["'(].*)?\s*$/.exec(bare);
    if (def) out.push({ target: def[1], n });
    const inline = /!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g;
    for (let m = inline.exec(bare); m; m = inline.exec(bare)) out.push({ target: m[1], n });
  }
  return out;
}

function checkFile(file) {
  const inBook = file.startsWith(src + path.sep);
  let count = 0;
  for (const { target, n } of links(fs.readFileSync(file, 'utf8'))) {
    count += 1;
    const where = `${rel(file)}:${n}`;
    if (target === '') {
      problems.push(`${where}: empty link`);
      continue;
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue; // external: no network here
    const hash = target.indexOf('#');
    const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
    const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
    const dest = pathPart ? path.resolve(path.dirname(file), pathPart) : file;
    if (!fs.existsSync(dest)) {
      problems.push(`${where}: ${target}: no such file`);
      continue;
    }
    if (inBook && !dest.startsWith(src + path.sep)) {
      problems.push(`${where}: ${target}: outside docs/src, so missing from the built book (name the file as code instead)`);
      continue;
    }
    if (anchor !== null) {
      if (!dest.endsWith('.md')) problems.push(`${where}: ${target}: an anchor into a file that is not Markdown`);
      else if (!anchors(dest).has(anchor)) problems.push(`${where}: ${target}: no heading "#${anchor}" in ${rel(dest)}`);
    }
  }
  return count;
}

const pages = fs.readdirSync(src).filter((f) => f.endsWith('.md')).sort();
const files = [path.join(root, 'README.md'), ...pages.map((f) => path.join(src, f))];
let total = 0;
for (const f of files) total += checkFile(f);

// Every page is in SUMMARY.md, once.
const summary = path.join(src, 'SUMMARY.md');
if (!fs.existsSync(summary)) problems.push('docs/src/SUMMARY.md: missing');
else {
  const listed = links(fs.readFileSync(summary, 'utf8')).map((l) => path.normalize(l.target.split('#')[0]));
  for (const p of pages) {
    if (p === 'SUMMARY.md') continue;
    const times = listed.filter((l) => l === p).length;
    if (times === 0) problems.push(`docs/src/${p}: not listed in docs/src/SUMMARY.md`);
    if (times > 1) problems.push(`docs/src/${p}: listed ${times} times in docs/src/SUMMARY.md`);
  }
}

// The generated section of the performance page.
const perf = path.join(src, 'performance.md');
if (fs.existsSync(perf)) {
  const text = fs.readFileSync(perf, 'utf8');
  const b = text.split('<!-- generated:begin -->').length - 1;
  const e = text.split('<!-- generated:end -->').length - 1;
  if (b !== 1 || e !== 1 || text.indexOf('<!-- generated:begin -->') > text.indexOf('<!-- generated:end -->')) {
    problems.push('docs/src/performance.md: needs one "<!-- generated:begin -->" followed by one "<!-- generated:end -->" (docs/gen-performance.mjs writes between them)');
  }
}

const readmeBytes = fs.statSync(path.join(root, 'README.md')).size;
if (readmeBytes > README_LIMIT) problems.push(`README.md: ${readmeBytes} bytes, more than ${README_LIMIT}: move reference material into docs/src`);

if (problems.length) {
  for (const p of problems) console.error(p);
  console.error(`docs: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
  process.exit(1);
}
console.log(`docs: ${total} links in ${files.length} files resolve; ${pages.length - 1} pages listed in SUMMARY.md; README.md ${readmeBytes} bytes`);
