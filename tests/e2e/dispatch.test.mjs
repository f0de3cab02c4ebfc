// Real-time dispatch end to end (PROTOCOL.md "Driver socket", "Ride socket", "Dispatch rules"):
// drivers on sockets in Region DOs, offers to the nearest eligible drivers across region borders,
// the exactly-once accept in the Ride DO over sockets and HTTP at once, the accept lock, busy drivers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startWorker, token, registerDriver } from './helpers.mjs';
import { Client, offset, sleep } from './ws-client.mjs';

const PICKUP = { lat: -26.2041, lng: 28.0473 };
const DROPOFF = { lat: -26.1076, lng: 28.0567 };
const ops = token('dispatcher', 'ops');

// Ten drivers around the pickup: km from it and bearing. d1 is unavailable, d8 and d9 are beyond 10 km.
const LAYOUT = [
  ['d0', 0.5, 0], ['d1', 1.0, 90], ['d2', 2.0, 180], ['d3', 3.0, 270], ['d4', 4.0, 45],
  ['d5', 6.0, 225], ['d6', 8.0, 135], ['d7', 9.5, 315], ['d8', 12.0, 0], ['d9', 15.0, 90],
];
const NEAREST_ELIGIBLE = ['d0', 'd2', 'd3', 'd4', 'd5'];

let worker;
const drivers = new Map();

async function connectDriver(id, at) {
  await registerDriver(worker, id, { by: ops, phone: '+27825550100', registration: `GP ${id}` });
  const client = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}`), { token: token('driver', id) });
  const hello = await client.next('connected');
  assert.equal(hello.driver_id, id);
  client.region = hello.region;
  return client;
}

async function createRide(sub = 'pax-1') {
  const res = await api(worker, 'POST', '/v1/rides', { token: token('passenger', sub), body: { pickup: PICKUP, dropoff: DROPOFF } });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

async function offeredFor(rideId, ids, ms = 3000) {
  const offered = [];
  await Promise.all(ids.map(async (id) => {
    try {
      await drivers.get(id).next((f) => f.type === 'ride_offer' && f.ride.id === rideId, ms);
      offered.push(id);
    } catch { /* not offered */ }
  }));
  return offered.sort();
}

before(async () => {
  worker = await startWorker({ vars: { OFFER_TIMEOUT_S: '120' } });
  for (const [id, km, bearing] of LAYOUT) drivers.set(id, await connectDriver(id, offset(PICKUP, km, bearing)));
  drivers.get('d1').send({ type: 'set_available', available: false });
  drivers.get('d1').send({ type: 'ping', req_id: 'sync' });
  await drivers.get('d1').next((f) => f.type === 'pong' && f.req_id === 'sync');
});
after(async () => {
  for (const client of drivers.values()) client.close();
  await worker?.close();
});

describe('driver sockets', () => {
  test('ping is answered with pong and the req_id', async () => {
    const d = drivers.get('d0');
    d.send({ type: 'ping', req_id: 'p-1' });
    const pong = await d.next((f) => f.type === 'pong' && f.req_id === 'p-1');
    assert.equal(typeof pong.ts, 'number');
  });

  test('a malformed frame is bad_message and the socket stays open', async () => {
    const d = drivers.get('d0');
    d.send('{not json');
    assert.equal((await d.next('error')).code, 'bad_message');
    d.send({ type: 'teleport', req_id: 'x' });
    const unknown = await d.next('error');
    assert.equal(unknown.code, 'bad_message');
    assert.equal(unknown.req_id, 'x');
    d.send({ type: 'location_update', lat: 123, lng: 0 });
    assert.equal((await d.next('error')).code, 'bad_message');
    d.send({ type: 'ping', req_id: 'still-open' });
    await d.next((f) => f.type === 'pong' && f.req_id === 'still-open');
  });

  test('a driver socket without a token, or with a passenger token, is refused', async () => {
    await assert.rejects(Client.open(worker.wsUrl(`/v1/ws/driver?lat=0&lng=0`)), (e) => e.status === 401);
    await assert.rejects(
      Client.open(worker.wsUrl(`/v1/ws/driver?lat=0&lng=0`), { token: token('passenger', 'p') }),
      (e) => e.status === 403,
    );
  });

  test('an unregistered driver is refused with 403', async () => {
    await assert.rejects(
      Client.open(worker.wsUrl(`/v1/ws/driver?lat=0&lng=0`), { token: token('driver', 'nobody') }),
      (e) => e.status === 403 && /not registered/.test(e.body),
    );
  });

  test('the token may come from ?token= on a socket', async () => {
    const at = offset(PICKUP, 0.5, 0); // where d0 already is: a second socket must not move it
    const c = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}&token=${token('driver', 'd0')}`));
    assert.equal((await c.next('connected')).driver_id, 'd0');
    c.close();
  });

  test('bad coordinates are refused with 400 before any socket opens', async () => {
    await assert.rejects(
      Client.open(worker.wsUrl(`/v1/ws/driver?lat=95&lng=0`), { token: token('driver', 'd0') }),
      (e) => e.status === 400,
    );
  });
});

