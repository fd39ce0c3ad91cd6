#!/usr/bin/env node
// Writes the table of fuzzing done so far into docs/src/testing.md (between
// `<!-- fuzz-stats:begin -->` and `<!-- fuzz-stats:end -->`) from fuzz/stats.json, which
// `make fuzz` (fuzz/run.mjs) adds every run to. Node 20, no dependencies.
//
//   node docs/gen-fuzzing.mjs            rewrite the section
//   node docs/gen-fuzzing.mjs --stdout   print it
//   node docs/gen-fuzzing.mjs --check    exit 1 when the page is not what stats.json gives
//                                        (run by `make docs-check`)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const statsPath = path.join(root, 'fuzz/stats.json');
const pagePath = path.join(root, 'docs/src/testing.md');
const BEGIN = '<!-- fuzz-stats:begin -->';
const END = '<!-- fuzz-stats:end -->';

const int = (v) => Math.round(v).toLocaleString('en-US');
const hours = (s) => (s / 3600).toFixed(2);
const kib = (b) => (b / 1024).toFixed(0);

function generate() {
  let stats;
  try {
    stats = JSON.parse(fs.readFileSync(statsPath, 'utf8'));
  } catch {
    return '\nNo fuzzing recorded yet (`fuzz/stats.json` is missing): run `make fuzz`.\n\n';
  }
  const rows = Object.entries(stats.targets ?? {});
  const total = rows.reduce(
    (a, [, s]) => ({ seconds: a.seconds + s.seconds, cpu: a.cpu + (s.cpu_seconds ?? 0), executions: a.executions + s.executions }),
    { seconds: 0, cpu: 0, executions: 0 },
  );
  const lines = [
    '',
    `Cumulative, over every recorded run (\`fuzz/stats.json\`): ${hours(total.seconds)} hours of fuzzing (${hours(total.cpu)} CPU hours: at nice 19 a fuzzer gets only the CPU other work leaves) and ${int(total.executions)} executions in all.`,
    '',
    '| target | hours run | CPU hours | executions | runs | corpus inputs | corpus KiB | crashes | last run |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map(([t, s]) =>
      `| \`${t}\` | ${hours(s.seconds)} | ${hours(s.cpu_seconds ?? 0)} | ${int(s.executions)} | ${s.runs} | ${int(s.corpus_files ?? 0)} | ${kib(s.corpus_bytes ?? 0)} | ${s.crashes} | ${s.last_run ?? ''} |`,
    ),
    '',
  ];
  return `${lines.join('\n')}\n`;
}

const page = fs.readFileSync(pagePath, 'utf8');
const begin = page.indexOf(BEGIN);
const end = page.indexOf(END);
const rel = path.relative(root, pagePath);
if (begin < 0 || end < begin || page.indexOf(BEGIN, begin + 1) >= 0 || page.indexOf(END, end + 1) >= 0) {
  console.error(`${rel}: needs exactly one "${BEGIN}" followed by one "${END}"`);
  process.exit(1);
}
const text = generate();
const next = page.slice(0, begin + BEGIN.length) + text + page.slice(end);
if (process.argv.includes('--stdout')) process.stdout.write(text);
else if (process.argv.includes('--check')) {
  if (next !== page) {
    console.error(`${rel}: the fuzzing table is not what fuzz/stats.json gives: run node docs/gen-fuzzing.mjs`);
    process.exit(1);
  }
} else if (next === page) console.log(`${rel}: fuzzing table unchanged`);
else {
  fs.writeFileSync(pagePath, next);
  console.log(`${rel}: fuzzing table written from fuzz/stats.json`);
}
