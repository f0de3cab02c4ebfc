// scripts/demo's simulation (see scripts/demo for the options): drivers driving central Johannesburg's
// streets over real driver sockets, passengers asking for rides over HTTP, and a live status line
// read from GET /v1/stats.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { signJwt, parseDotVars, nowSeconds } from '../jwt.mjs';
import { ROOT } from '../worker-config.mjs';
import { City, Mover, distanceM } from './city.mjs';

const USAGE = `usage: scripts/demo [--url URL] [--port 8787] [--minutes 2] [--drivers 12] [--every 4] [--speed 15]
  --url      drive an already running ridewire (its JWT_SECRET in the environment or .dev.vars)
  --port     where the local one listens when there is no --url
  --minutes  how long the demo runs (Ctrl-C ends it sooner)
  --drivers  simulated drivers; --every: seconds between ride requests
  --speed    time-lapse: simulated seconds per second (drivers drive at 36 km/h of simulated time)`;

const STREET_SPEED_MS = 10; // 36 km/h: a city-centre street
const TICK_MS = 1000;
const P_DECLINE = 0.15;
const P_DRIVER_CANCEL = 0.04;
const P_PASSENGER_CANCEL = 0.08;
const PASSENGERS = 40;

function parseArgs(argv) {
  const o = { url: null, port: 8787, minutes: 2, drivers: 12, every: 4, speed: 15 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].includes('=') ? argv[i].split(/=(.*)/s) : [argv[i], undefined];
    const value = () => inline ?? argv[++i];
    if (flag === '-h' || flag === '--help') { console.log(USAGE); process.exit(0); }
    else if (flag === '--url') o.url = value().replace(/\/$/, '');
    else if (['--port', '--minutes', '--drivers', '--every', '--speed'].includes(flag)) {
      const n = Number(value());
      if (!Number.isFinite(n) || n <= 0) fail(`${flag} needs a positive number`);
      o[flag.slice(2)] = n;
    } else fail(`unknown option ${argv[i]}`);
  }
  return o;
}

function fail(msg) {
  console.error(`demo: ${msg}\n${USAGE}`);
  process.exit(2);
}

function jwtSecret() {
  for (const file of ['.dev.vars', '.dev.vars.example']) {
    const path = join(ROOT, file);
    if (process.env.JWT_SECRET) return process.env.JWT_SECRET;
    if (existsSync(path)) {
      const s = parseDotVars(readFileSync(path, 'utf8')).JWT_SECRET;
      if (s) return s;
    }
  }
  fail('no JWT_SECRET in the environment, .dev.vars or .dev.vars.example');
}

const opts = parseArgs(process.argv.slice(2));
const secret = jwtSecret();
const ttl = Math.ceil(opts.minutes * 60) + 3600;
const mint = (role, sub, name) => {
  const iat = nowSeconds();
  return signJwt({ sub, role, iat, exp: iat + ttl, ...(name ? { name } : {}) }, secret);
};
const city = new City();
const ops = mint('dispatcher', 'demo-ops', 'Demo dispatcher');
let base = opts.url;
let worker = null;
if (!base) {
  const { startWorker } = await import('../../../tests/e2e/helpers.mjs');
  try {
    worker = await startWorker({ vars: { JWT_SECRET: secret }, miniflare: { port: opts.port }, assets: true });
  } catch (e) {
    fail(`could not start ridewire on port ${opts.port} (${e.message}); pick another with --port`);
  }
  base = worker.url.href.replace(/\/$/, '');
}
const wsBase = base.replace(/^http/, 'ws');

async function api(method, path, token, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { json = null; }
  return { status: res.status, body: json, text };
}

// ---- drivers -----------------------------------------------------------------------------------

const FIRST = ['Thabo', 'Lerato', 'Sipho', 'Naledi', 'Bongani', 'Zanele', 'Pieter', 'Ayesha', 'Kagiso', 'Nomsa', 'Johan', 'Precious'];

class Driver {
  constructor(i) {
    this.id = `demo-d-${i + 1}`;
    this.name = `${FIRST[i % FIRST.length]} ${i + 1}`;
    this.token = mint('driver', this.id, this.name);
    this.mover = new Mover(city, city.randomNode());
    this.state = 'idle'; // idle | to_pickup | at_pickup | to_dropoff
    this.ride = null;
    this.deciding = new Set();
    this.ws = null;
  }

