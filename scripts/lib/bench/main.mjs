// scripts/bench: the fleet benchmark. See README.md ("Benchmark") and `scripts/bench --help`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDotVars } from '../jwt.mjs';
import { ROOT } from '../worker-config.mjs';
import { closeFleet, connectFleet, Driver, keepAlive, registerFleet, Tracker } from './fleet.mjs';
import { completeRides, rampPhase, rampRates, ridePhase } from './measure.mjs';
import { figures, gitCommit, machine, notes, ratios, table, wasmSize, writeResults } from './report.mjs';
import { startMiniflare, startWrangler } from './servers.mjs';
import { cpuOthers, cpuSnapshot, progress, progressDone, round1 } from './util.mjs';

const USAGE = `usage: scripts/bench [options]
  --fleet 100,1000,5000     fleet sizes, one run each (default all three)
  --baseline                also run ../shared/perf/baseline-js (bare JS) through the same fleet; print ratios
  --url URL                 benchmark a ridewire already running there (e.g. scripts/dev) instead of starting one
  --baseline-url URL        the same for the baseline (implies --baseline)
  --wrangler-dev            run the Workers under \`wrangler dev\` (default: workerd through Miniflare, the same
                            runtime without wrangler's dev proxy, which needs ~6 open files a socket)
  --no-build                use build/ as it is (default: scripts/build when build/ is missing or stale)
  --root DIR                benchmark another checkout's ridewire (its build/ and wrangler.toml, as they are),
                            e.g. a worktree of an older commit, to compare commits
  --rides N                 rides accepted by one driver, per fleet (default 40; at most 40% of the fleet)
  --races N                 5-way accept races, per fleet (default 10; at most 10% of the fleet)
  --no-ramp                 skip the location ramp
  --ramp-start N            first location rate, msgs/s (default 500); each step ×1.5
  --ramp-max N              highest location rate tried (default: 15 msgs/s per driver, under the 20/s socket limit)
  --step-s S                seconds per ramp step (default 3)
  --step-rides N            rides per ramp step, for its dispatch p99 (default 5)
  --connect-concurrency N   socket handshakes in flight while connecting (default 50)
  --out DIR                 where the JSON goes, relative to the repo (default bench/results)
  -h, --help`;

