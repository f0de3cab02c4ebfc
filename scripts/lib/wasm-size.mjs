// Size figures of a wasm file, for scripts/size.
//   node scripts/lib/wasm-size.mjs sections FILE        raw and gzipped bytes of each section
//   twiggy top -n 1000000 -f csv FILE | node scripts/lib/wasm-size.mjs crates
//                                                       shallow bytes by crate (or area), largest first
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const SECTIONS = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start',
  'element', 'code', 'data', 'datacount', 'tag'];
// Generic code of the standard library is mostly instantiated for the app's own types.
const STD = new Set(['core', 'alloc', 'std']);

function sections(file) {
  const b = readFileSync(file);
  let p = 8;
  const leb = () => {
    let r = 0, s = 0, x;
    do { x = b[p++]; r += (x & 0x7f) * 2 ** s; s += 7; } while (x & 0x80);
    return r;
  };
  const rows = [];
  while (p < b.length) {
    const id = b[p++];
    const len = leb();
    const start = p;
    let name = SECTIONS[id] ?? `section ${id}`;
    if (id === 0) { const l = leb(); name = `custom "${b.subarray(p, p + l)}"`; }
    rows.push([name, len, gzipSync(b.subarray(start, start + len), { level: 9 }).length]);
    p = start + len;
  }
  rows.push(['whole file', b.length, gzipSync(b, { level: 9 }).length]);
  console.log(`${'section'.padEnd(34)}${'bytes'.padStart(10)}${'gzipped'.padStart(10)}`);
  for (const [name, raw, gz] of rows) console.log(`${name.padEnd(34)}${String(raw).padStart(10)}${String(gz).padStart(10)}`);
}

function area(name) {
  if (name.startsWith('data segment')) return '[data: constants, strings, tables]';
  if (/subsection|^custom section/.test(name)) return '[name section: not shipped]';
  if (name.includes('future_to_promise')) return '[async handlers, inlined into js_sys::future_to_promise]';
  const crate = name.match(/([A-Za-z_][A-Za-z0-9_]*)(?:\[[0-9a-f]+\])?::/)?.[1];
  if (!crate) return '[other: unnamed, glue, compiler builtins]';
  return STD.has(crate) ? '[core/alloc/std, mostly generic code for app types]' : crate;
}

function crates(csv) {
  const totals = new Map();
  for (const line of csv.split('\n').slice(1)) {
    const m = line.match(/^("(?:[^"]|"")*"|[^,]*),(\d+),/);
    if (!m) continue;
    const name = m[1].startsWith('"') ? m[1].slice(1, -1).replaceAll('""', '"') : m[1];
    const key = area(name);
    totals.set(key, (totals.get(key) ?? 0) + Number(m[2]));
  }
  const sum = [...totals.values()].reduce((a, b) => a + b, 0);
  console.log(`${'crate or area (shallow bytes, names kept)'.padEnd(58)}${'KB'.padStart(8)}${'%'.padStart(7)}`);
  for (const [key, bytes] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
    console.log(`${key.padEnd(58)}${(bytes / 1024).toFixed(1).padStart(8)}${((100 * bytes) / sum).toFixed(1).padStart(7)}`);
  }
}

const [mode, file] = process.argv.slice(2);
if (mode === 'sections') sections(file);
else if (mode === 'crates') crates(readFileSync(0, 'utf8'));
else throw new Error('usage: wasm-size.mjs sections FILE | wasm-size.mjs crates < twiggy.csv');
