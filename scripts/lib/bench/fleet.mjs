// The fleet: drivers on real sockets (the `ws` package), placed in a disc around one point so that
// they all live in one region, and the bookkeeping of the frames they receive. Times are taken with
// performance.now() the moment a frame arrives.
import WebSocket from 'ws';
import { signJwt, nowSeconds } from '../jwt.mjs';
import { offset } from '../geo.mjs';
import { pool, progress, waitUntil } from './util.mjs';

/** The middle of the fleet (Johannesburg); drivers within DRIVER_RADIUS_KM, pickups within PICKUP_RADIUS_KM. */
// Well inside one H3 resolution-5 cell (85bcc353fffffff, north of Johannesburg): at least 6 km to
// the next cell, so with REGION_RES=5 the whole fleet and every pickup is one Region DO.
export const CENTRE = { lat: -26.1366, lng: 28.0974 };
export const DRIVER_RADIUS_KM = 3;
export const PICKUP_RADIUS_KM = 2;
const GOLDEN_ANGLE = 137.50776405;

/** A token for `role`/`sub` signed with the target's secret, valid for 6 hours. */
export function token(target, role, sub) {
  const iat = nowSeconds();
  return signJwt({ sub, role, iat, exp: iat + 6 * 3600 }, target.secret);
}

/** One HTTP request; never waits more than `timeoutMs`. */
export async function http(target, method, path, { jwt, body, timeoutMs = 10_000 } = {}) {
  const headers = {};
  if (jwt) headers.authorization = `Bearer ${jwt}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(target.url + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, text };
}

/** A pickup point for ride number `r`, spread over a disc of PICKUP_RADIUS_KM. */
export function pickupOf(r) {
  return offset(CENTRE, PICKUP_RADIUS_KM * Math.sqrt(((r * 7919) % 1000 + 0.5) / 1000), (r * GOLDEN_ANGLE) % 360);
}

/** What the fleet's sockets received, shared by all drivers of one run. */
export class Tracker {
  constructor() {
    this.offers = new Map(); // ride id -> {first: ms, drivers: [Driver]}
    this.assigned = new Map(); // ride id -> {at: ms, driver: Driver}
    this.wins = new Map(); // ride id -> ids of the drivers told ride_assigned (more than one: a double win)
    this.failed = new Map(); // ride id -> accept_failed count
    this.pongs = new Map(); // req_id -> ms
    this.errors = {}; // error code -> count
    this.closes = {}; // close code -> count (sockets that closed while we still wanted them)
    this.region = new Map(); // region -> drivers connected there
  }

  frame(driver, f, at) {
    switch (f.type) {
      case 'ride_offer': {
        const id = f.ride?.id;
        const o = this.offers.get(id);
        if (o) o.drivers.push(driver);
        else this.offers.set(id, { first: at, drivers: [driver] });
        break;
      }
      case 'ride_assigned': {
        const id = f.ride?.id;
        if (!this.assigned.has(id)) this.assigned.set(id, { at, driver });
        if (!this.wins.has(id)) this.wins.set(id, []);
        this.wins.get(id).push(driver.id);
        break;
      }
      case 'accept_failed':
        this.failed.set(f.ride_id, (this.failed.get(f.ride_id) ?? 0) + 1);
        break;
      case 'pong':
        if (f.req_id) this.pongs.set(f.req_id, at);
        break;
      case 'error':
        this.errors[f.code] = (this.errors[f.code] ?? 0) + 1;
        break;
      case 'connected':
        this.region.set(f.region, (this.region.get(f.region) ?? 0) + 1);
        break;
      default:
    }
  }
}

export class Driver {
  constructor(tracker, fleetTag, i, n) {
    this.tracker = tracker;
    this.id = `bench-${fleetTag}-${i}`;
    // Evenly over a disc (sunflower spiral): every driver is within the dispatch radius of every pickup.
    this.home = offset(CENTRE, DRIVER_RADIUS_KM * Math.sqrt((i + 0.5) / n), (i * GOLDEN_ANGLE) % 360);
    // Two nearby positions to alternate between, serialised once (the ramp sends many).
    const b = offset(this.home, 0.01, (i * 53) % 360);
    this.locations = [
      JSON.stringify({ type: 'location_update', lat: this.home.lat, lng: this.home.lng }),
      JSON.stringify({ type: 'location_update', lat: b.lat, lng: b.lng }),
    ];
    this.ws = null;
    this.connected = false;
    this.wanted = false; // a close while wanted is counted as lost
    this.lastSent = 0;
    this.sent = 0;
  }

  /** Opens the socket and resolves once `connected` arrived (rejects on failure or after `timeoutMs`). */
  connect(target, timeoutMs = 30_000) {
    const q = `lat=${this.home.lat}&lng=${this.home.lng}&token=${token(target, 'driver', this.id)}`;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${target.url.replace(/^http/, 'ws')}/v1/ws/driver?${q}`, { perMessageDeflate: false });
      this.ws = ws;
      this.wanted = true;
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`${this.id}: no connected frame within ${timeoutMs} ms`));
      }, timeoutMs);
      ws.on('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        let text = '';
        res.on('data', (c) => { text += c; });
        res.on('end', () => reject(new Error(`${this.id}: HTTP ${res.statusCode} ${text.slice(0, 300)}`)));
      });
      ws.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`${this.id}: ${e.message}`));
      });
      ws.on('message', (data) => {
        const at = performance.now();
        let f;
        try {
          f = JSON.parse(String(data));
        } catch {
          return;
        }
        this.tracker.frame(this, f, at);
        if (f.type === 'connected' && !this.connected) {
          this.connected = true;
          clearTimeout(timer);
          resolve();
        }
      });
      ws.on('close', (code) => {
        clearTimeout(timer);
        if (this.wanted && this.connected) this.tracker.closes[code] = (this.tracker.closes[code] ?? 0) + 1;
        this.connected = false;
      });
    });
  }

  send(text) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(text);
    this.lastSent = performance.now();
    this.sent++;
    return true;
  }

  sendLocation() {
    return this.send(this.locations[this.sent & 1]);
  }

  close() {
    this.wanted = false;
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.terminate();
  }
}