  async register() {
    const res = await api('PUT', `/v1/drivers/${this.id}`, ops, {
      name: this.name, phone: `+2782555${String(1000 + Number(this.id.split('-').pop())).slice(-4)}`,
      vehicle: { type: 'sedan', registration: `GP ${this.id.split('-').pop()} DEMO` }, rating: 4.8,
    });
    if (res.status !== 200) throw new Error(`PUT /v1/drivers/${this.id}: ${res.status} ${res.text}`);
  }

  connect(path = `/v1/ws/driver?lat=${this.mover.at.lat}&lng=${this.mover.at.lng}`) {
    const ws = new WebSocket(`${wsBase}${path}`, { headers: { authorization: `Bearer ${this.token}` } });
    this.ws = ws;
    ws.on('message', (data) => this.onFrame(JSON.parse(String(data))));
    ws.on('error', () => {});
    ws.on('close', () => {
      if (this.ws === ws && !stopping) setTimeout(() => this.ws === ws && this.connect(), 1000);
    });
  }

  send(frame) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  onFrame(f) {
    switch (f.type) {
      case 'ride_offer': return this.consider(f.ride, f.distance_to_pickup_m);
      case 'ride_assigned': return this.assigned(f.ride);
      case 'ride_cancelled': if (this.ride?.id === f.ride_id) this.free(); return;
      case 'ride_updated': if (f.ride.id === this.ride?.id && ['cancelled', 'completed'].includes(f.ride.status)) this.free(); return;
      case 'region_changed': this.connect(f.reconnect); return; // the old socket closes with 4000
      default: return;
    }
  }

  // The nearer driver is quicker to say yes, as in a real city.
  consider(ride, awayM = 1000) {
    if (this.state !== 'idle' || this.deciding.has(ride.id)) return;
    this.deciding.add(ride.id);
    const decline = Math.random() < P_DECLINE;
    setTimeout(() => {
      this.deciding.delete(ride.id);
      if (stopping) return;
      if (decline) {
        counts.declined++;
        this.send({ type: 'decline_ride', ride_id: ride.id });
      } else if (this.state === 'idle') {
        this.send({ type: 'accept_ride', ride_id: ride.id });
      }
    }, 300 + awayM / 2 + Math.random() * 500);
  }

  assigned(ride) {
    if (this.ride?.id === ride.id) return; // sent again after a reconnect
    this.ride = ride;
    this.state = 'to_pickup';
    this.mover.follow(city.route(this.mover.node, city.nearest(ride.pickup)));
    if (Math.random() < P_DRIVER_CANCEL) {
      setTimeout(() => {
        if (this.ride?.id === ride.id && this.state === 'to_pickup') {
          counts.driverCancelled++;
          this.send({ type: 'cancel_ride', ride_id: ride.id, reason: 'flat tyre' });
          this.free();
        }
      }, 2000);
    }
  }

  free() {
    this.ride = null;
    this.state = 'idle';
    this.mover.follow([]);
  }

  tick(simSeconds) {
    const done = this.mover.advance(STREET_SPEED_MS * simSeconds);
    const ride = this.ride;
    if (this.state === 'idle' && done) this.mover.follow(city.wander(this.mover.node, 3 + Math.floor(Math.random() * 6)));
    else if (this.state === 'to_pickup' && done) {
      this.state = 'at_pickup';
      this.send({ type: 'ride_status', ride_id: ride.id, status: 'arrived' });
      setTimeout(() => {
        if (this.ride?.id !== ride.id || stopping) return;
        this.send({ type: 'ride_status', ride_id: ride.id, status: 'in_progress' });
        this.state = 'to_dropoff';
        this.mover.follow(city.route(this.mover.node, city.nearest(ride.dropoff)));
      }, 2000);
    } else if (this.state === 'to_dropoff' && done) {
      this.send({ type: 'ride_status', ride_id: ride.id, status: 'completed' });
      this.free();
    }
    const { lat, lng } = this.mover.at;
    const moving = this.mover.path.length > 0;
    this.send({ type: 'location_update', lat, lng, heading: Math.round(this.mover.heading), speed: moving ? STREET_SPEED_MS : 0 });
  }
}

// ---- passengers --------------------------------------------------------------------------------

