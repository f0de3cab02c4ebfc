// Viewers of an offered ride and region hand-off (PROTOCOL.md "Driver socket"): viewer_count to the
// drivers holding the offer; a driver leaving its region is told region_changed, closed with 4000,
// and finds its open offers and its active ride again in the new region.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startWorker, token, registerDriver } from './helpers.mjs';
import { Client, offset, sleep } from './ws-client.mjs';

const ops = token('dispatcher', 'ops-ho');
let worker;
const open = [];

async function connectDriver(id, at, register = true) {
  if (register) {
    await registerDriver(worker, id, { by: ops, phone: '+27435550100' });
  }
  const c = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}`), { token: token('driver', id) });
  c.hello = await c.next('connected');
  open.push(c);
  return c;
}

async function createRide(sub, pickup) {
  const res = await api(worker, 'POST', '/v1/rides', { token: token('passenger', sub), body: { pickup, dropoff: offset(pickup, 5, 90) } });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

before(async () => { worker = await startWorker({ vars: { OFFER_TIMEOUT_S: '120', OFFER_BATCH: '3' } }); });
after(async () => {
  for (const c of open) c.close();
  await worker?.close();
});

describe('viewers', () => {
  const PICKUP = { lat: -33.0153, lng: 27.9116 }; // East London
  test('drivers holding an offer hear viewer_count as drivers view it, stop, or close their socket', async () => {
    const [v1, v2, v3] = [
      await connectDriver('vw-1', offset(PICKUP, 1, 0)),
      await connectDriver('vw-2', offset(PICKUP, 2, 90)),
      await connectDriver('vw-3', offset(PICKUP, 3, 180)),
    ];
    const ride = await createRide('vw-pax', PICKUP);
    for (const d of [v1, v2, v3]) await d.next((f) => f.type === 'ride_offer' && f.ride.id === ride.id);
    const count = (d, n) => d.next((f) => f.type === 'viewer_count' && f.ride_id === ride.id && f.count === n);

    v1.send({ type: 'view_ride', ride_id: ride.id });
    await Promise.all([count(v1, 1), count(v2, 1), count(v3, 1)]);
    v2.send({ type: 'view_ride', ride_id: ride.id });
    await Promise.all([count(v1, 2), count(v2, 2), count(v3, 2)]);
    v1.send({ type: 'stop_viewing', ride_id: ride.id });
    await Promise.all([count(v1, 1), count(v3, 1)]);
    v2.close();
    await Promise.all([count(v1, 0), count(v3, 0)]);
  });

  test('a driver not holding the offer may not view it', async () => {
    const outsider = await connectDriver('vw-out', { lat: -31.0, lng: 27.0 });
    const ride = await createRide('vw-pax2', { lat: -31.0, lng: 27.0 });
    await outsider.next((f) => f.type === 'ride_offer' && f.ride.id === ride.id);
    outsider.send({ type: 'decline_ride', ride_id: ride.id });
    outsider.send({ type: 'view_ride', ride_id: ride.id, req_id: 'v' });
    const refused = await outsider.next('error');
    assert.equal(refused.code, 'not_offered');
    assert.equal(refused.req_id, 'v');
  });
});

describe('region hand-off', () => {
  const PICKUP = { lat: -29.6006, lng: 30.3794 }; // Pietermaritzburg

  test('a driver leaving its region is told region_changed, closed with 4000, and keeps its assigned ride', async () => {
    const start = offset(PICKUP, 0.5, 0);
    const d = await connectDriver('ho-1', start);
    const ride = await createRide('ho-pax', PICKUP);
    await d.next((f) => f.type === 'ride_offer' && f.ride.id === ride.id);
    d.send({ type: 'accept_ride', ride_id: ride.id });
    await d.next((f) => f.type === 'ride_assigned' && f.ride.id === ride.id);
    const pax = await Client.open(worker.wsUrl(`/v1/ws/rides/${ride.id}`), { token: token('passenger', 'ho-pax') });
    await pax.next('connected');
    open.push(pax);

    const away = offset(PICKUP, 40, 0);
    d.send({ type: 'location_update', lat: away.lat, lng: away.lng });
    const changed = await d.next('region_changed');
    assert.notEqual(changed.region, d.hello.region);
    assert.equal(changed.reconnect, `/v1/ws/driver?lat=${away.lat}&lng=${away.lng}`);
    assert.equal((await d.closedWith()).code, 4000);

    const again = await Client.open(worker.wsUrl(`${changed.reconnect}`), { token: token('driver', 'ho-1') });
    open.push(again);
    assert.equal((await again.next('connected')).region, changed.region);
    const resent = await again.next((f) => f.type === 'ride_assigned' && f.ride.id === ride.id);
    assert.equal(resent.ride.driver.id, 'ho-1');

    again.send({ type: 'ride_status', ride_id: ride.id, status: 'arrived', req_id: 'arr' });
    const updated = await again.next((f) => f.type === 'ride_updated' && f.req_id === 'arr');
    assert.equal(updated.ride.status, 'arrived');
    await pax.next('driver_arrived');
    await sleep(1100);
    const moved = offset(away, 0.2, 90);
    again.send({ type: 'location_update', lat: moved.lat, lng: moved.lng });
    // The position that crossed the border was relayed too; the one sent from the new region follows it.
    const location = await pax.next((f) => f.type === 'driver_location' && f.lng === moved.lng);
    assert.deepEqual({ lat: location.lat, lng: location.lng }, moved);
  });

  test('an open offer follows the driver to its new region', async () => {
    const far = { lat: -28.7282, lng: 24.7499 }; // Kimberley
    const d = await connectDriver('ho-2', offset(far, 0.5, 0));
    const ride = await createRide('ho-pax2', far);
    await d.next((f) => f.type === 'ride_offer' && f.ride.id === ride.id);
    const away = offset(far, 40, 180);
    d.send({ type: 'location_update', lat: away.lat, lng: away.lng });
    const changed = await d.next('region_changed');
    const again = await Client.open(worker.wsUrl(changed.reconnect), { token: token('driver', 'ho-2') });
    open.push(again);
    await again.next('connected');
    await again.next((f) => f.type === 'ride_offer' && f.ride.id === ride.id);
    again.send({ type: 'accept_ride', ride_id: ride.id, req_id: 'acc' });
    const won = await again.next((f) => f.type === 'ride_assigned' && f.req_id === 'acc');
    assert.equal(won.ride.id, ride.id);
  });

  test('a driver moving a little within its region is not handed off', async () => {
    const spot = { lat: -27.0, lng: 26.0 };
    const d = await connectDriver('ho-3', spot);
    const near = offset(spot, 0.3, 45);
    d.send({ type: 'location_update', lat: near.lat, lng: near.lng });
    d.send({ type: 'ping', req_id: 'still' });
    await d.next((f) => f.type === 'pong' && f.req_id === 'still');
    assert.equal(d.received('region_changed').length, 0);
  });
});
