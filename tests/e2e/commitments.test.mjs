// A driver's commitments have one owner, its Driver DO (PROTOCOL.md "Dispatch rules"): one active ride
// per driver (a second accept is refused driver_busy), the active ride and open offers follow the driver
// to any region, the relay follows its active ride, earlier-round drivers hear a ride's end, and races
// between accepts, cancels, views and declines leave nobody busy or a ride expired with drivers left.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startWorker, token, registerDriver } from './helpers.mjs';
import { Client, offset, sleep } from './ws-client.mjs';

const ops = token('dispatcher', 'ops-cm');
let worker;
const open = [];

async function register(id) {
  await registerDriver(worker, id, { by: ops, phone: '+27435550111' });
}

async function connectDriver(id, at, { registered = false } = {}) {
  if (!registered) await register(id);
  const c = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}`), { token: token('driver', id) });
  c.hello = await c.next('connected');
  open.push(c);
  return c;
}

async function createRide(sub, pickup) {
  const res = await api(worker, 'POST', '/v1/rides', {
    token: token('passenger', sub),
    body: { pickup, dropoff: offset(pickup, 5, 90) },
  });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

async function rider(sub, rideId) {
  const c = await Client.open(worker.wsUrl(`/v1/ws/rides/${rideId}`), { token: token('passenger', sub) });
  await c.next('connected');
  open.push(c);
  return c;
}

const offerOf = (rideId) => (f) => f.type === 'ride_offer' && f.ride.id === rideId;

before(async () => { worker = await startWorker({ vars: { OFFER_TIMEOUT_S: '120', OFFER_BATCH: '3' } }); });
after(async () => {
  for (const c of open) c.close();
  await worker?.close();
});

describe('one active ride per driver', () => {
  const PLACE = { lat: -25.7479, lng: 28.2293 }; // Pretoria

  test('a driver holding two offers wins the first and is refused the second with driver_busy, over the socket', async () => {
    const d = await connectDriver('cm-1', offset(PLACE, 0.5, 0));
    const a = await createRide('cm-pax-a', PLACE);
    const b = await createRide('cm-pax-b', offset(PLACE, 0.3, 90));
    await d.next(offerOf(a.id));
    await d.next(offerOf(b.id));
    d.send({ type: 'accept_ride', ride_id: a.id, req_id: 'a' });
    await d.next((f) => f.type === 'ride_assigned' && f.req_id === 'a');
    d.send({ type: 'accept_ride', ride_id: b.id, req_id: 'b' });
    const refused = await d.next((f) => f.type === 'accept_failed' && f.req_id === 'b');
    assert.equal(refused.reason, 'driver_busy');
    const rideB = await api(worker, 'GET', `/v1/rides/${b.id}`, { token: ops });
    assert.equal(rideB.body.status, 'searching', 'the ride stays open for the others');
    assert.equal(rideB.body.driver, null);
  });

  test('the second accept is refused 409 driver_busy over HTTP, and completing the first frees the driver', async () => {
    const spot = offset(PLACE, 30, 180);
    const d = await connectDriver('cm-2', spot);
    const a = await createRide('cm-pax-c', spot);
    const b = await createRide('cm-pax-d', offset(spot, 0.2, 0));
    await d.next(offerOf(a.id));
    await d.next(offerOf(b.id));
    const drv = token('driver', 'cm-2');
    const won = await api(worker, 'POST', `/v1/rides/${a.id}/accept`, { token: drv });
    assert.equal(won.status, 200, won.text);
    const busy = await api(worker, 'POST', `/v1/rides/${b.id}/accept`, { token: drv });
    assert.equal(busy.status, 409, busy.text);
    assert.equal(busy.body.error.code, 'driver_busy');
    for (const step of ['arrived', 'start', 'complete']) {
      const res = await api(worker, 'POST', `/v1/rides/${a.id}/${step}`, { token: drv });
      assert.equal(res.status, 200, `${step}: ${res.text}`);
    }
    // Free again: a new ride is offered to it and its accept is taken.
    const c = await createRide('cm-pax-e', spot);
    await d.next(offerOf(c.id));
    const next = await api(worker, 'POST', `/v1/rides/${c.id}/accept`, { token: drv });
    assert.equal(next.status, 200, next.text);
  });
});

describe('commitments follow the driver', () => {
  const HOME = { lat: -26.2041, lng: 28.0473 }; // Johannesburg

  test('an assigned driver reconnecting in another region gets its ride back, relays, gets no offers, hears the cancel', async () => {
    const d = await connectDriver('cm-3', offset(HOME, 0.5, 0));
    const ride = await createRide('cm-pax-f', HOME);
    await d.next(offerOf(ride.id));
    d.send({ type: 'accept_ride', ride_id: ride.id });
    await d.next((f) => f.type === 'ride_assigned' && f.ride.id === ride.id);
    const pax = await rider('cm-pax-f', ride.id);
    d.close();

    // The phone comes back 40 km away: another region.
    const away = offset(HOME, 40, 0);
    const again = await connectDriver('cm-3', away, { registered: true });
    assert.notEqual(again.hello.region, d.hello.region);
    const resent = await again.next((f) => f.type === 'ride_assigned' && f.ride.id === ride.id);
    assert.equal(resent.ride.driver.id, 'cm-3');

    again.send({ type: 'location_update', lat: away.lat, lng: away.lng });
    const relayed = await pax.next((f) => f.type === 'driver_location' && f.lat === away.lat);
    assert.equal(relayed.lng, away.lng);

    // A ride next to it in the new region goes to another driver, never to the busy one.
    const other = await connectDriver('cm-4', offset(away, 0.4, 90));
    const nearby = await createRide('cm-pax-g', offset(away, 0.2, 0));
    await other.next(offerOf(nearby.id));
    await sleep(300);
    assert.equal(again.frames.filter(offerOf(nearby.id)).length, 0, 'a busy driver is never offered a ride');

    pax.send({ type: 'cancel_ride', reason: 'changed plans' });
    const cancelled = await again.next((f) => f.type === 'ride_updated' && f.ride.id === ride.id);
    assert.equal(cancelled.ride.status, 'cancelled');
  });

  test('frames for a driver with no socket open wait for its next connect', async () => {
    const d = await connectDriver('cm-5', offset(HOME, 60, 90));
    const ride = await createRide('cm-pax-h', offset(HOME, 60, 90));
    await d.next(offerOf(ride.id));
    d.send({ type: 'accept_ride', ride_id: ride.id });
    await d.next((f) => f.type === 'ride_assigned');
    d.close();
    await sleep(200);
    const cancel = await api(worker, 'POST', `/v1/rides/${ride.id}/cancel`, { token: token('passenger', 'cm-pax-h') });
    assert.equal(cancel.status, 200, cancel.text);
    const again = await connectDriver('cm-5', offset(HOME, 60, 90), { registered: true });
    const told = await again.next((f) => f.type === 'ride_updated' && f.ride.id === ride.id);
    assert.equal(told.ride.status, 'cancelled');
    assert.equal(again.received('ride_assigned').length, 0, 'the ended ride is not sent as active');
  });
});

describe('races', () => {
  const CITY = { lat: -33.9249, lng: 18.4241 }; // Cape Town

  test('an accept racing the passenger cancel never leaves the driver busy', async () => {
    const spot = offset(CITY, 1, 0);
    const d = await connectDriver('cm-6', spot);
    const drv = token('driver', 'cm-6');
    for (let i = 0; i < 8; i++) {
      const pax = `cm-race-${i}`;
      const ride = await createRide(pax, spot);
      await d.next(offerOf(ride.id));
      await Promise.all([
        api(worker, 'POST', `/v1/rides/${ride.id}/accept`, { token: drv }),
        api(worker, 'POST', `/v1/rides/${ride.id}/cancel`, { token: token('passenger', pax) }),
      ]);
      const final = await api(worker, 'GET', `/v1/rides/${ride.id}`, { token: ops });
      assert.equal(final.body.status, 'cancelled', `round ${i}`);
    }
    // Not busy: the next ride is offered and taken.
    const last = await createRide('cm-race-last', spot);
    await d.next(offerOf(last.id));
    const won = await api(worker, 'POST', `/v1/rides/${last.id}/accept`, { token: drv });
    assert.equal(won.status, 200, won.text);
  });

  test('view_ride then accept_ride back to back keeps the location relay', async () => {
    const spot = offset(CITY, 20, 90);
    const d = await connectDriver('cm-7', spot);
    const ride = await createRide('cm-pax-i', spot);
    await d.next(offerOf(ride.id));
    const pax = await rider('cm-pax-i', ride.id);
    d.send({ type: 'view_ride', ride_id: ride.id });
    d.send({ type: 'accept_ride', ride_id: ride.id });
    await d.next((f) => f.type === 'ride_assigned');
    await sleep(1100);
    const moved = offset(spot, 0.1, 0);
    d.send({ type: 'location_update', lat: moved.lat, lng: moved.lng });
    const relayed = await pax.next((f) => f.type === 'driver_location' && f.lat === moved.lat);
    assert.equal(relayed.lng, moved.lng);
  });

  test('declines arriving together start one next round and never expire a ride with drivers left', async () => {
    const spot = offset(CITY, 40, 180);
    const drivers = [];
    for (let i = 0; i < 6; i++) drivers.push(await connectDriver(`cm-dec-${i}`, offset(spot, 0.3 + i * 0.2, i * 60)));
    const ride = await createRide('cm-pax-j', spot);
    let first = [];
    for (let waited = 0; first.length < 3 && waited < 5000; waited += 50) {
      await sleep(50);
      first = drivers.filter((d) => d.frames.some(offerOf(ride.id)));
    }
    assert.equal(first.length, 3, 'the first round offers OFFER_BATCH drivers');
    for (const d of first) d.send({ type: 'decline_ride', ride_id: ride.id });
    const rest = drivers.filter((d) => !first.includes(d));
    await Promise.all(rest.map((d) => d.next(offerOf(ride.id))));
    const now = await api(worker, 'GET', `/v1/rides/${ride.id}`, { token: ops });
    assert.equal(now.body.status, 'searching');
    assert.equal(now.body.offer_round, 2);
  });
});

describe('a ride ending reaches every driver offered it', () => {
  test('drivers offered the ride in an earlier round hear its cancellation', async () => {
    const w = await startWorker({ vars: { OFFER_TIMEOUT_S: '1', OFFER_BATCH: '1', MAX_ROUNDS: '3' } });
    const local = [];
    try {
      const spot = { lat: -29.8587, lng: 31.0218 }; // Durban
      const connect = async (id, at) => {
        await registerDriver(w, id, { by: ops, name: id, phone: '+27435550112' });
        const c = await Client.open(w.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}`), { token: token('driver', id) });
        await c.next('connected');
        local.push(c);
        return c;
      };
      const d1 = await connect('cm-er-1', offset(spot, 0.5, 0));
      const d2 = await connect('cm-er-2', offset(spot, 0.9, 0));
      const res = await api(w, 'POST', '/v1/rides', {
        token: token('passenger', 'cm-er-pax'),
        body: { pickup: spot, dropoff: offset(spot, 3, 0) },
      });
      assert.equal(res.status, 201, res.text);
      const id = res.body.id;
      await d1.next(offerOf(id));
      await d2.next(offerOf(id), 5000); // round 2, after the first round's second
      const cancel = await api(w, 'POST', `/v1/rides/${id}/cancel`, { token: token('passenger', 'cm-er-pax') });
      assert.equal(cancel.status, 200, cancel.text);
      for (const d of [d1, d2]) await d.next((f) => f.type === 'ride_cancelled' && f.ride_id === id);
    } finally {
      for (const c of local) c.close();
      await w.close();
    }
  });
});