let requested = 0;
async function requestRide() {
  const from = city.randomNode();
  let to = city.randomNode();
  for (let d = 0; d < 700 || d > 2500; d = distanceM(city.nodes[from], city.nodes[to])) to = city.randomNode();
  const who = requested++ % PASSENGERS;
  const token = mint('passenger', `demo-p-${who + 1}`, `Passenger ${who + 1}`);
  const res = await api('POST', '/v1/rides', token, {
    pickup: { ...city.nodes[from], address: city.address(from) },
    dropoff: { ...city.nodes[to], address: city.address(to) },
    product: 'taxi',
    fare: { amount: Math.round(30 + distanceM(city.nodes[from], city.nodes[to]) / 50), currency: 'ZAR' },
  });
  if (res.status !== 201) {
    counts.refused++;
    return;
  }
  if (Math.random() < P_PASSENGER_CANCEL) {
    setTimeout(async () => {
      if (stopping) return;
      const cancel = await api('POST', `/v1/rides/${res.body.id}/cancel`, token, { reason: 'found another way' });
      if (cancel.status === 200) counts.passengerCancelled++;
    }, 3000 + Math.random() * 6000);
  }
}

// ---- the run -----------------------------------------------------------------------------------

const counts = { declined: 0, driverCancelled: 0, passengerCancelled: 0, refused: 0 };
let stopping = false;
let last = null;
const tty = process.stdout.isTTY;
const started = Date.now();

async function statusLine() {
  const res = await api('GET', '/v1/stats', ops).catch(() => null);
  if (!res || res.status !== 200) return;
  last = res.body;
  const { drivers: d, rides: r } = last;
  const secs = Math.floor((Date.now() - started) / 1000);
  const line = `${String(Math.floor(secs / 60)).padStart(2, '0')}:${String(secs % 60).padStart(2, '0')} ` +
    `drivers online ${d.online} (available ${d.available}, busy ${d.busy}) | rides searching ${r.searching}, ` +
    `accepted ${r.accepted}, arrived ${r.arrived}, in progress ${r.in_progress}, completed ${r.completed}, ` +
    `cancelled ${r.cancelled}, expired ${r.expired}`;
  if (tty) process.stdout.write(`\r\x1b[K${line}`);
  else if (secs % 10 < 2) console.log(line);
}

const consoleUrl = `${base}/console?lat=${city.centre.lat.toFixed(5)}&lng=${city.centre.lng.toFixed(5)}`;
console.log(`demo: ${city.name}: ${city.nodes.length} street corners`);
console.log(`demo: ridewire at ${base}${worker ? ' (local, in memory)' : ''}`);
console.log(`demo: ${opts.drivers} drivers at ${STREET_SPEED_MS * 3.6} km/h, ×${opts.speed} time-lapse; a ride request every ${opts.every} s; ${opts.minutes} min (Ctrl-C ends it)`);
console.log(`\n  console: ${consoleUrl}\n  token:   ${ops}\n  (paste the token into the console's sign-in form)\n`);

const drivers = Array.from({ length: opts.drivers }, (_, i) => new Driver(i));
for (const d of drivers) await d.register();
for (const d of drivers) d.connect();

const timers = [
  setInterval(() => { for (const d of drivers) d.tick((TICK_MS / 1000) * opts.speed); }, TICK_MS),
  setInterval(() => { requestRide().catch(() => counts.refused++); }, opts.every * 1000),
  setInterval(() => { statusLine(); }, 2000),
];

async function stop(why) {
  if (stopping) return;
  stopping = true;
  for (const t of timers) clearInterval(t);
  await statusLine();
  if (tty) process.stdout.write('\n');
  for (const d of drivers) {
    const ws = d.ws;
    d.ws = null;
    ws?.close();
  }
  await worker?.close();
  const completed = last?.rides?.completed ?? 0;
  console.log(`demo: ${why}: ${requested} rides requested, ${completed} completed, ` +
    `${counts.declined} offers declined, ${counts.driverCancelled} cancelled by drivers, ` +
    `${counts.passengerCancelled} by passengers`);
  process.exit(why === 'stopped' || completed > 0 || opts.minutes < 1 ? 0 : 1); // a full run that completed nothing failed
}

// Ours, not Miniflare's exit hook (which exits at once): stop() disposes of workerd itself.
process.removeAllListeners('SIGINT');
process.removeAllListeners('SIGTERM');
process.on('SIGINT', () => stop('stopped'));
process.on('SIGTERM', () => stop('stopped'));
setTimeout(() => stop('time is up'), opts.minutes * 60_000);
