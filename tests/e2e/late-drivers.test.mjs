// Rides wait for drivers, and late drivers are offered at once (PROTOCOL.md "Dispatch rules"): a
// ride created with no driver online keeps searching; a driver who connects later near it, or who
// becomes available there, is offered it within the current round. OFFER_TIMEOUT_S is long here, so
// no later round could be what offers it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startWorker, token, registerDriver } from './helpers.mjs';
import { Client, offset, sleep } from './ws-client.mjs';

const ops = token('dispatcher', 'ops');
let worker;
const open = [];

before(async () => {
  worker = await startWorker({ vars: { OFFER_TIMEOUT_S: '120', MAX_ROUNDS: '3' } });
});
after(async () => {
  for (const c of open) c.close();
  await worker?.close();
});

async function register(id) {
  await registerDriver(worker, id, { by: ops, phone: '+27825550100', registration: `GP ${id}` });
}

async function connectDriver(id, at) {
  await register(id);
  const client = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}`), { token: token('driver', id) });
  open.push(client);
  await client.next('connected');
  return client;
}

async function waitingRide(pax, pickup) {
  const res = await api(worker, 'POST', '/v1/rides', { token: token('passenger', pax), body: { pickup, dropoff: offset(pickup, 5, 0) } });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.status, 'searching');
  const socket = await Client.open(worker.wsUrl(`/v1/ws/rides/${res.body.id}?last_seq=0`), { token: token('passenger', pax) });
  open.push(socket);
  await socket.next('connected');
  const round1 = await socket.next('searching');
  assert.deepEqual([round1.round, round1.drivers_notified], [1, 0], 'its first round found nobody; it waits');
  return { ride: res.body, socket };
}

test('a ride created with no driver online is offered to a driver who connects 3 s later, who can take it', async () => {
  const pickup = { lat: -33.9249, lng: 18.4241 };
  const { ride, socket } = await waitingRide('pax-late', pickup);
  await sleep(3000);
  const driver = await connectDriver('late-1', offset(pickup, 2, 90));
  const offer = await driver.next((f) => f.type === 'ride_offer' && f.ride.id === ride.id, 10_000);
  assert.ok(Math.abs(offer.distance_to_pickup_m - 2000) < 50, `${offer.distance_to_pickup_m}`);
  assert.ok(offer.expires_at > Date.now() + 60_000, 'the offer belongs to the current round, which has long to run');
  const again = await socket.next('searching');
  assert.deepEqual([again.round, again.drivers_notified], [1, 1], 'the passenger hears a driver was notified in round 1');
  driver.send({ type: 'accept_ride', ride_id: ride.id, req_id: 'take' });
  const assigned = await driver.next('ride_assigned');
  assert.equal(assigned.ride.id, ride.id);
  assert.equal((await socket.next('driver_assigned')).driver.id, 'late-1');
  const now = await api(worker, 'GET', `/v1/rides/${ride.id}`, { token: token('passenger', 'pax-late') });
  assert.deepEqual([now.body.status, now.body.offer_round], ['accepted', 1]);
});

test('a driver who becomes available near a waiting ride is offered it at once; a driver far away is not', async () => {
  const pickup = { lat: -29.8587, lng: 31.0218 };
  const resting = await connectDriver('late-2', offset(pickup, 1, 0));
  resting.send({ type: 'set_available', available: false });
  resting.send({ type: 'ping', req_id: 'sync' });
  await resting.next((f) => f.type === 'pong' && f.req_id === 'sync');
  const far = await connectDriver('late-far', offset(pickup, 25, 0));
  const { ride } = await waitingRide('pax-late-2', pickup);
  resting.send({ type: 'set_available', available: true });
  const offer = await resting.next((f) => f.type === 'ride_offer' && f.ride.id === ride.id, 10_000);
  assert.equal(offer.ride.id, ride.id);
  await sleep(500);
  assert.equal(far.received('ride_offer').length, 0, 'beyond DISPATCH_RADIUS_KM');
  // Offered once: moving about near the pickup brings no second offer.
  const near = offset(pickup, 0.5, 0);
  resting.send({ type: 'location_update', lat: near.lat, lng: near.lng });
  await sleep(500);
  assert.equal(resting.received('ride_offer').filter((f) => f.ride.id === ride.id).length, 1);
});

test('a driver freed when its ride is completed is offered a ride that waited meanwhile, at once', async () => {
  const pickup = { lat: -28.7282, lng: 24.7499 }; // Kimberley
  const driver = await connectDriver('late-3', offset(pickup, 1, 180));
  const first = await api(worker, 'POST', '/v1/rides', { token: token('passenger', 'pax-late-3a'), body: { pickup, dropoff: offset(pickup, 5, 0) } });
  assert.equal(first.status, 201, first.text);
  await driver.next((f) => f.type === 'ride_offer' && f.ride.id === first.body.id);
  const won = await api(worker, 'POST', `/v1/rides/${first.body.id}/accept`, { token: token('driver', 'late-3') });
  assert.equal(won.status, 200, won.text);
  await driver.next('ride_assigned');

  // A second ride nearby finds nobody: its only driver is busy.
  const { ride: second } = await waitingRide('pax-late-3b', pickup);
  for (const step of ['arrived', 'start', 'complete']) {
    const res = await api(worker, 'POST', `/v1/rides/${first.body.id}/${step}`, { token: token('driver', 'late-3') });
    assert.equal(res.status, 200, `${step}: ${res.text}`);
  }
  const offer = await driver.next((f) => f.type === 'ride_offer' && f.ride.id === second.id, 10_000);
  assert.ok(offer.expires_at > Date.now() + 60_000, 'in the round that was waiting, not a later one');
});