const { values: opts } = parseArgs({
  options: {
    fleet: { type: 'string', default: '100,1000,5000' },
    baseline: { type: 'boolean', default: false },
    url: { type: 'string' },
    'baseline-url': { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    'wrangler-dev': { type: 'boolean', default: false },
    root: { type: 'string' },
    rides: { type: 'string', default: '40' },
    races: { type: 'string', default: '10' },
    'no-ramp': { type: 'boolean', default: false },
    'ramp-start': { type: 'string', default: '500' },
    'ramp-max': { type: 'string' },
    'step-s': { type: 'string', default: '3' },
    'step-rides': { type: 'string', default: '5' },
    'connect-concurrency': { type: 'string', default: '50' },
    out: { type: 'string', default: 'bench/results' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
function fail(msg) {
  process.stderr.write(`bench: ${msg}\n${USAGE}\n`);
  process.exit(2);
}
const int = (name, min, max) => {
  const n = Number(opts[name]);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer in [${min}, ${max}]`);
  return n;
};
const fleets = opts.fleet.split(',').map((s) => Number(s.trim()));
if (fleets.some((n) => !Number.isInteger(n) || n < 20 || n > 20_000)) fail('--fleet takes sizes from 20 to 20000, comma-separated');
const localOnly = (u, name) => {
  let parsed;
  try {
    parsed = new URL(u);
  } catch {
    fail(`${name} is not a URL`);
  }
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) fail(`${name} must be on localhost (the benchmark floods what it targets)`);
  return parsed.origin;
};
const withBaseline = opts.baseline || Boolean(opts['baseline-url']);
const settings = {
  rides: int('rides', 1, 1000),
  races: int('races', 0, 1000),
  rampStart: int('ramp-start', 10, 1_000_000),
  rampMax: opts['ramp-max'] === undefined ? null : int('ramp-max', 10, 1_000_000),
  stepS: int('step-s', 1, 60),
  stepRides: int('step-rides', 1, 100),
  connectConcurrency: int('connect-concurrency', 1, 1000),
};
const PER_DRIVER_MAX = 15; // msgs/s; ridewire drops frames past 20 a second per socket

const wrangler = join(ROOT, 'node_modules', '.bin', 'wrangler');
if (opts['wrangler-dev'] && !existsSync(wrangler)) {
  fail(`${wrangler} not found: run scripts/setup first`);
}

/** ridewire's JWT secret, as scripts/token finds it: $JWT_SECRET, .dev.vars, .dev.vars.example. */
function ridewireSecret() {
  if (process.env.JWT_SECRET) return process.env.JWT_SECRET;
  for (const f of ['.dev.vars', '.dev.vars.example']) {
    const p = join(ROOT, f);
    if (existsSync(p)) {
      const s = parseDotVars(readFileSync(p, 'utf8')).JWT_SECRET;
      if (s) return s;
    }
  }
  throw new Error('no JWT_SECRET in the environment, .dev.vars or .dev.vars.example');
}
const BASELINE_DIR = resolve(ROOT, '../shared/perf/baseline-js');

const RIDEWIRE_DIR = opts.root ? resolve(opts.root) : ROOT;
if (opts.root && !existsSync(join(RIDEWIRE_DIR, 'build', 'index.js'))) fail(`${RIDEWIRE_DIR}/build/index.js not found: build that checkout first`);

function build() {
  if (opts['no-build'] || opts.url || opts.root) return;
  process.stderr.write('bench: scripts/build (skipped when build/ is newer than the sources)\n');
  const r = spawnSync(join(ROOT, 'scripts', 'build'), [], {
    cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, RIDEWIRE_BUILD_SKIP_IF_FRESH: '1' },
  });
  if (r.status !== 0) throw new Error('scripts/build failed (run scripts/setup first on a fresh clone)');
}

/** Starts (or names) the target; returns {label, url, secret, ridewire, close}. */
async function target(kind, onProgress) {
  if (kind === 'ridewire') {
    const secret = ridewireSecret();
    if (opts.url) return { label: 'ridewire', url: localOnly(opts.url, '--url'), secret, ridewire: true, close: async () => {} };
    if (!opts['wrangler-dev']) {
      const s = await startMiniflare({ label: 'ridewire', root: RIDEWIRE_DIR, vars: { JWT_SECRET: secret }, onProgress });
      return { ...s, secret, ridewire: true };
    }
    const env = { RIDEWIRE_BUILD_SKIP_IF_FRESH: '1', ...(opts['no-build'] || opts.root ? { RIDEWIRE_BUILD_SKIP: '1' } : {}) };
    const s = await startWrangler({
      label: 'ridewire', cwd: RIDEWIRE_DIR, wrangler, env, onProgress,
      vars: { JWT_SECRET: secret, WEBHOOK_SECRET: 'bench-webhook-secret' },
    });
    return { ...s, secret, ridewire: true };
  }
  const secret = 'bench-secret'; // a var in the baseline's wrangler.toml
  if (opts['baseline-url']) return { label: 'bare JS', url: localOnly(opts['baseline-url'], '--baseline-url'), secret, ridewire: false, close: async () => {} };
  if (!existsSync(join(BASELINE_DIR, 'wrangler.toml'))) throw new Error(`${BASELINE_DIR} not found (--baseline runs it)`);
  if (!opts['wrangler-dev']) {
    const s = await startMiniflare({ label: 'bare JS', root: BASELINE_DIR, vars: { JWT_SECRET: secret }, onProgress });
    return { ...s, secret, ridewire: false };
  }
  // The shared directory is read-only and wrangler writes beside its config: run a copy.
  const s = await startWrangler({ label: 'bare JS', cwd: BASELINE_DIR, wrangler, copy: true, onProgress });
  return { ...s, secret, ridewire: false };
}

/** Where the Workers' state goes for a fleet (see scripts/bench): tmpfs up to this many drivers. */
const TMPFS_MAX_FLEET = 1000;
const DISK_TMPDIR = tmpdir();
function stateDirFor(fleet) {
  const tmpfs = process.env.BENCH_TMPFS;
  return tmpfs && fleet <= TMPFS_MAX_FLEET ? tmpfs : DISK_TMPDIR;
}

/** One fleet through one target: connect, rides, ramp. */
async function runOne(kind, fleet, runTag) {
  const started = performance.now();
  process.env.TMPDIR = stateDirFor(fleet); // read by Miniflare (and wrangler dev's state) as the server starts
  const name = kind === 'ridewire' ? 'ridewire' : 'bare JS';
  const say = (msg) => progress(`[${fleet} drivers, ${name}] ${msg}`);
  const loadBefore = loadavg().map(round1);
  const t = await target(kind, say);
  const cpuBefore = cpuSnapshot(); // after the server started: its own start is not the benchmark
  const tracker = new Tracker();
  const tag = `${fleet}-${runTag}`;
  const drivers = Array.from({ length: fleet }, (_, i) => new Driver(tracker, tag, i, fleet));
  let stopKeepAlive = () => {};
  try {
    let registerS = null;
    if (t.ridewire) {
      const t0 = performance.now();
      await registerFleet(t, drivers, say);
      registerS = (performance.now() - t0) / 1000;
    }
    stopKeepAlive = keepAlive(drivers); // from the start: connecting a large fleet can outlast 3 heartbeats
    const connectS = await connectFleet(t, drivers, { concurrency: settings.connectConcurrency, onProgress: say });
    const singles = Math.min(settings.rides, Math.floor(fleet * 0.4));
    const races = Math.min(settings.races, Math.floor(fleet * 0.1));
    const rides = await ridePhase(t, tracker, { tag, singles, races, onProgress: say, cancel: t.ridewire });
    // ridewire frees the accepted drivers again (the baseline cannot), so the ramp sees all drivers free there.
    if (t.ridewire) await completeRides(t, rides.accepted, say);
    const cap = Math.min(settings.rampMax ?? Infinity, fleet * PER_DRIVER_MAX);
    const ramp = opts['no-ramp']
      ? { rate: null, absorbed: null, dispatch_p99_ms: null, stop: 'skipped (--no-ramp)', steps: [] }
      : await rampPhase(t, drivers, tracker, {
        tag, rates: rampRates(Math.min(settings.rampStart, cap), cap), stepS: settings.stepS, stepRides: settings.stepRides,
        rideBase: singles + races, onProgress: say, cancel: t.ridewire,
      });
    return figures({
      connectS, registerS, rides, ramp,
      regions: Object.fromEntries(tracker.region),
      errors: tracker.errors,
      closes: tracker.closes,
      loadBefore,
      loadAfter: loadavg().map(round1),
      cpu: cpuOthers(cpuBefore, cpuSnapshot()),
      durationS: (performance.now() - started) / 1000,
    });
  } finally {
    stopKeepAlive();
    say('closing the fleet');
    await closeFleet(drivers);
    say('stopping the server');
    await t.close();
    progressDone();
  }
}

const runStarted = performance.now();
const result = {
  when: new Date().toISOString(),
  commit: gitCommit(ROOT),
  machine: machine(),
  target: opts.url ? `--url ${opts.url}`
    : `${opts['wrangler-dev'] ? 'wrangler dev' : 'workerd via Miniflare'} (production build: ${join(RIDEWIRE_DIR, 'build')})`,
  settings: { ...settings, per_driver_max_msgs_s: PER_DRIVER_MAX },
  wasm: null,
  fleets: [],
};
build();
result.wasm = wasmSize(RIDEWIRE_DIR);
const runTag = Date.now().toString(36);
try {
  for (const fleet of fleets) {
    const entry = { fleet, state_dir: stateDirFor(fleet), js: null, rw: null, ratio: null };
    // A failed run (a server that died, a fleet that could not connect) is recorded and the rest goes on.
    const attempt = async (kind) => {
      try {
        return await runOne(kind, fleet, runTag);
      } catch (e) {
        progressDone(`bench: ${kind} with ${fleet} drivers failed: ${e.stack ?? e}`);
        return { error: String(e.message ?? e).slice(0, 500) };
      }
    };
    if (withBaseline) entry.js = await attempt('baseline');
    entry.rw = await attempt('ridewire');
    if (entry.js && !entry.js.error && !entry.rw.error) entry.ratio = ratios(entry.rw, entry.js);
    result.fleets.push(entry);
    console.log(`\n${fleet.toLocaleString('en-US')} drivers in one region (state in ${entry.state_dir}; load average ${loadavg().map(round1).join(' ')})\n`);
    console.log(table(entry));
    for (const n of notes(entry)) console.log(`  - ${n}`);
  }
} finally {
  result.duration_s = round1((performance.now() - runStarted) / 1000);
  result.machine_after = machine();
  if (result.fleets.length > 1) {
    const first = result.fleets.filter((f) => !f.rw.error)[0];
    const ok = result.fleets.filter((f) => !f.rw.error);
    // Only fleets whose state was on the same kind of storage compare (see scripts/bench).
    result.scaling = ok.slice(1).filter((f) => f.state_dir === first.state_dir).map((f) => ({
      fleet: f.fleet,
      vs_fleet: first.fleet,
      ridewire_dispatch_p50: Math.round((f.rw.dispatch_ms.p50 / first.rw.dispatch_ms.p50) * 100) / 100,
      ridewire_dispatch_p99: Math.round((f.rw.dispatch_ms.p99 / first.rw.dispatch_ms.p99) * 100) / 100,
    }));
  }
  if (result.fleets.length) {
    const w = result.wasm;
    if (w) console.log(`\nWorker wasm (${w.path}): ${(w.gzip_bytes / 1024).toFixed(0)} KB gzipped (level 9), ${(w.raw_bytes / 1024 / 1024).toFixed(2)} MB raw`);
    for (const s of result.scaling ?? []) {
      console.log(`ridewire dispatch at ${s.fleet} drivers vs ${s.vs_fleet}: p50 ${s.ridewire_dispatch_p50}×, p99 ${s.ridewire_dispatch_p99}×`);
    }
    const dirs = new Set(result.fleets.map((f) => f.state_dir));
    if (dirs.size > 1) console.log(`(fleets on different storage are not compared: BENCH_TMPFS= scripts/bench --fleet 100,5000 runs all on disk)`);
    console.log(`machine: ${result.machine.cpus} cores, node ${result.machine.node}; before: ${result.machine.uptime}; after: ${result.machine_after.uptime}`);
    if (result.fleets.some((f) => f.js?.error || f.rw.error)) process.exitCode = 1;
    const file = writeResults(ROOT, opts.out, result);
    console.log(`results: ${file} (${result.duration_s} s)`);
  }
}
