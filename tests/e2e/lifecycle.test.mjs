// A ride after dispatch started, end to end (PROTOCOL.md "Dispatch rules", "Driver socket",
// "Ride socket"; docs/protocol.md part 2): declines and the early next round they cause,
// cancellation by each party at each stage and who hears of it, the assigned driver's status steps
// with the passenger's numbered events, and the live driver_location relay (once a second, the
// latest sent again on connect).
//
// One worker with OFFER_BATCH=2, MAX_ROUNDS=3 and OFFER_TIMEOUT_S=120 (rounds here only ever end
// early, by declines). Every test works at its own spot, 40 km from any other, with its own drivers
// and passengers, so a busy, declined or offered driver of one test never meets another's ride.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startWorker, token, registerDriver } from './helpers.mjs';
import { Client, offset, sleep } from './ws-client.mjs';

const DURBAN = { lat: -29.8587, lng: 31.0218 };
const SPOT_SPACING_KM = 40;
let spots = 0;
/** A pickup no other test uses: 40 km west of the last one (DISPATCH_RADIUS_KM is 10). */
const newSpot = () => offset(DURBAN, SPOT_SPACING_KM * spots++, 270);

const ops = token('dispatcher', 'lc-ops');
let worker;
const sockets = [];

before(async () => {
  worker = await startWorker({ vars: { OFFER_TIMEOUT_S: '120', OFFER_BATCH: '2', MAX_ROUNDS: '3' } });
});
after(async () => {
  for (const c of sockets) c.close();
  await worker?.close();
});

function assertError(res, status, code) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body?.error?.code, code, res.text);
  assert.match(res.body.error.message, /\S/);
}