describe('dispatch', () => {
  let ride;
  test('exactly the five nearest eligible drivers get the offer, and the passenger hears searching', async () => {
    ride = await createRide();
    const offered = await offeredFor(ride.id, [...drivers.keys()]);
    assert.deepEqual(offered, NEAREST_ELIGIBLE);
    const regions = new Set(NEAREST_ELIGIBLE.map((id) => drivers.get(id).region));
    assert.ok(regions.size >= 2, `the offered drivers span region borders (${[...regions]})`);
    const offer = drivers.get('d0').received('ride_offer').find((f) => f.ride.id === ride.id);
    assert.deepEqual(offer.ride.pickup, { ...PICKUP, address: null });
    assert.ok(Math.abs(offer.distance_to_pickup_m - 500) < 5, `distance ${offer.distance_to_pickup_m}`);
    assert.ok(offer.expires_at > Date.now());

    const pax = await Client.open(worker.wsUrl(`/v1/ws/rides/${ride.id}?last_seq=0`), { token: token('passenger', 'pax-1') });
    const hello = await pax.next('connected');
    assert.equal(hello.status, 'searching');
    const searching = await pax.next('searching');
    assert.equal(searching.round, 1);
    assert.equal(searching.drivers_notified, 5);
    assert.equal(searching.seq, hello.last_seq);
    pax.close();
  });

  test('twenty accepts at once over sockets and HTTP give exactly one winner', async () => {
    const pax = await Client.open(worker.wsUrl(`/v1/ws/rides/${ride.id}`), { token: token('passenger', 'pax-1') });
    await pax.next('connected');
    const http = [];
    for (let i = 0; i < 20; i++) {
      const id = NEAREST_ELIGIBLE[i % 5];
      if (i % 2 === 0) drivers.get(id).send({ type: 'accept_ride', ride_id: ride.id, req_id: `a-${i}` });
      else http.push(api(worker, 'POST', `/v1/rides/${ride.id}/accept`, { token: token('driver', id) }).then((r) => ({ id, r })));
    }
    const stranger = api(worker, 'POST', `/v1/rides/${ride.id}/accept`, { token: token('driver', 'd8') });
    const answers = await Promise.all(http);
    assert.equal((await stranger).body.error.code, 'not_offered');
    assert.equal((await stranger).status, 403);

    const assigned = await pax.next('driver_assigned');
    const winner = assigned.driver.id;
    assert.ok(NEAREST_ELIGIBLE.includes(winner));
    assert.equal(assigned.driver.name, `Driver ${winner}`);
    await drivers.get(winner).next((f) => f.type === 'ride_assigned' && f.ride.id === ride.id);
    for (const { id, r } of answers) {
      if (r.status === 200) assert.equal(id, winner, 'only the winner gets 200');
      else {
        assert.equal(r.status, 409, r.text);
        assert.equal(r.body.error.code, 'ride_taken');
      }
    }
    for (const id of NEAREST_ELIGIBLE.filter((d) => d !== winner)) {
      await drivers.get(id).next((f) => f.type === 'ride_taken' && f.ride_id === ride.id);
    }
    await sleep(300);
    const everyAssigned = [...drivers.values()].flatMap((c) => c.received('ride_assigned')).filter((f) => f.ride.id === ride.id);
    assert.equal(everyAssigned.length, 1, 'one ride_assigned in all');
    assert.equal(pax.received('driver_assigned').length, 1, 'one driver_assigned');
    const failed = [...drivers.values()].flatMap((c) => c.received('accept_failed')).filter((f) => f.ride_id === ride.id);
    assert.ok(failed.every((f) => f.reason === 'ride_taken'), JSON.stringify(failed));

    const row = await worker.db.prepare('SELECT status, driver_id FROM rides WHERE id = ?').bind(ride.id).first();
    assert.deepEqual(row, { status: 'accepted', driver_id: winner });
    const get = await api(worker, 'GET', `/v1/rides/${ride.id}`, { token: ops });
    assert.equal(get.body.status, 'accepted');
    assert.equal(get.body.driver.id, winner);
    pax.close();
    drivers.winner = winner;
  });

  test('a busy driver is not offered the next ride', async () => {
    const next = await createRide('pax-2');
    const offered = await offeredFor(next.id, [...drivers.keys()], 2000);
    assert.equal(offered.length, 5);
    assert.ok(!offered.includes(drivers.winner), `${drivers.winner} is busy`);
  });

  test('a lock holder wins against a competitor', async () => {
    const ride3 = await createRide('pax-3');
    const offered = await offeredFor(ride3.id, [...drivers.keys()], 2000);
    const [holder, rival] = offered;
    drivers.get(holder).send({ type: 'request_lock', ride_id: ride3.id, req_id: 'lock-1' });
    const lock = await drivers.get(holder).next((f) => f.type === 'lock_acquired' && f.ride_id === ride3.id);
    assert.equal(lock.req_id, 'lock-1');
    assert.ok(lock.expires_at > Date.now());
    drivers.get(rival).send({ type: 'request_lock', ride_id: ride3.id });
    assert.equal((await drivers.get(rival).next((f) => f.type === 'lock_failed')).reason, 'ride_locked');
    drivers.get(rival).send({ type: 'accept_ride', ride_id: ride3.id, req_id: 'r' });
    const refused = await drivers.get(rival).next((f) => f.type === 'accept_failed' && f.ride_id === ride3.id);
    assert.equal(refused.reason, 'ride_locked');
    assert.equal(refused.req_id, 'r');
    const http = await api(worker, 'POST', `/v1/rides/${ride3.id}/accept`, { token: token('driver', rival) });
    assert.equal(http.status, 409);
    assert.equal(http.body.error.code, 'ride_locked');
    drivers.get(holder).send({ type: 'accept_ride', ride_id: ride3.id, req_id: 'h' });
    const won = await drivers.get(holder).next((f) => f.type === 'ride_assigned' && f.ride.id === ride3.id);
    assert.equal(won.req_id, 'h');
  });
});

