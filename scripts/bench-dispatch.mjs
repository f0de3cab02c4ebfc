#!/usr/bin/env node
// A quick side-by-side of the dispatch hot path (prints figures; asserts nothing): a fleet of drivers
// connected over real sockets to one region, then rides created one after another; for each ride the
// time from POST sent to the first `ride_offer`, to the POST's answer, and from `accept_ride` sent to
// `ride_assigned`. Runs the built Worker in Miniflare (build first: scripts/build), and with
// --baseline the same fleet against ../shared/perf/baseline-js in the same run.
//
//   node scripts/bench-dispatch.mjs [--drivers 100] [--rides 60] [--baseline] [--root DIR]
//     --root DIR   another checkout's root (its build/ and wrangler.toml), e.g. an older commit
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { api, startWorker, token } from '../tests/e2e/helpers.mjs';
import { Client, offset } from '../tests/e2e/ws-client.mjs';
import { ROOT } from './lib/worker-config.mjs';

const { values: opts } = parseArgs({
  options: {
    drivers: { type: 'string', default: '100' },
    rides: { type: 'string', default: '60' },
    baseline: { type: 'boolean', default: false },
    root: { type: 'string', default: ROOT },
  },
});
const DRIVERS = Math.min(Number(opts.drivers), 2000);
const RIDES = Math.min(Number(opts.rides), 1000);
const CENTRE = { lat: -26.2041, lng: 28.0473 };

function pct(list, p) {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

let onOffer = null;
let onAssigned = null;

async function run(label, root, { ridewire }) {
  const worker = await startWorker({ root, vars: { OFFER_TIMEOUT_S: '60', MAX_ROUNDS: '3' } });
  const ops = token('dispatcher', 'bench-ops');
  const fleet = [];
  try {
    const t0 = performance.now();
    for (let i = 0; i < DRIVERS; i++) {
      const id = `bench-${i}`;
      const at = offset(CENTRE, 0.2 + (i % 50) * 0.15, (i * 37) % 360);
      if (ridewire) {
        const put = await api(worker, 'PUT', `/v1/drivers/${id}`, {
          token: ops,
          body: { name: id, phone: '+27115550100', vehicle: { type: 'sedan', registration: id } },
        });
        if (put.status !== 200) throw new Error(`register ${id}: ${put.text}`);
      }
      const c = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}&token=${token('driver', id)}`));
      c.id = id;
      c.ws.on('message', (data) => {
        const frame = JSON.parse(String(data));
        if (frame.type === 'ride_offer' && onOffer) onOffer(c, frame);
        if (frame.type === 'ride_assigned' && onAssigned) onAssigned(frame);
      });
      c.send({ type: 'location_update', lat: at.lat, lng: at.lng });
      fleet.push(c);
      if (i % 50 === 49) process.stderr.write(`\r${label}: ${i + 1}/${DRIVERS} drivers connected`);
    }
    const connectS = (performance.now() - t0) / 1000;
    const offerMs = [];
    const createMs = [];
    const acceptMs = [];
    for (let r = 0; r < RIDES; r++) {
      const pickup = offset(CENTRE, (r % 20) * 0.3, (r * 53) % 360);
      const sent = performance.now();
      const firstOffer = new Promise((resolveOffer) => {
        const timer = setTimeout(() => resolveOffer(null), 10_000);
        onOffer = (c, f) => {
          onOffer = null;
          clearTimeout(timer);
          resolveOffer({ c, f, at: performance.now() });
        };
      });
      const res = await api(worker, 'POST', '/v1/rides', {
        token: token('passenger', `bench-pax-${r}`),
        body: { pickup, dropoff: offset(pickup, 3, 90) },
      });
      createMs.push(performance.now() - sent);
      const got = await firstOffer;
      if (res.status !== 201 || !got) throw new Error(`ride ${r}: ${res.status} ${res.text}`);
      offerMs.push(got.at - sent);
      const assigned = new Promise((resolveAssigned) => {
        onAssigned = (f) => {
          if (f.req_id === `acc-${r}`) {
            onAssigned = null;
            resolveAssigned();
          }
        };
      });
      const acceptSent = performance.now();
      got.c.send({ type: 'accept_ride', ride_id: got.f.ride.id, req_id: `acc-${r}` });
      await assigned;
      acceptMs.push(performance.now() - acceptSent);
      // Free the driver again for the next rides (ridewire keeps one active ride per driver).
      if (ridewire) {
        for (const step of ['arrived', 'start', 'complete']) {
          await api(worker, 'POST', `/v1/rides/${got.f.ride.id}/${step}`, { token: token('driver', got.c.id) });
        }
      }
      for (const c of fleet) c.frames.length = 0;
      if (r % 10 === 9) process.stderr.write(`\r${label}: ${r + 1}/${RIDES} rides            `);
    }
    process.stderr.write('\n');
    return {
      label,
      connectS,
      offer: [pct(offerMs, 50), pct(offerMs, 99)],
      create: pct(createMs, 50),
      accept: [pct(acceptMs, 50), pct(acceptMs, 99)],
    };
  } finally {
    for (const c of fleet) c.close();
    await worker.close();
  }
}

const results = [];
if (opts.baseline) {
  const baseline = resolve(ROOT, '../shared/perf/baseline-js');
  if (!existsSync(baseline)) throw new Error(`${baseline} not found`);
  results.push(await run('bare JS', baseline, { ridewire: false }));
}
results.push(await run(opts.root === ROOT ? 'ridewire' : `ridewire@${opts.root}`, resolve(opts.root), { ridewire: true }));

const f = (n) => n.toFixed(1).padStart(7);
console.log(`\n${DRIVERS} drivers, ${RIDES} rides, one region, Miniflare on this machine`);
console.log('run                         connect s  offer p50  offer p99  create p50  accept p50  accept p99');
for (const r of results) {
  console.log(`${r.label.slice(0, 26).padEnd(26)} ${f(r.connectS)}    ${f(r.offer[0])}    ${f(r.offer[1])}     ${f(r.create)}     ${f(r.accept[0])}     ${f(r.accept[1])}`);
}
