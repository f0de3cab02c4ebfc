// Reads what the tooling and the e2e harness need from wrangler.toml, and which names the built
// build/index.js exports. No dependencies: a small TOML-subset parser (tables, arrays of tables,
// dotted keys, strings, numbers, booleans, arrays, inline tables; no dates) is enough for wrangler.toml.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Parses the TOML subset wrangler.toml uses into plain objects. Throws on anything it cannot read. */
export function parseToml(text) {
  const s = String(text).replace(/\r\n/g, '\n');
  let i = 0;
  const lineAt = (pos) => s.slice(0, pos).split('\n').length;
  const fail = (msg) => { throw new Error(`TOML: ${msg} (line ${lineAt(i)})`); };
  const skipWs = () => { while (s[i] === ' ' || s[i] === '\t') i++; };
  const skipComment = () => { if (s[i] === '#') while (i < s.length && s[i] !== '\n') i++; };
  const skipAll = () => { // whitespace, newlines and comments (inside arrays / between statements)
    for (;;) {
      skipWs(); skipComment();
      if (s[i] === '\n') { i++; continue; }
      return;
    }
  };
  const escapes = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', '\\': '\\' };
  function basicString(multi) {
    let out = '';
    if (multi && s[i] === '\n') i++;
    for (;;) {
      if (i >= s.length) fail('unterminated string');
      if (multi ? s.startsWith('"""', i) : s[i] === '"') { i += multi ? 3 : 1; return out; }
      const c = s[i++];
      if (c === '\n' && !multi) fail('newline in string');
      if (c !== '\\') { out += c; continue; }
      const e = s[i++];
      if (e in escapes) out += escapes[e];
      else if (e === 'u' || e === 'U') {
        const n = e === 'u' ? 4 : 8;
        out += String.fromCodePoint(parseInt(s.slice(i, i + n), 16)); i += n;
      } else if (multi && /\s/.test(e)) { while (/\s/.test(s[i])) i++; } // line-ending backslash
      else fail(`bad escape \\${e}`);
    }
  }
  function literalString(multi) {
    const close = multi ? "'''" : "'";
    if (multi && s[i] === '\n') i++;
    const end = s.indexOf(close, i);
    if (end < 0) fail('unterminated string');
    const out = s.slice(i, end);
    if (!multi && out.includes('\n')) fail('newline in string');
    i = end + close.length;
    return out;
  }
  function key() {
    const parts = [];
    for (;;) {
      skipWs();
      if (s[i] === '"') { i++; parts.push(basicString(false)); }
      else if (s[i] === "'") { i++; parts.push(literalString(false)); }
      else {
        const m = /^[A-Za-z0-9_-]+/.exec(s.slice(i, i + 256));
        if (!m) fail('expected a key');
        parts.push(m[0]); i += m[0].length;
      }
      skipWs();
      if (s[i] !== '.') return parts;
      i++;
    }
  }
  function value() {
    skipWs();
    if (s.startsWith('"""', i)) { i += 3; return basicString(true); }
    if (s[i] === '"') { i++; return basicString(false); }
    if (s.startsWith("'''", i)) { i += 3; return literalString(true); }
    if (s[i] === "'") { i++; return literalString(false); }
    if (s[i] === '[') {
      i++;
      const arr = [];
      for (;;) {
        skipAll();
        if (s[i] === ']') { i++; return arr; }
        arr.push(value());
        skipAll();
        if (s[i] === ',') { i++; continue; }
        if (s[i] === ']') { i++; return arr; }
        fail('expected , or ] in array');
      }
    }
    if (s[i] === '{') {
      i++;
      const obj = {};
      skipWs();
      if (s[i] === '}') { i++; return obj; }
      for (;;) {
        const k = key();
        if (s[i] !== '=') fail('expected = in inline table');
        i++;
        assign(obj, k, value());
        skipWs();
        if (s[i] === ',') { i++; continue; }
        if (s[i] === '}') { i++; return obj; }
        fail('expected , or } in inline table');
      }
    }
    const m = /^[^\s,\]}#]+/.exec(s.slice(i, i + 256));
    if (!m) fail('expected a value');
    i += m[0].length;
    const tok = m[0];
    if (tok === 'true') return true;
    if (tok === 'false') return false;
    if (/^[+-]?(\d[\d_]*)(\.\d[\d_]*)?([eE][+-]?\d+)?$/.test(tok)) return Number(tok.replace(/_/g, ''));
    if (/^[+-]?0x[0-9a-fA-F_]+$/.test(tok)) return Number.parseInt(tok.replace(/_/g, ''), 16);
    if (/^[+-]?(inf|nan)$/.test(tok)) return tok.endsWith('inf') ? (tok[0] === '-' ? -Infinity : Infinity) : NaN;
    if (/^\d{4}-\d{2}-\d{2}/.test(tok)) return tok; // dates/times kept as text
    fail(`cannot read value ${JSON.stringify(tok)}`);
  }
  function descend(obj, k) {
    if (obj[k] === undefined) obj[k] = {};
    let v = obj[k];
    if (Array.isArray(v)) v = v[v.length - 1];
    if (typeof v !== 'object' || v === null) fail(`key ${k} is not a table`);
    return v;
  }
  function assign(obj, keys, v) {
    let t = obj;
    for (const k of keys.slice(0, -1)) t = descend(t, k);
    const last = keys[keys.length - 1];
    if (Object.prototype.hasOwnProperty.call(t, last)) fail(`duplicate key ${keys.join('.')}`);
    t[last] = v;
  }
  const root = {};
  let current = root;
  for (;;) {
    skipAll();
    if (i >= s.length) return root;
    if (s.startsWith('[[', i)) {
      i += 2;
      const path = key();
      if (!s.startsWith(']]', i)) fail('expected ]]');
      i += 2;
      let t = root;
      for (const k of path.slice(0, -1)) t = descend(t, k);
      const last = path[path.length - 1];
      if (t[last] === undefined) t[last] = [];
      if (!Array.isArray(t[last])) fail(`${path.join('.')} is not an array of tables`);
      current = {};
      t[last].push(current);
    } else if (s[i] === '[') {
      i++;
      const path = key();
      if (s[i] !== ']') fail('expected ]');
      i++;
      let t = root;
      for (const k of path) t = descend(t, k);
      current = t;
    } else {
      const k = key();
      if (s[i] !== '=') fail('expected =');
      i++;
      assign(current, k, value());
    }
    skipWs(); skipComment();
    if (i < s.length && s[i] !== '\n') fail('expected end of line');
  }
}