describe('GET /v1/drivers/{id} while connected', () => {
  test('shows online, availability and the last position', async () => {
    const d0 = await api(worker, 'GET', '/v1/drivers/d0', { token: ops });
    assert.equal(d0.status, 200, d0.text);
    assert.equal(d0.body.online, true);
    const at = offset(PICKUP, 0.5, 0);
    assert.ok(Math.abs(d0.body.location.lat - at.lat) < 1e-9 && Math.abs(d0.body.location.lng - at.lng) < 1e-9);
    assert.equal((await api(worker, 'GET', '/v1/drivers/d1', { token: token('driver', 'd1') })).body.available, false);
    const busy = await api(worker, 'GET', `/v1/drivers/${drivers.winner}`, { token: ops });
    assert.equal(busy.body.online, true);
    assert.equal(busy.body.available, false, 'a driver with an active ride is not available');
  });

  test('a location_update moves the driver', async () => {
    const to = offset(PICKUP, 0.7, 10);
    drivers.get('d0').send({ type: 'location_update', lat: to.lat, lng: to.lng, heading: 10, speed: 8.5 });
    drivers.get('d0').send({ type: 'ping', req_id: 'after-move' });
    await drivers.get('d0').next((f) => f.type === 'pong' && f.req_id === 'after-move');
    const d0 = await api(worker, 'GET', '/v1/drivers/d0', { token: ops });
    assert.deepEqual(d0.body.location, to);
  });

  test('a driver whose sockets all closed is offline', async () => {
    const put = await api(worker, 'PUT', '/v1/drivers/d-brief', {
      token: ops,
      body: { name: 'Brief', phone: '+27825550100', vehicle: { type: 'van', registration: 'GP 1' } },
    });
    assert.equal(put.status, 200);
    const c = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${PICKUP.lat}&lng=${PICKUP.lng}`), { token: token('driver', 'd-brief') });
    await c.next('connected');
    assert.equal((await api(worker, 'GET', '/v1/drivers/d-brief', { token: ops })).body.online, true);
    c.close();
    await c.closedWith();
    let online = true;
    for (let i = 0; i < 50 && online; i++) {
      online = (await api(worker, 'GET', '/v1/drivers/d-brief', { token: ops })).body.online;
      if (online) await sleep(50);
    }
    assert.equal(online, false);
  });
});

describe('GET /v1/drivers/nearby', () => {
  test('lists online drivers within the radius, nearest first, with availability', async () => {
    const res = await api(worker, 'GET', `/v1/drivers/nearby?lat=${PICKUP.lat}&lng=${PICKUP.lng}&radius_km=10`, { token: ops });
    assert.equal(res.status, 200, res.text);
    const ids = res.body.drivers.map((d) => d.id);
    assert.deepEqual(ids, ['d0', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7']);
    const d1 = res.body.drivers.find((d) => d.id === 'd1');
    assert.equal(d1.available, false);
    assert.equal(d1.name, 'Driver d1');
    const distances = res.body.drivers.map((d) => d.distance_m);
    assert.deepEqual(distances, [...distances].sort((a, b) => a - b));
  });

  test('a passenger may not ask, and bad coordinates are 400', async () => {
    assert.equal((await api(worker, 'GET', `/v1/drivers/nearby?lat=0&lng=0`, { token: token('passenger', 'p') })).status, 403);
    assert.equal((await api(worker, 'GET', `/v1/drivers/nearby?lat=0`, { token: ops })).status, 400);
    assert.equal((await api(worker, 'GET', `/v1/drivers/nearby?lat=0&lng=0&radius_km=500`, { token: ops })).status, 400);
  });
});
