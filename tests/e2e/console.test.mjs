// The dispatcher console (/console) in a real browser: headless Chromium (Debian's package, driven by
// playwright-core) against the Worker in Miniflare, with drivers simulated over sockets from here.
// Signs in with a typed token, then watches drivers appear and move and a ride go from searching to
// completed, on the map, in the tables and in the followed ride's timeline. Keeps a screenshot in
// test-artifacts/console.png. CHROMIUM_PATH overrides /usr/bin/chromium.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { api, ROOT, startWorker, token, registerDriver } from './helpers.mjs';
import { Client, offset } from './ws-client.mjs';

const JOBURG = { lat: -26.2041, lng: 28.0473 };
let CENTRE; // the middle of JOBURG's dispatch region: every simulated driver stays in that one region
const ARTIFACTS = join(ROOT, 'test-artifacts');
const WAIT = { timeout: 15000 };
const ops = token('dispatcher', 'ops-console');
let worker;
let browser;
let page;
const seen = []; // every URL the page asked for, sockets included
const drivers = new Map();

async function connectDriver(id, at) {
  await registerDriver(worker, id, { by: ops, phone: '+27115550100' });
  const c = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}`), { token: token('driver', id) });
  await c.next('connected');
  drivers.set(id, c);
  return c;
}

const driverMarkers = () => page.locator('#drivers [data-driver-id]');
const rideRow = (id, status) => page.locator(`#ride-rows tr[data-ride-id="${id}"][data-status="${status}"]`);

before(async () => {
  worker = await startWorker({ vars: { OFFER_TIMEOUT_S: '120' }, assets: true });
  const outline = await api(worker, 'GET', `/v1/regions/outline?lat=${JOBURG.lat}&lng=${JOBURG.lng}`, { token: ops });
  assert.equal(outline.status, 200, outline.text);
  const n = outline.body.boundary.length;
  CENTRE = {
    lat: outline.body.boundary.reduce((a, p) => a + p.lat, 0) / n,
    lng: outline.body.boundary.reduce((a, p) => a + p.lng, 0) / n,
  };
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    // As root, without Chromium's own background traffic (this machine has no network but loopback).
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('request', (r) => seen.push(r.url()));
  page.on('websocket', (ws) => seen.push(ws.url()));
});

after(async () => {
  for (const c of drivers.values()) c.close();
  await browser?.close();
  await worker?.close();
});

test('the console is served by the Worker at /console and signs in with a typed token kept out of the address', async () => {
  for (const [i, bearing] of [0, 120, 240].entries()) await connectDriver(`cd-${i + 1}`, offset(CENTRE, 1 + i * 0.5, bearing));
  await page.goto(new URL(`/console?lat=${CENTRE.lat}&lng=${CENTRE.lng}`, worker.url).href);
  await page.fill('#token', ops);
  await page.click('#sign-in-form button[type=submit]');
  await page.locator('#conn[data-state="live"]').waitFor(WAIT);
  assert.ok(!page.url().includes(ops), 'the token is not in the address');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ridewire.dispatcher_token')), ops);
  // The region and its seven demand cells are drawn.
  assert.equal(await page.locator('#cells polygon.cell').count(), 7);
});

test('the snapshot shows every driver of the region, and a driver that moves moves on the map', async () => {
  await page.waitForFunction(() => document.querySelectorAll('#drivers [data-driver-id]').length === 3, null, WAIT);
  assert.equal(await page.locator('#driver-rows tr[data-state="available"]').count(), 3);
  const to = offset(CENTRE, 0.8, 45);
  drivers.get('cd-1').send({ type: 'location_update', lat: to.lat, lng: to.lng });
  await page.locator(`#drivers [data-driver-id="cd-1"][data-lat="${to.lat}"]`).waitFor(WAIT);
  await connectDriver('cd-4', offset(CENTRE, 2, 300));
  await page.waitForFunction(() => document.querySelectorAll('#drivers [data-driver-id]').length === 4, null, WAIT);
  drivers.get('cd-4').close();
  drivers.delete('cd-4');
  await page.waitForFunction(() => document.querySelectorAll('#drivers [data-driver-id]').length === 3, null, WAIT);
  assert.equal(await driverMarkers().count(), 3);
});

