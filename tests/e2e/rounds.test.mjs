// Offer rounds driven by the Ride DO's alarm (PROTOCOL.md "Dispatch rules"): when OFFER_TIMEOUT_S
// passes the next round reaches the next nearest drivers not yet asked; after MAX_ROUNDS the ride
// expires: the passenger hears no_drivers, drivers still holding the offer ride_cancelled (expired).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startWorker, token, registerDriver } from './helpers.mjs';
import { Client, offset } from './ws-client.mjs';

const PICKUP = { lat: -33.9249, lng: 18.4241 };
let worker;
const drivers = new Map();

before(async () => {
  worker = await startWorker({ vars: { OFFER_TIMEOUT_S: '1', OFFER_BATCH: '2', MAX_ROUNDS: '2' } });
  const ops = token('dispatcher', 'ops');
  for (const [id, km] of [['r0', 1], ['r1', 2], ['r2', 3]]) {
    await registerDriver(worker, id, { by: ops, name: id, phone: '+27215550100' });
    const at = offset(PICKUP, km, 90);
    const client = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}`), { token: token('driver', id) });
    await client.next('connected');
    drivers.set(id, client);
  }
});
after(async () => {
  for (const c of drivers.values()) c.close();
  await worker?.close();
});

test('an unanswered ride moves round by round to the next drivers, then expires', async () => {
  const res = await api(worker, 'POST', '/v1/rides', {
    token: token('passenger', 'pax-r'),
    body: { pickup: PICKUP, dropoff: offset(PICKUP, 5, 0) },
  });
  assert.equal(res.status, 201, res.text);
  const id = res.body.id;
  const isOffer = (f) => f.type === 'ride_offer' && f.ride.id === id;
  await drivers.get('r0').next(isOffer);
  await drivers.get('r1').next(isOffer);
  assert.equal(drivers.get('r2').received('ride_offer').length, 0, 'round 1 reaches the two nearest only');

  const round2 = await drivers.get('r2').next(isOffer, 8000);
  assert.ok(round2.expires_at > Date.now() - 1000);
  const cancelled = await drivers.get('r2').next((f) => f.type === 'ride_cancelled' && f.ride_id === id, 8000);
  assert.equal(cancelled.reason, 'expired');

  const pax = await Client.open(worker.wsUrl(`/v1/ws/rides/${id}?last_seq=0`), { token: token('passenger', 'pax-r') });
  await pax.next('connected');
  const events = [await pax.next('ride_created'), await pax.next('searching'), await pax.next('searching'), await pax.next('no_drivers')];
  assert.deepEqual(events.map((e) => e.seq), [1, 2, 3, 4]);
  assert.deepEqual(events.slice(1, 3).map((e) => [e.round, e.drivers_notified]), [[1, 2], [2, 1]]);
  assert.equal(events[3].rounds, 2);
  pax.close();

  let row;
  for (let i = 0; i < 40; i++) {
    row = await worker.db.prepare('SELECT status FROM rides WHERE id = ?').bind(id).first();
    if (row?.status === 'expired') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(row.status, 'expired');
  const accept = await api(worker, 'POST', `/v1/rides/${id}/accept`, { token: token('driver', 'r0') });
  assert.equal(accept.status, 410);
  assert.equal(accept.body.error.code, 'ride_closed');
});

test('a ride where no driver ever comes keeps searching round after round, then expires after MAX_ROUNDS rounds', async () => {
  const nowhere = { lat: -29.8587, lng: 31.0218 }; // no driver within reach
  const res = await api(worker, 'POST', '/v1/rides', {
    token: token('passenger', 'pax-alone'),
    body: { pickup: nowhere, dropoff: offset(nowhere, 5, 0) },
  });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.status, 'searching', 'a round that finds nobody does not end the search');
  const pax = await Client.open(worker.wsUrl(`/v1/ws/rides/${res.body.id}?last_seq=0`), { token: token('passenger', 'pax-alone') });
  await pax.next('connected');
  const events = [await pax.next('ride_created'), await pax.next('searching'), await pax.next('searching', 8000), await pax.next('no_drivers', 8000)];
  assert.deepEqual(events.map((e) => e.seq), [1, 2, 3, 4]);
  assert.deepEqual(events.slice(1, 3).map((e) => [e.round, e.drivers_notified]), [[1, 0], [2, 0]]);
  assert.equal(events[3].rounds, 2);
  pax.close();
  const ride = await api(worker, 'GET', `/v1/rides/${res.body.id}`, { token: token('passenger', 'pax-alone') });
  assert.deepEqual([ride.body.status, ride.body.offer_round], ['expired', 2]);
});
