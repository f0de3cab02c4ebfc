// The dispatcher's console (PROTOCOL.md "Dispatch socket") and GET /v1/stats: a snapshot of the
// region on open, then live driver_online / driver_location / driver_offline / ride_created /
// ride_status; and figures that match what the test set up, across regions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startWorker, STATS_SETTLE_MS, token, until, registerDriver } from './helpers.mjs';
import { Client, offset } from './ws-client.mjs';

const CENTRE = { lat: -25.7479, lng: 28.2293 }; // Pretoria
const FAR = { lat: -33.9249, lng: 18.4241 }; // Cape Town: another region altogether
const ops = token('dispatcher', 'ops-feed');
let worker;
const open = [];

async function connectDriver(id, at) {
  await registerDriver(worker, id, { by: ops, phone: '+27125550100' });
  const c = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}`), { token: token('driver', id) });
  await c.next('connected');
  open.push(c);
  return c;
}

async function console_(at = CENTRE) {
  const c = await Client.open(worker.wsUrl(`/v1/ws/dispatch?lat=${at.lat}&lng=${at.lng}`), { token: ops });
  open.push(c);
  return c;
}

async function sync(c) {
  const id = `sync-${Math.random()}`;
  c.send({ type: 'ping', req_id: id });
  await c.next((f) => f.type === 'pong' && f.req_id === id);
}

before(async () => { worker = await startWorker({ vars: { OFFER_TIMEOUT_S: '120' } }); });
after(async () => {
  for (const c of open) c.close();
  await worker?.close();
});

describe('dispatch socket', () => {
  let d1;
  let d2;
  let desk;
  let ride;

  test('opens with a snapshot of the region: its drivers and its open rides', async () => {
    d1 = await connectDriver('fd-1', offset(CENTRE, 1, 0));
    d2 = await connectDriver('fd-2', offset(CENTRE, 2, 90));
    d2.send({ type: 'set_available', available: false });
    await sync(d2);
    const res = await api(worker, 'POST', '/v1/rides', { token: token('passenger', 'fp-1'), body: { pickup: CENTRE, dropoff: offset(CENTRE, 5, 0) } });
    assert.equal(res.status, 201, res.text);
    ride = res.body;
    desk = await console_();
    const snapshot = await desk.next('snapshot');
    const drivers = Object.fromEntries(snapshot.drivers.map((d) => [d.id, d]));
    assert.equal(drivers['fd-1'].available, true);
    assert.equal(drivers['fd-2'].available, false);
    assert.deepEqual(drivers['fd-1'].location, offset(CENTRE, 1, 0));
    assert.deepEqual(snapshot.rides, [{ id: ride.id, status: 'searching', pickup: { ...CENTRE, address: null } }]);
  });

  test('then streams drivers moving, coming online and going offline', async () => {
    const to = offset(CENTRE, 1.5, 10);
    d1.send({ type: 'location_update', lat: to.lat, lng: to.lng });
    const moved = await desk.next((f) => f.type === 'driver_location' && f.driver_id === 'fd-1');
    assert.deepEqual({ lat: moved.lat, lng: moved.lng, available: moved.available }, { ...to, available: true });
    const d3 = await connectDriver('fd-3', offset(CENTRE, 3, 180));
    const online = await desk.next((f) => f.type === 'driver_online' && f.driver_id === 'fd-3');
    assert.deepEqual(online.location, offset(CENTRE, 3, 180));
    d3.close();
    await desk.next((f) => f.type === 'driver_offline' && f.driver_id === 'fd-3');
  });

  test('and rides of the region being created and changing status', async () => {
    const res = await api(worker, 'POST', '/v1/rides', { token: token('passenger', 'fp-2'), body: { pickup: CENTRE, dropoff: offset(CENTRE, 4, 0) } });
    const created = await desk.next((f) => f.type === 'ride_created' && f.ride_id === res.body.id);
    assert.deepEqual(created.pickup, { ...CENTRE, address: null });
    await d1.next((f) => f.type === 'ride_offer' && f.ride.id === res.body.id);
    d1.send({ type: 'accept_ride', ride_id: res.body.id });
    assert.equal((await desk.next((f) => f.type === 'ride_status' && f.ride_id === res.body.id)).status, 'accepted');
    const cancel = await api(worker, 'POST', `/v1/rides/${res.body.id}/cancel`, { token: ops, body: {} });
    assert.equal(cancel.status, 200, cancel.text);
    assert.equal((await desk.next((f) => f.type === 'ride_status' && f.ride_id === res.body.id && f.status === 'cancelled')).status, 'cancelled');
    const later = await console_();
    const snapshot = await later.next('snapshot');
    assert.ok(!snapshot.rides.some((r) => r.id === res.body.id), 'a finished ride leaves the snapshot');
  });

  test('answers ping, refuses driver messages, and is for dispatchers only', async () => {
    desk.send({ type: 'ping', req_id: 'dp' });
    assert.equal((await desk.next('pong')).req_id, 'dp');
    desk.send({ type: 'accept_ride', ride_id: ride.id });
    assert.equal((await desk.next('error')).code, 'bad_message');
    await assert.rejects(
      Client.open(worker.wsUrl(`/v1/ws/dispatch?lat=${CENTRE.lat}&lng=${CENTRE.lng}`), { token: token('driver', 'fd-1') }),
      (e) => e.status === 403,
    );
  });
});

describe('GET /v1/stats', () => {
  test('matches what is connected and what happened, across regions', async () => {
    // Stats rows are reported at most once a second: start from settled figures.
    await new Promise((r) => setTimeout(r, STATS_SETTLE_MS));
    const before = await api(worker, 'GET', '/v1/stats', { token: ops });
    assert.equal(before.status, 200, before.text);
    const far1 = await connectDriver('fs-1', offset(FAR, 1, 0));
    const far2 = await connectDriver('fs-2', offset(FAR, 2, 0));
    far2.send({ type: 'set_available', available: false });
    await sync(far2);
    const farDesk = await console_(FAR);
    await farDesk.next('snapshot');
    const res = await api(worker, 'POST', '/v1/rides', { token: token('passenger', 'fs-pax'), body: { pickup: FAR, dropoff: offset(FAR, 3, 0) } });
    await far1.next((f) => f.type === 'ride_offer' && f.ride.id === res.body.id);
    far1.send({ type: 'accept_ride', ride_id: res.body.id });
    await far1.next((f) => f.type === 'ride_assigned');
    const pax = await Client.open(worker.wsUrl(`/v1/ws/rides/${res.body.id}`), { token: token('passenger', 'fs-pax') });
    await pax.next('connected');
    open.push(pax);

    const b = before.body;
    const read = async () => (await api(worker, 'GET', '/v1/stats', { token: ops })).body;
    const after = await until(read, (s) => s.connections.drivers === b.connections.drivers + 2
      && s.drivers.busy === b.drivers.busy + 1 && s.connections.passengers === b.connections.passengers + 1
      && s.rides.accepted === b.rides.accepted + 1, 5000);
    assert.equal(after.connections.drivers, b.connections.drivers + 2);
    assert.equal(after.connections.dispatchers, b.connections.dispatchers + 1);
    assert.equal(after.connections.passengers, b.connections.passengers + 1);
    assert.equal(after.connections.total, after.connections.drivers + after.connections.passengers + after.connections.dispatchers);
    assert.equal(after.drivers.online, b.drivers.online + 2);
    assert.equal(after.drivers.busy, b.drivers.busy + 1, 'fs-1 has an active ride');
    assert.equal(after.drivers.available, b.drivers.available, 'fs-1 is busy, fs-2 unavailable');
    assert.equal(after.rides.accepted, b.rides.accepted + 1);
    const rides = await worker.db.prepare('SELECT status, COUNT(*) AS n FROM rides GROUP BY status').all();
    for (const { status, n } of rides.results) assert.equal(after.rides[status], n, status);
    assert.equal(Object.keys(after.rides).length, 7);

    pax.close();
    await pax.closedWith();
    let passengers = null;
    for (let i = 0; i < 50 && passengers !== b.connections.passengers; i++) {
      passengers = (await api(worker, 'GET', '/v1/stats', { token: ops })).body.connections.passengers;
      if (passengers !== b.connections.passengers) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(passengers, b.connections.passengers, 'a closed ride socket no longer counts');
  });

  test('is for dispatchers only', async () => {
    assert.equal((await api(worker, 'GET', '/v1/stats', { token: token('partner', 'acme') })).status, 403);
    assert.equal((await api(worker, 'GET', '/v1/stats')).status, 401);
  });
});
