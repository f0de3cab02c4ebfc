// scripts/profile: see its header. A Miniflare workerd with the V8 inspector on, driven over real
// sockets and HTTP; the profile is taken through the DevTools protocol on the inspector.
import { cpSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { api, registerDriver, startWorker, token } from '../../tests/e2e/helpers.mjs';
import { Client, sleep } from '../../tests/e2e/ws-client.mjs';
import { offset } from './geo.mjs';
import { CENTRE } from './bench/fleet.mjs';
import { freePort } from './bench/servers.mjs';

const workload = process.argv.includes('--connect') ? 'connect' : process.argv.includes('--locations') ? 'locations' : 'rides';
const DRIVERS = Number(process.env.DRIVERS ?? 200);
const RIDES = Number(process.env.RIDES ?? 80);

// A copy of the project with the named wasm in build/.
const root = mkdtempSync(join(tmpdir(), 'ridewire-profile-'));
for (const f of ['wrangler.toml', 'migrations', 'build']) cpSync(f, join(root, f), { recursive: true });
copyFileSync('target/index_bg.names.wasm', join(root, 'build/index_bg.wasm'));

const port = await freePort();
const worker = await startWorker({ root, vars: { OFFER_TIMEOUT_S: '120' }, miniflare: { inspectorPort: port } });
const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
const user = targets.find((t) => t.id === 'core:user:') ?? targets[0];
const inspector = new WebSocket(`ws://127.0.0.1:${port}/${user.id}`);
await new Promise((resolve, reject) => { inspector.once('open', resolve); inspector.once('error', reject); });
let nextId = 1;
const waiting = new Map();
inspector.on('message', (m) => {
  const msg = JSON.parse(m);
  if (msg.id && waiting.has(msg.id)) { waiting.get(msg.id)(msg); waiting.delete(msg.id); }
});
const cdp = (method, params = {}) => new Promise((resolve) => {
  const id = nextId++;
  waiting.set(id, resolve);
  inspector.send(JSON.stringify({ id, method, params }));
});

// Drivers within 0.55 km of the bench's centre: one region, as in scripts/bench.
const ops = token('dispatcher', 'ops');
const drivers = [];
for (let i = 0; i < DRIVERS; i++) await registerDriver(worker, `d${i}`, { by: ops, phone: '+27825550100' });
await cdp('Profiler.enable');
await cdp('Profiler.setSamplingInterval', { interval: 50 });
if (workload === 'connect') await cdp('Profiler.start');
let started = Date.now();
for (let i = 0; i < DRIVERS; i += 20) {
  await Promise.all(Array.from({ length: Math.min(20, DRIVERS - i) }, async (_, k) => {
    const n = i + k;
    const at = offset(CENTRE, 0.05 + (n % 50) / 100, (n * 37) % 360);
    const c = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}`), { token: token('driver', `d${n}`) });
    await c.next('connected');
    drivers[n] = c;
  }));
}
if (workload !== 'connect') {
  await sleep(1500); // the attaches settle
  await cdp('Profiler.start');
  started = Date.now();
}
if (workload === 'rides') {
  for (let r = 0; r < RIDES; r++) {
    const passenger = token('passenger', `p${r}`);
    const created = await api(worker, 'POST', '/v1/rides', { token: passenger, body: { pickup: CENTRE, dropoff: offset(CENTRE, 5, 10) } });
    if (created.status !== 201) throw new Error(`POST /v1/rides: ${created.status} ${created.text}`);
    const ride = created.body;
    const offered = await Promise.any(drivers.map((d) => d.next((f) => f.type === 'ride_offer' && f.ride.id === ride.id, 5000).then(() => d)));
    offered.send({ type: 'accept_ride', ride_id: ride.id, req_id: `a${r}` });
    await offered.next((f) => f.type === 'ride_assigned' && f.ride.id === ride.id);
    await api(worker, 'POST', `/v1/rides/${ride.id}/cancel`, { token: passenger, body: {} });
    await sleep(20);
  }
} else if (workload === 'locations') {
  for (let k = 0; k < 40; k++) {
    for (const [n, d] of drivers.entries()) {
      const at = offset(CENTRE, 0.05 + ((n + k) % 50) / 100, (n * 37 + k) % 360);
      d.send({ type: 'location_update', lat: at.lat, lng: at.lng });
    }
    await sleep(50);
  }
  await sleep(1000);
}
const wall = Date.now() - started;
const { result } = await cdp('Profiler.stop');
const file = `target/profile-${workload}.cpuprofile`;
writeFileSync(file, JSON.stringify(result.profile));
for (const d of drivers) d.close();
inspector.close();
await worker.close();
rmSync(root, { recursive: true, force: true });

// Self time by kind, then the top functions of each kind.
const profile = result.profile;
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const kindOf = (frame) => {
  if (frame.url.startsWith('wasm')) return 'wasm (Rust)';
  if (frame.url.endsWith('index.js')) return 'wasm-bindgen glue (build/index.js)';
  if (frame.url) return 'runtime JavaScript';
  return frame.functionName.startsWith('(') ? frame.functionName : 'runtime APIs (native)';
};
const byKind = new Map();
const byFunction = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  const frame = nodes.get(id).callFrame;
  const us = profile.timeDeltas[i];
  const kind = kindOf(frame);
  byKind.set(kind, (byKind.get(kind) ?? 0) + us);
  const key = `${kind}\u0000${frame.functionName || '(anonymous)'}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  total += us;
});
const ms = (us) => (us / 1000).toFixed(0).padStart(6);
const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
console.log(`${workload}: ${DRIVERS} drivers${workload === 'rides' ? `, ${RIDES} rides` : ''}; ${wall} ms of wall time profiled; ${file}`);
console.log('\nthe isolate thread\'s time by kind (ms):');
for (const [kind, us] of [...byKind].sort((a, b) => b[1] - a[1])) console.log(`${ms(us)} ${pct(us)}  ${kind}`);
for (const kind of ['wasm (Rust)', 'wasm-bindgen glue (build/index.js)', 'runtime APIs (native)']) {
  console.log(`\ntop of ${kind} (ms):`);
  const top = [...byFunction].filter(([k]) => k.startsWith(`${kind}\u0000`)).sort((a, b) => b[1] - a[1]).slice(0, 15);
  for (const [k, us] of top) console.log(`${ms(us)} ${pct(us)}  ${k.split('\u0000')[1].slice(0, 150)}`);
}
process.exit(0);