/** The parts of wrangler.toml the harness needs, with wrangler's defaults. */
export function readWranglerConfig(root = ROOT) {
  const path = join(root, 'wrangler.toml');
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${path}: ${e.message}`);
  }
  const toml = parseToml(text);
  const d1 = Array.isArray(toml.d1_databases) ? toml.d1_databases : [];
  const doBindings = toml.durable_objects?.bindings;
  return {
    toml,
    main: toml.main ?? 'build/index.js',
    compatibilityDate: toml.compatibility_date,
    compatibilityFlags: toml.compatibility_flags ?? [],
    vars: toml.vars ?? {},
    durableObjects: (Array.isArray(doBindings) ? doBindings : []).map((b) => ({
      name: b.name,
      className: b.class_name,
      scriptName: b.script_name,
    })),
    // Rate limiting bindings ([[ratelimits]]), as Miniflare's `ratelimits` option takes them.
    ratelimits: Object.fromEntries(
      (Array.isArray(toml.ratelimits) ? toml.ratelimits : []).map((r) => [r.name, { simple: { ...r.simple } }]),
    ),
    // Static assets ([assets]): the dispatcher console.
    assets: toml.assets?.directory
      ? {
        directory: toml.assets.directory,
        htmlHandling: toml.assets.html_handling,
        notFoundHandling: toml.assets.not_found_handling,
      }
      : null,
    d1Databases: d1.map((d) => ({
      binding: d.binding,
      databaseName: d.database_name,
      migrationsDir: d.migrations_dir ?? 'migrations',
    })),
  };
}

/**
 * Every `class_name` of a Durable Object binding in wrangler.toml (top level and [env.*]) whose
 * class lives in this Worker, i.e. bindings without `script_name`.
 */
export function durableObjectClassNames(toml) {
  const names = new Set();
  const collect = (t) => {
    const bindings = t?.durable_objects?.bindings;
    for (const b of Array.isArray(bindings) ? bindings : []) {
      if (b && typeof b.class_name === 'string' && !b.script_name) names.add(b.class_name);
    }
  };
  collect(toml);
  for (const env of Object.values(toml.env ?? {})) collect(env);
  return [...names];
}

/**
 * The names an ES module exports, read from its text (the module is not loaded: build/index.js
 * imports cloudflare:workers and a .wasm file, which Node cannot load). Understands what esbuild
 * emits for worker-build (minified: `export{a as RideDo,b as default};`) and the unminified forms
 * (`export class X`, `export const X =`, `export function X`, `export { a as X }`).
 * The text is scanned as is, like worker-build does itself (a string literal that looks like an
 * export statement would count; the generated glue has none). `export * from` cannot be resolved
 * from text and is reported as `.star` on the result.
 */
export function exportedNames(jsText) {
  const src = String(jsText);
  const names = new Set();
  let star = false;
  const ident = '[A-Za-z_$][\\w$]*';
  // `export` at a statement boundary (start, whitespace, ; } ) ), not `x.export` or `exports`.
  const re = new RegExp(`(?:^|[\\s;})])export\\s*(\\{[^{}]*\\}|\\*|default\\b|(?:async\\s+)?function\\s*\\*?\\s*(${ident})|class\\s+(${ident})|(?:const|let|var)\\s+(${ident}))`, 'g');
  const spec = new RegExp(`^(?:${ident}|"[^"]*"|'[^']*')(?:\\s+as\\s+(${ident}|"[^"]*"|'[^']*'))?$`);
  for (const m of src.matchAll(re)) {
    const what = m[1];
    if (what.startsWith('{')) {
      for (const part of what.slice(1, -1).split(',')) {
        const t = part.trim();
        const sm = spec.exec(t);
        if (!sm) continue; // not an export specifier: some other `export{` lookalike
        names.add((sm[1] ?? t).replace(/^["']|["']$/g, ''));
      }
    } else if (what === '*') star = true;
    else if (what.startsWith('default')) names.add('default');
    else names.add(m[2] ?? m[3] ?? m[4]);
  }
  const result = [...names];
  result.star = star;
  return result;
}