/** Registers every driver's profile (ridewire needs one before a driver may connect). */
export async function registerFleet(target, drivers, onProgress) {
  const ops = token(target, 'dispatcher', 'bench-ops');
  let done = 0;
  await pool(drivers, 16, async (d) => {
    const res = await http(target, 'PUT', `/v1/drivers/${d.id}`, {
      jwt: ops,
      body: { name: d.id, phone: '+27115550100', vehicle: { type: 'sedan', registration: d.id.slice(-12) } },
    });
    if (res.status !== 200) throw new Error(`register ${d.id}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
    if (++done % 100 === 0) onProgress(`registered ${done}/${drivers.length}`);
  });
}

/**
 * Connects the fleet, at most `concurrency` handshakes in flight, each driver sending its position
 * once connected. Resolves with the seconds from the first handshake to the last `connected` frame.
 */
export async function connectFleet(target, drivers, { concurrency = 50, onProgress }) {
  const t0 = performance.now();
  let done = 0;
  const failures = [];
  await pool(drivers, concurrency, async (d) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await d.connect(target);
        break;
      } catch (e) {
        if (attempt >= 3) {
          failures.push(e.message);
          return;
        }
      }
    }
    d.sendLocation();
    if (++done % 50 === 0) onProgress(`connected ${done}/${drivers.length}`);
  });
  const seconds = (performance.now() - t0) / 1000;
  if (failures.length) {
    throw new Error(`${failures.length} of ${drivers.length} drivers could not connect, e.g. ${failures[0]}`);
  }
  return seconds;
}

/**
 * Keeps quiet sockets alive: ridewire closes a driver socket silent for 3 heartbeats. Every second,
 * drivers that sent nothing for `everyMs` send `{"type":"heartbeat"}`. Returns a stop function.
 */
export function keepAlive(drivers, everyMs = 20_000) {
  const timer = setInterval(() => {
    const now = performance.now();
    for (const d of drivers) if (d.connected && now - d.lastSent > everyMs) d.send('{"type":"heartbeat"}');
  }, 1000);
  return () => clearInterval(timer);
}

/** Waits until every socket of the fleet is closed (at most `timeoutMs`). */
export async function closeFleet(drivers, timeoutMs = 5000) {
  for (const d of drivers) d.close();
  await waitUntil(() => drivers.every((d) => !d.ws || d.ws.readyState === WebSocket.CLOSED), timeoutMs, 20);
}

export function openCount(drivers) {
  return drivers.reduce((n, d) => n + (d.connected ? 1 : 0), 0);
}

export { progress };
