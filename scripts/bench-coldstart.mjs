#!/usr/bin/env node
// Cold start of the built Worker (prints figures; asserts nothing). Each run starts a fresh workerd
// through Miniflare (as the e2e tests do) and times:
//   start          new Miniflare → ready (workerd up, the Worker's modules loaded, its wasm compiled)
//                  (the D1 migrations are applied after the first request, outside every figure)
//   first health   the first `GET /health` after that: the isolate's first request
//   first authed   then the first `GET /v1/rides` with a token: the first JWT check and D1 read
// and, as the floor of `start`, the same start of a one-line JavaScript Worker: start minus floor is
// what loading the Worker's modules (mostly compiling its wasm) costs. Build first (scripts/build).
// (Node's own V8 cannot compile the wasm: it uses exception-handling opcodes Node 20 lacks.)
//
//   node scripts/bench-coldstart.mjs [--runs 15] [--root DIR]
//     --root DIR   another checkout's root (its build/ and wrangler.toml), e.g. an older commit
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { parseArgs } from 'node:util';
import { applyMigrations, startWorker, token } from '../tests/e2e/helpers.mjs';
import { ROOT } from './lib/worker-config.mjs';

const { values: opts } = parseArgs({
  options: { runs: { type: 'string', default: '15' }, root: { type: 'string', default: ROOT } },
});
const RUNS = Math.max(1, Math.min(Number(opts.runs) || 15, 50));

function summary(list) {
  const s = [...list].sort((a, b) => a - b);
  const f = (ms) => ms.toFixed(1).padStart(8);
  return `${f(s[0])} ${f(s[Math.floor(s.length / 2)])} ${f(s[s.length - 1])}`;
}

async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return [performance.now() - t0, value];
}

async function oneRun() {
  const [start, worker] = await timed(() => startWorker({ root: opts.root, migrate: false }));
  try {
    const [health, res] = await timed(() => worker.fetch('/health'));
    if (res.status !== 200) throw new Error(`GET /health answered ${res.status}`);
    await res.arrayBuffer();
    await applyMigrations(worker.db, join(opts.root, 'migrations'));
    const auth = { headers: { authorization: `Bearer ${token('passenger', 'cold-1')}` } };
    const [authed, res2] = await timed(() => worker.fetch('/v1/rides', auth));
    if (res2.status !== 200) throw new Error(`GET /v1/rides answered ${res2.status}: ${await res2.text()}`);
    await res2.arrayBuffer();
    return { start, health, authed };
  } finally {
    await worker.close();
  }
}

/** Start of a one-line JavaScript Worker and its first request: what workerd costs on its own. */
async function floorRun() {
  const script = 'export default { fetch() { return new Response("ok"); } }';
  const [start, mf] = await timed(async () => {
    const mf = new Miniflare({ host: '127.0.0.1', port: 0, modules: true, script, compatibilityDate: '2026-04-20' });
    await mf.ready;
    return mf;
  });
  await mf.dispose();
  return start;
}

const wasmBytes = statSync(join(opts.root, 'build', 'index_bg.wasm')).size;
const figures = { start: [], health: [], authed: [], floor: [] };
for (let i = 0; i < RUNS; i++) {
  if (process.stderr.isTTY) process.stderr.write(`\rcold start run ${i + 1}/${RUNS}`);
  const run = await oneRun();
  for (const key of ['start', 'health', 'authed']) figures[key].push(run[key]);
  figures.floor.push(await floorRun());
}
if (process.stderr.isTTY) process.stderr.write('\n');
console.log(`${opts.root}: build/index_bg.wasm ${wasmBytes} bytes, ${RUNS} runs`);
console.log(`${'ms'.padEnd(30)}      min   median      max`);
console.log(`${'start (Miniflare ready)'.padEnd(30)}${summary(figures.start)}`);
console.log(`${'first GET /health'.padEnd(30)}${summary(figures.health)}`);
console.log(`${'first GET /v1/rides (JWT, D1)'.padEnd(30)}${summary(figures.authed)}`);
console.log(`${'floor: start of a JS Worker'.padEnd(30)}${summary(figures.floor)}`);