test('a ride appears, goes through its statuses, and its followed timeline lists every event in order across a dropped socket', async () => {
  const created = await api(worker, 'POST', '/v1/rides', {
    token: token('passenger', 'cp-1'),
    body: { pickup: { ...offset(CENTRE, 0.5, 90), address: 'Pickup A' }, dropoff: offset(CENTRE, 4, 10) },
  });
  assert.equal(created.status, 201, created.text);
  const ride = created.body;
  await rideRow(ride.id, 'searching').waitFor(WAIT);
  await page.locator(`#pickups [data-ride-id="${ride.id}"]`).waitFor(WAIT);
  await rideRow(ride.id, 'searching').click();
  await page.locator('#timeline li[data-type="searching"]').waitFor(WAIT);

  const offered = await Promise.any([...drivers.values()].map((c) => c.next((f) => f.type === 'ride_offer' && f.ride.id === ride.id, 10000).then(() => c)));
  offered.send({ type: 'accept_ride', ride_id: ride.id });
  await offered.next('ride_assigned', 10000);
  await rideRow(ride.id, 'accepted').waitFor(WAIT);
  // The followed ride's socket drops: the page comes back by itself with last_seq, and the events
  // sent while it was away are replayed.
  await page.evaluate(() => state.follow.ws.close());
  for (const [status, shown] of [['arrived', 'arrived'], ['in_progress', 'in_progress'], ['completed', 'completed']]) {
    offered.send({ type: 'ride_status', ride_id: ride.id, status });
    await rideRow(ride.id, shown).waitFor(WAIT);
  }
  await page.locator('#timeline li[data-type="ride_completed"]').waitFor(WAIT);
  const timeline = await page.locator('#timeline li').evaluateAll((lis) => lis.map((li) => [Number(li.dataset.seq), li.dataset.type]));
  const types = timeline.map(([, type]) => type);
  for (const type of ['searching', 'driver_assigned', 'driver_arrived', 'trip_started', 'ride_completed']) {
    assert.ok(types.includes(type), `${type} in ${types}`);
  }
  const seqs = timeline.map(([seq]) => seq);
  assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), 'sequenced without gaps or repeats');
  assert.ok(Number(await page.locator('#follow').getAttribute('data-reconnects')) >= 1, 'the ride socket reconnected');
  assert.equal(await page.locator('#follow-status').textContent(), 'completed');
  // A completed ride leaves the map.
  await page.locator(`#pickups [data-ride-id="${ride.id}"]`).waitFor({ state: 'detached', ...WAIT });
});

test('the stats are polled and count the drivers online', async () => {
  await page.waitForFunction(() => Number(document.querySelector('[data-stat="drivers online"]')?.textContent) === 3, null, WAIT);
  await page.waitForFunction(() => Number(document.querySelector('[data-stat="completed"]')?.textContent) >= 1, null, WAIT);
});

test('the notification form shows what the server answered', async () => {
  await page.fill('#notify-title', 'Road closed');
  await page.fill('#notify-message', 'Avoid Commissioner St');
  await page.click('#notify-form button[type=submit]');
  await page.locator('#notify-result[data-outcome]').waitFor(WAIT);
  const text = await page.locator('#notify-result').textContent();
  assert.match(text, /^(Delivered to \d+ sockets\.|Not sent: \d{3} [a-z_]+: .+)$/);
});

test('nothing is fetched from outside the Worker, and a screenshot is kept', async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'console.png'), fullPage: true });
  const origin = new URL(worker.url).host;
  assert.ok(seen.length > 3, `requests seen: ${seen}`);
  for (const u of seen) assert.equal(new URL(u).host, origin, u);
});