/** Registers driver `id` (PUT by a dispatcher) and connects its socket at `at`. */
async function connectDriver(id, at) {
  await registerDriver(worker, id, { by: ops, phone: '+27315550100', registration: `ND ${id}` });
  const client = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}`), { token: token('driver', id) });
  sockets.push(client);
  const hello = await client.next('connected');
  assert.equal(hello.driver_id, id);
  client.id = id;
  client.at = at;
  client.jwt = token('driver', id);
  return client;
}

/** Creates a ride at `pickup` as passenger `sub` (or as partner `sub` with role 'partner'); 201, searching. */
async function createRide(sub, pickup, { role = 'passenger', extra = {} } = {}) {
  const body = { pickup, dropoff: offset(pickup, 5, 0), ...extra };
  if (role === 'partner' && !body.passenger) body.passenger = { name: 'Thandi', phone: '+27315550199' };
  const res = await api(worker, 'POST', '/v1/rides', { token: token(role, sub, { name: `${sub} name` }), body });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.status, 'searching', 'a driver is nearby, so the ride is searching');
  return res.body;
}

const isOfferOf = (rideId) => (f) => f.type === 'ride_offer' && f.ride.id === rideId;

/** The driver's ride_offer for the ride (already received or the next one). */
async function offerTo(driver, rideId, ms = 5000) {
  return driver.frames.find(isOfferOf(rideId)) ?? driver.next(isOfferOf(rideId), ms);
}

/** The driver waits for the offer, accepts it on its socket and gets ride_assigned; returns the ride. */
async function acceptRide(driver, rideId) {
  await offerTo(driver, rideId);
  const reqId = `accept-${driver.id}`;
  driver.send({ type: 'accept_ride', ride_id: rideId, req_id: reqId });
  const assigned = await driver.next((f) => f.type === 'ride_assigned' && f.ride.id === rideId);
  assert.equal(assigned.req_id, reqId);
  assert.equal(assigned.ride.status, 'accepted');
  assert.equal(assigned.ride.driver.id, driver.id);
  return assigned.ride;
}

/** Opens the ride socket (by default ?last_seq=0, replaying every event) and waits for `connected`. */
async function openRideSocket(rideId, jwt, query = '?last_seq=0') {
  const c = await Client.open(worker.wsUrl(`/v1/ws/rides/${rideId}${query}`), { token: jwt });
  sockets.push(c);
  c.hello = await c.next('connected');
  assert.equal(c.hello.ride_id, rideId);
  return c;
}

/** [type, seq] of every numbered event a ride socket received, in arrival order. */
const sequenced = (c) => c.frames.filter((f) => f.seq !== undefined).map((f) => [f.type, f.seq]);

/** A ride accepted by its own driver at a fresh spot: the common start of the later tests. */
async function assignedRide(tag, extra = {}) {
  const pickup = newSpot();
  const driver = await connectDriver(`lc-${tag}-d`, offset(pickup, 1, 45));
  const paxSub = `lc-${tag}-pax`;
  const ride = await createRide(paxSub, pickup, { extra });
  const accepted = await acceptRide(driver, ride.id);
  return { pickup, driver, ride: accepted, paxSub, paxJwt: token('passenger', paxSub) };
}

const step = (driver, rideId, path, body) => api(worker, 'POST', `/v1/rides/${rideId}/${path}`, { token: driver.jwt, body });
const cancel = (rideId, jwt, body = {}) => api(worker, 'POST', `/v1/rides/${rideId}/cancel`, { token: jwt, body });
const getRide = async (rideId) => (await api(worker, 'GET', `/v1/rides/${rideId}`, { token: ops })).body;

/** D1's rides.status once it is `want` (D1 is written behind the Durable Object), else the last seen. */
async function d1Status(rideId, want) {
  let row;
  for (let i = 0; i < 100; i++) {
    row = await worker.db.prepare('SELECT status FROM rides WHERE id = ?').bind(rideId).first();
    if (row?.status === want) break;
    await sleep(50);
  }
  return row?.status;
}

/** D1's ride_events of the ride as {seq, type}, once there are at least `count`. */
async function d1Events(rideId, count) {
  let rows = [];
  for (let i = 0; i < 100; i++) {
    rows = (await worker.db.prepare('SELECT seq, type FROM ride_events WHERE ride_id = ? ORDER BY seq').bind(rideId).all()).results;
    if (rows.length >= count) break;
    await sleep(50);
  }
  return rows;
}

/** Sends a ping and waits for its pong: every earlier frame on this socket has been handled. */
async function sync(client, tag) {
  client.send({ type: 'ping', req_id: tag });
  await client.next((f) => f.type === 'pong' && f.req_id === tag);
}

describe('declining an offer', () => {
  test('when every round-1 driver declines (HTTP and socket) round 2 starts at once with the next nearest; when that driver declines too round 3 finds nobody and the ride keeps searching', async () => {
    const pickup = newSpot();
    const a = await connectDriver('lc-dec-a', offset(pickup, 1, 90));
    const b = await connectDriver('lc-dec-b', offset(pickup, 2, 90));
    const c = await connectDriver('lc-dec-c', offset(pickup, 3, 90));
    const ride = await createRide('lc-dec-pax', pickup);
    await offerTo(a, ride.id);
    await offerTo(b, ride.id);
    const pax = await openRideSocket(ride.id, token('passenger', 'lc-dec-pax'));
    const round1 = await pax.next('searching');
    assert.deepEqual([round1.seq, round1.round, round1.drivers_notified], [2, 1, 2]);
    assert.equal(c.received('ride_offer').length, 0, 'OFFER_BATCH=2: round 1 reaches the two nearest only');

    // b declines over HTTP: 204, no body. a still holds the offer, so the round goes on.
    const declined = await api(worker, 'POST', `/v1/rides/${ride.id}/decline`, { token: b.jwt });
    assert.equal(declined.status, 204, declined.text);
    assert.equal(declined.text, '');
    await sleep(300);
    assert.equal(c.received('ride_offer').length, 0, 'one decline of two does not end the round');
    assert.equal(pax.received('searching').length, 1);

    // a declines over its socket: every round-1 driver has declined, round 2 starts now (not after 120 s).
    a.send({ type: 'decline_ride', ride_id: ride.id });
    const offer2 = await c.next(isOfferOf(ride.id), 5000);
    assert.ok(offer2.expires_at > Date.now());
    const round2 = await pax.next('searching');
    assert.deepEqual([round2.seq, round2.round, round2.drivers_notified], [3, 2, 1]);
    const during = await getRide(ride.id);
    assert.equal(during.status, 'searching');
    assert.equal(during.offer_round, 2);

    // A driver who declined may not accept afterwards, over HTTP or its socket.
    assertError(await api(worker, 'POST', `/v1/rides/${ride.id}/accept`, { token: a.jwt }), 403, 'not_offered');
    b.send({ type: 'accept_ride', ride_id: ride.id, req_id: 'b-accept' });
    const refused = await b.next((f) => f.type === 'accept_failed' && f.ride_id === ride.id);
    assert.equal(refused.reason, 'not_offered');
    assert.equal(refused.req_id, 'b-accept');
    assert.equal((await getRide(ride.id)).status, 'searching', 'the refused accepts changed nothing');

    // c declines as well: round 3 starts at once and finds nobody; the ride keeps searching
    // (it would expire when round 3 times out, after OFFER_TIMEOUT_S: rounds.test.mjs).
    c.send({ type: 'decline_ride', ride_id: ride.id, req_id: 'c-decline' });
    const round3 = await pax.next((f) => f.type === 'searching' && f.round === 3);
    assert.deepEqual([round3.seq, round3.drivers_notified], [4, 0]);
    assert.deepEqual(sequenced(pax), [['ride_created', 1], ['searching', 2], ['searching', 3], ['searching', 4]]);
    const after3 = await getRide(ride.id);
    assert.deepEqual([after3.status, after3.offer_round], ['searching', 3]);
    for (const d of [a, b, c]) {
      assert.equal(d.received('ride_offer').filter(isOfferOf(ride.id)).length, 1, `${d.id} was offered the ride once`);
    }
  });

  test('a driver the ride was never offered to may not decline it: HTTP 403 not_offered, socket error not_offered with the req_id; the offer stands', async () => {
    const pickup = newSpot();
    const holder = await connectDriver('lc-dec-holder', offset(pickup, 1, 180));
    const stranger = await connectDriver('lc-dec-stranger', newSpot());
    const ride = await createRide('lc-dec-pax2', pickup);
    await offerTo(holder, ride.id);

    assertError(await api(worker, 'POST', `/v1/rides/${ride.id}/decline`, { token: stranger.jwt }), 403, 'not_offered');
    stranger.send({ type: 'decline_ride', ride_id: ride.id, req_id: 'stray-decline' });
    const err = await stranger.next((f) => f.type === 'error' && f.req_id === 'stray-decline');
    assert.equal(err.code, 'not_offered');

    const still = await getRide(ride.id);
    assert.equal(still.status, 'searching');
    assert.equal(still.offer_round, 1);
    const accepted = await api(worker, 'POST', `/v1/rides/${ride.id}/accept`, { token: holder.jwt });
    assert.equal(accepted.status, 200, accepted.text);
    assert.equal(accepted.body.driver.id, holder.id);
  });
});

describe('cancelling a ride', () => {
  describe('its passenger cancels a searching ride over HTTP', () => {
    let ride;
    let first;
    let pax;
    let offered;
    const paxJwt = token('passenger', 'lc-can-pax');

    test('200 the cancelled ride; the ride socket hears ride_cancelled by passenger; drivers holding the offer hear ride_cancelled with the reason', async () => {
      const pickup = newSpot();
      offered = [await connectDriver('lc-can-p1', offset(pickup, 1, 0)), await connectDriver('lc-can-p2', offset(pickup, 2, 0))];
      ride = await createRide('lc-can-pax', pickup);
      for (const d of offered) await offerTo(d, ride.id);
      pax = await openRideSocket(ride.id, paxJwt);
      await pax.next('searching');

      first = await cancel(ride.id, paxJwt, { reason: 'changed plans' });
      assert.equal(first.status, 200, first.text);
      assert.equal(first.body.id, ride.id);
      assert.equal(first.body.status, 'cancelled');
      assert.equal(first.body.cancelled_by, 'passenger');
      assert.equal(first.body.cancel_reason, 'changed plans');
      assert.equal(typeof first.body.cancelled_at, 'number');
      assert.ok(Math.abs(first.body.cancelled_at - Date.now()) < 60_000);
      assert.deepEqual(await getRide(ride.id), first.body);

      const event = await pax.next('ride_cancelled');
      assert.deepEqual([event.seq, event.by, event.reason], [3, 'passenger', 'changed plans']);
      for (const d of offered) {
        const note = await d.next((f) => f.type === 'ride_cancelled' && f.ride_id === ride.id);
        assert.equal(note.reason, 'changed plans');
      }
      assert.equal(await d1Status(ride.id, 'cancelled'), 'cancelled');
    });

    test('a cancelled ride cannot be accepted: HTTP 410 ride_closed, socket accept_failed ride_closed', async () => {
      assertError(await api(worker, 'POST', `/v1/rides/${ride.id}/accept`, { token: offered[0].jwt }), 410, 'ride_closed');
      offered[1].send({ type: 'accept_ride', ride_id: ride.id, req_id: 'late-accept' });
      const refused = await offered[1].next((f) => f.type === 'accept_failed' && f.ride_id === ride.id);
      assert.equal(refused.reason, 'ride_closed');
      assert.equal(refused.req_id, 'late-accept');
      assert.equal((await getRide(ride.id)).status, 'cancelled');
    });

    test('cancelling it again is 200 with the same ride and no second event', async () => {
      const again = await cancel(ride.id, paxJwt, { reason: 'second thoughts' });
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(again.body, first.body);
      const byOps = await cancel(ride.id, ops, { reason: 'ops too' });
      assert.equal(byOps.status, 200, byOps.text);
      assert.deepEqual(byOps.body, first.body, 'the first cancellation stands: by, reason and time');
      await sleep(300);
      assert.equal(pax.received('ride_cancelled').length, 1);
      for (const d of offered) {
        assert.equal(d.received('ride_cancelled').filter((f) => f.ride_id === ride.id).length, 1, d.id);
      }
      assert.deepEqual(await d1Events(ride.id, 3), [
        { seq: 1, type: 'ride_created' },
        { seq: 2, type: 'searching' },
        { seq: 3, type: 'ride_cancelled' },
      ]);
    });
  });

  test('its partner cancels the searching ride it created, without a reason: the ride socket hears by partner with reason null, the offered driver reason "cancelled"', async () => {
    const pickup = newSpot();
    const d = await connectDriver('lc-can-partner-d', offset(pickup, 1.5, 300));
    const partnerJwt = token('partner', 'lc-can-partner');
    const ride = await createRide('lc-can-partner', pickup, { role: 'partner' });
    assert.equal(ride.partner_id, 'lc-can-partner');
    await offerTo(d, ride.id);
    const watch = await openRideSocket(ride.id, partnerJwt);
    await watch.next('searching');

    const res = await cancel(ride.id, partnerJwt, {});
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.status, 'cancelled');
    assert.equal(res.body.cancelled_by, 'partner');
    assert.equal(res.body.cancel_reason, null);
    assert.equal(typeof res.body.cancelled_at, 'number');
    const event = await watch.next('ride_cancelled');
    assert.deepEqual([event.seq, event.by, event.reason], [3, 'partner', null]);
    const note = await d.next((f) => f.type === 'ride_cancelled' && f.ride_id === ride.id);
    assert.equal(note.reason, 'cancelled');
  });

  test('a driver only offered the ride may not cancel it (403 forbidden), a stranger passenger gets 404 not_found, and the ride carries on', async () => {
    const pickup = newSpot();
    const d1 = await connectDriver('lc-can-deny-1', offset(pickup, 1, 120));
    const d2 = await connectDriver('lc-can-deny-2', offset(pickup, 2, 120));
    const ride = await createRide('lc-can-deny-pax', pickup);
    await offerTo(d1, ride.id);
    await offerTo(d2, ride.id);
    const pax = await openRideSocket(ride.id, token('passenger', 'lc-can-deny-pax'));
    await pax.next('searching');

    assertError(await cancel(ride.id, d1.jwt, { reason: 'not for me' }), 403, 'forbidden');
    assertError(await cancel(ride.id, token('passenger', 'lc-can-stranger'), {}), 404, 'not_found');
    await sleep(300);
    assert.equal(pax.received('ride_cancelled').length, 0);
    assert.equal(d2.received('ride_cancelled').length, 0);
    assert.equal((await getRide(ride.id)).status, 'searching');

    await acceptRide(d2, ride.id);
    await pax.next('driver_assigned');
    assertError(await cancel(ride.id, d1.jwt, {}), 403, 'forbidden');
    assert.equal((await getRide(ride.id)).status, 'accepted');
  });

  test('its passenger cancels an accepted ride over the ride socket: ride_cancelled by passenger; the assigned driver gets ride_updated and is free again', async () => {
    const { pickup, driver, ride, paxJwt } = await assignedRide('can-sock');
    const pax = await openRideSocket(ride.id, paxJwt);
    await pax.next('driver_assigned');

    pax.send({ type: 'cancel_ride', reason: 'changed plans' });
    const event = await pax.next('ride_cancelled');
    assert.deepEqual([event.seq, event.by, event.reason], [4, 'passenger', 'changed plans']);
    const updated = await driver.next((f) => f.type === 'ride_updated' && f.ride.id === ride.id && f.ride.status === 'cancelled');
    assert.equal(updated.ride.cancelled_by, 'passenger');
    assert.equal(updated.ride.cancel_reason, 'changed plans');
    const now = await getRide(ride.id);
    assert.equal(now.status, 'cancelled');
    assert.equal(now.cancelled_by, 'passenger');
    assert.equal(now.cancel_reason, 'changed plans');

    const next = await createRide('lc-can-sock-pax2', pickup);
    await offerTo(driver, next.id);
  });

  test('a dispatcher cancels an accepted ride: the passenger hears ride_cancelled by dispatcher; the assigned driver gets ride_updated with the cancelled ride and is offered the next ride nearby', async () => {
    const { pickup, driver, ride, paxJwt } = await assignedRide('can-ops');
    const pax = await openRideSocket(ride.id, paxJwt);
    await pax.next('driver_assigned');

    const res = await cancel(ride.id, ops, { reason: 'vehicle unsafe' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.status, 'cancelled');
    assert.equal(res.body.cancelled_by, 'dispatcher');
    assert.equal(res.body.cancel_reason, 'vehicle unsafe');
    assert.equal(typeof res.body.cancelled_at, 'number');

    const event = await pax.next('ride_cancelled');
    assert.deepEqual([event.seq, event.by, event.reason], [4, 'dispatcher', 'vehicle unsafe']);
    const updated = await driver.next((f) => f.type === 'ride_updated' && f.ride.id === ride.id && f.ride.status === 'cancelled');
    assert.equal(updated.ride.cancelled_by, 'dispatcher');
    assert.equal(updated.ride.cancel_reason, 'vehicle unsafe');
    assert.equal(await d1Status(ride.id, 'cancelled'), 'cancelled');

    const next = await createRide('lc-can-ops-pax2', pickup);
    await offerTo(driver, next.id);
  });

  test('its assigned driver cancels an arrived ride over its socket: answered ride_updated with the req_id; the passenger hears ride_cancelled by driver', async () => {
    const { pickup, driver, ride, paxJwt } = await assignedRide('can-drv');
    const arrived = await step(driver, ride.id, 'arrived');
    assert.equal(arrived.status, 200, arrived.text);
    assert.equal(arrived.body.status, 'arrived');
    const pax = await openRideSocket(ride.id, paxJwt);
    await pax.next('driver_arrived');

    driver.send({ type: 'cancel_ride', ride_id: ride.id, reason: 'passenger not at pickup', req_id: 'drv-cancel' });
    const updated = await driver.next((f) => f.type === 'ride_updated' && f.req_id === 'drv-cancel');
    assert.equal(updated.ride.id, ride.id);
    assert.equal(updated.ride.status, 'cancelled');
    assert.equal(updated.ride.cancelled_by, 'driver');
    assert.equal(updated.ride.cancel_reason, 'passenger not at pickup');
    assert.equal(typeof updated.ride.cancelled_at, 'number');

    const event = await pax.next('ride_cancelled');
    assert.deepEqual([event.seq, event.by, event.reason], [5, 'driver', 'passenger not at pickup']);
    assert.equal((await getRide(ride.id)).status, 'cancelled');
    assert.equal(await d1Status(ride.id, 'cancelled'), 'cancelled');

    const next = await createRide('lc-can-drv-pax2', pickup);
    await offerTo(driver, next.id);
  });

  test('its assigned driver cancels an in-progress ride over HTTP: 200 cancelled by driver, its socket gets ride_updated, the passenger hears ride_cancelled by driver with reason null', async () => {
    const { driver, ride, paxJwt } = await assignedRide('can-drv-http');
    assert.equal((await step(driver, ride.id, 'arrived')).status, 200);
    assert.equal((await step(driver, ride.id, 'start')).status, 200);
    const pax = await openRideSocket(ride.id, paxJwt);
    await pax.next('trip_started');

    const res = await cancel(ride.id, driver.jwt, {});
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.status, 'cancelled');
    assert.equal(res.body.cancelled_by, 'driver');
    assert.equal(res.body.cancel_reason, null);
    await driver.next((f) => f.type === 'ride_updated' && f.ride.id === ride.id && f.ride.status === 'cancelled');
    const event = await pax.next('ride_cancelled');
    assert.deepEqual([event.seq, event.by, event.reason], [6, 'driver', null]);
  });

  test('a completed ride cannot be cancelled: 409 invalid_transition, and it stays completed', async () => {
    const { driver, ride, paxJwt } = await assignedRide('can-done');
    for (const path of ['arrived', 'start', 'complete']) {
      const res = await step(driver, ride.id, path);
      assert.equal(res.status, 200, `${path}: ${res.text}`);
    }
    assertError(await cancel(ride.id, paxJwt, { reason: 'too late' }), 409, 'invalid_transition');
    assertError(await cancel(ride.id, ops, {}), 409, 'invalid_transition');
    assertError(await cancel(ride.id, driver.jwt, {}), 409, 'invalid_transition');
    const now = await getRide(ride.id);
    assert.equal(now.status, 'completed');
    assert.equal(now.cancelled_at, null);
    assert.equal(now.cancelled_by, null);
    assert.equal(now.cancel_reason, null);
  });
});

describe('status steps by the assigned driver', () => {
  test('accepted → arrived (HTTP) → in_progress (socket) → completed (HTTP): the passenger socket from last_seq=0 sees exactly ride_created(1) searching(2) driver_assigned(3) driver_arrived(4) trip_started(5) ride_completed(6); D1 has the same; the driver is offered the next ride', async () => {
    const pickup = newSpot();
    const driver = await connectDriver('lc-step-d', offset(pickup, 1, 45));
    const paxJwt = token('passenger', 'lc-step-pax');
    const fare = { amount: 142.5, currency: 'ZAR' };
    const ride = await createRide('lc-step-pax', pickup, { extra: { fare } });
    const pax = await openRideSocket(ride.id, paxJwt);
    await pax.next('searching');

    const accepted = await acceptRide(driver, ride.id);
    assert.equal(typeof accepted.accepted_at, 'number');
    const assigned = await pax.next('driver_assigned');
    assert.equal(assigned.driver.id, driver.id);
    assert.equal(assigned.driver.name, `Driver ${driver.id}`);

    const arrived = await step(driver, ride.id, 'arrived');
    assert.equal(arrived.status, 200, arrived.text);
    assert.equal(arrived.body.status, 'arrived');
    assert.equal(typeof arrived.body.arrived_at, 'number');
    assert.equal(arrived.body.started_at, null);
    assert.equal(arrived.body.completed_at, null);
    await pax.next('driver_arrived');

    driver.send({ type: 'ride_status', ride_id: ride.id, status: 'in_progress', req_id: 'st-start' });
    const started = await driver.next((f) => f.type === 'ride_updated' && f.req_id === 'st-start');
    assert.equal(started.ride.id, ride.id);
    assert.equal(started.ride.status, 'in_progress');
    assert.equal(typeof started.ride.started_at, 'number');
    assert.ok(started.ride.started_at >= arrived.body.arrived_at);
    assert.equal(started.ride.completed_at, null);
    await pax.next('trip_started');

    const completed = await step(driver, ride.id, 'complete');
    assert.equal(completed.status, 200, completed.text);
    assert.equal(completed.body.status, 'completed');
    assert.equal(typeof completed.body.completed_at, 'number');
    assert.ok(completed.body.completed_at >= started.ride.started_at);
    assert.equal(completed.body.arrived_at, arrived.body.arrived_at);
    assert.equal(completed.body.started_at, started.ride.started_at);
    const done = await pax.next('ride_completed');
    assert.deepEqual(done.fare, fare);

    // The driver is free again: the next ride nearby is offered to it.
    const next = await createRide('lc-step-pax-next', pickup);
    await offerTo(driver, next.id);

    assert.deepEqual(sequenced(pax), [
      ['ride_created', 1], ['searching', 2], ['driver_assigned', 3],
      ['driver_arrived', 4], ['trip_started', 5], ['ride_completed', 6],
    ]);
    assert.equal(await d1Status(ride.id, 'completed'), 'completed');
    assert.deepEqual(await d1Events(ride.id, 6), [
      { seq: 1, type: 'ride_created' }, { seq: 2, type: 'searching' }, { seq: 3, type: 'driver_assigned' },
      { seq: 4, type: 'driver_arrived' }, { seq: 5, type: 'trip_started' }, { seq: 6, type: 'ride_completed' },
    ]);
  });

  test('over the socket each step is answered ride_updated with its req_id; a ride without a fare completes with fare null', async () => {
    const { driver, ride, paxJwt } = await assignedRide('step-sock');
    const pax = await openRideSocket(ride.id, paxJwt);
    await pax.next('driver_assigned');
    const steps = [['arrived', 'driver_arrived', 'arrived_at'], ['in_progress', 'trip_started', 'started_at'], ['completed', 'ride_completed', 'completed_at']];
    for (const [status, event, at] of steps) {
      driver.send({ type: 'ride_status', ride_id: ride.id, status, req_id: `sock-${status}` });
      const updated = await driver.next((f) => f.type === 'ride_updated' && f.req_id === `sock-${status}`);
      assert.equal(updated.ride.status, status);
      assert.equal(typeof updated.ride[at], 'number', at);
      await pax.next(event);
    }
    assert.equal(pax.received('ride_completed')[0].fare, null);
    assert.deepEqual(sequenced(pax), [
      ['ride_created', 1], ['searching', 2], ['driver_assigned', 3],
      ['driver_arrived', 4], ['trip_started', 5], ['ride_completed', 6],
    ]);
    assert.equal((await getRide(ride.id)).status, 'completed');
  });

  test('out of order steps are 409 invalid_transition (socket: error invalid_transition with the req_id) and change nothing', async () => {
    const { driver, ride, paxJwt } = await assignedRide('step-order');
    const pax = await openRideSocket(ride.id, paxJwt);
    await pax.next('driver_assigned');

    assertError(await step(driver, ride.id, 'complete'), 409, 'invalid_transition');
    assertError(await step(driver, ride.id, 'start'), 409, 'invalid_transition');
    driver.send({ type: 'ride_status', ride_id: ride.id, status: 'completed', req_id: 'too-soon' });
    const early = await driver.next((f) => f.type === 'error' && f.req_id === 'too-soon');
    assert.equal(early.code, 'invalid_transition');
    let now = await getRide(ride.id);
    assert.equal(now.status, 'accepted');
    assert.deepEqual([now.arrived_at, now.started_at, now.completed_at], [null, null, null]);

    assert.equal((await step(driver, ride.id, 'arrived')).status, 200);
    const started = await step(driver, ride.id, 'start');
    assert.equal(started.status, 200, started.text);
    assertError(await step(driver, ride.id, 'start'), 409, 'invalid_transition');
    assertError(await step(driver, ride.id, 'arrived'), 409, 'invalid_transition');
    driver.send({ type: 'ride_status', ride_id: ride.id, status: 'arrived', req_id: 'go-back' });
    const back = await driver.next((f) => f.type === 'error' && f.req_id === 'go-back');
    assert.equal(back.code, 'invalid_transition');
    now = await getRide(ride.id);
    assert.equal(now.status, 'in_progress');
    assert.equal(now.started_at, started.body.started_at, 'the refused second start did not move started_at');

    await sleep(300);
    assert.deepEqual(sequenced(pax), [['ride_created', 1], ['searching', 2], ['driver_assigned', 3], ['driver_arrived', 4], ['trip_started', 5]]);
  });

  test('another driver (offered, then beaten to it) may not take steps: HTTP 403 forbidden, socket error forbidden with the req_id', async () => {
    const pickup = newSpot();
    const winner = await connectDriver('lc-step-winner', offset(pickup, 1, 270));
    const loser = await connectDriver('lc-step-loser', offset(pickup, 2, 270));
    const ride = await createRide('lc-step-pax-rival', pickup);
    await offerTo(loser, ride.id);
    await acceptRide(winner, ride.id);
    await loser.next((f) => f.type === 'ride_taken' && f.ride_id === ride.id);

    for (const path of ['arrived', 'start', 'complete']) {
      assertError(await step(loser, ride.id, path), 403, 'forbidden');
    }
    loser.send({ type: 'ride_status', ride_id: ride.id, status: 'arrived', req_id: 'not-mine' });
    const err = await loser.next((f) => f.type === 'error' && f.req_id === 'not-mine');
    assert.equal(err.code, 'forbidden');
    assert.equal((await getRide(ride.id)).status, 'accepted');

    const arrived = await step(winner, ride.id, 'arrived');
    assert.equal(arrived.status, 200, arrived.text);
    assert.equal(arrived.body.status, 'arrived');
  });
});

describe('live driver location', () => {
  let pickup;
  let driver;
  let ride;
  let pax;
  const paxJwt = token('passenger', 'lc-loc-pax');
  let path; // 11 points a few metres apart, near the driver's start, each with a heading
  let searchingUpdateAt;
  let lastRelayReceivedAt;
  const where = (f) => ({ lat: f.lat, lng: f.lng, heading: f.heading });
  const move = (p) => driver.send({ type: 'location_update', lat: p.lat, lng: p.lng, heading: p.heading, speed: 6 });

  before(async () => {
    pickup = newSpot();
    driver = await connectDriver('lc-loc-d', offset(pickup, 1, 90));
    path = Array.from({ length: 11 }, (_, i) => ({ ...offset(driver.at, 0.005 * (i + 1), 10), heading: 5 * i }));
    ride = await createRide('lc-loc-pax', pickup);
    pax = await openRideSocket(ride.id, paxJwt);
    await pax.next('searching');
  });

  test('while the ride is searching, the offered driver\'s location_update is not relayed', async () => {
    await offerTo(driver, ride.id);
    searchingUpdateAt = Date.now();
    move(offset(driver.at, 0.002, 10));
    await sync(driver, 'loc-searching');
    await sleep(400);
    assert.equal(pax.received('driver_location').length, 0);
  });

  test('once assigned, ten updates within 300 ms reach the ride socket as one driver_location (the first, without seq); after more than a second the next update arrives with the newest position', async () => {
    await acceptRide(driver, ride.id);
    await pax.next('driver_assigned');
    // More than a second after the searching update, so only the rule under test can hold frames back.
    await sleep(Math.max(0, searchingUpdateAt + 1200 - Date.now()));

    for (let i = 0; i < 10; i++) {
      move(path[i]);
      if (i < 9) await sleep(25);
    }
    const burstEnd = Date.now();
    const first = await pax.next('driver_location', 3000);
    const firstReceivedAt = Date.now();
    assert.deepEqual(where(first), path[0]);
    assert.equal(first.seq, undefined, 'driver_location is not numbered');
    await sleep(Math.max(300, burstEnd + 700 - Date.now()));
    assert.equal(pax.received('driver_location').length, 1, 'at most one driver_location a second');

    await sleep(Math.max(0, firstReceivedAt + 1200 - Date.now()));
    move(path[10]);
    const second = await pax.next('driver_location', 3000);
    lastRelayReceivedAt = Date.now();
    assert.deepEqual(where(second), path[10]);
    assert.equal(second.seq, undefined);
    assert.equal(pax.received('driver_location').length, 2);
    assert.deepEqual(sequenced(pax), [['ride_created', 1], ['searching', 2], ['driver_assigned', 3]], 'locations add no events');
  });

  test('a passenger who connects later gets the latest driver_location right after connected and the replay', async () => {
    const replayed = await openRideSocket(ride.id, paxJwt, '?last_seq=0');
    assert.deepEqual(where(await replayed.next('driver_location')), path[10]);
    assert.deepEqual(
      replayed.frames.map((f) => f.type),
      ['connected', 'ride_created', 'searching', 'driver_assigned', 'driver_location'],
    );
    assert.equal(replayed.hello.last_seq, 3);
    replayed.close();

    const resumed = await openRideSocket(ride.id, paxJwt, '?last_seq=3');
    assert.deepEqual(where(await resumed.next('driver_location')), path[10]);
    assert.deepEqual(resumed.frames.map((f) => f.type), ['connected', 'driver_location']);
    resumed.close();

    const fresh = await openRideSocket(ride.id, paxJwt, '');
    assert.deepEqual(where(await fresh.next('driver_location')), path[10]);
    assert.deepEqual(fresh.frames.map((f) => f.type), ['connected', 'driver_location']);
    fresh.close();
  });

  test('after the ride is completed, location updates are no longer relayed', async () => {
    for (const p of ['arrived', 'start', 'complete']) {
      const res = await step(driver, ride.id, p);
      assert.equal(res.status, 200, `${p}: ${res.text}`);
    }
    await pax.next('ride_completed');
    const seen = pax.received('driver_location').length;
    // More than a second after the last relayed position, so the throttle cannot be what holds it back.
    await sleep(Math.max(0, lastRelayReceivedAt + 1200 - Date.now()));
    move(offset(driver.at, 0.08, 10));
    await sync(driver, 'loc-after');
    await sleep(400);
    assert.equal(pax.received('driver_location').length, seen);
  });
});
