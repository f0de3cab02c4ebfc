// A server restart in the middle of a round (PROTOCOL.md: "what a client has been sent survives a Durable
// Object restart"): the worker is disposed and started again on the same persisted storage (D1 and every
// Durable Object's storage and alarms survive; sockets and memory are gone, with no close event). The
// ride, its offers, its round timer and the drivers' commitments must all still be there.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, token, until, registerDriver } from './helpers.mjs';
import { removeStateDir, startPersistentWorker, stateDir } from './restart-helpers.mjs';
import { Client, offset } from './ws-client.mjs';

const PICKUP = { lat: -33.9608, lng: 25.6022 }; // Gqeberha
const VARS = { OFFER_TIMEOUT_S: '4', OFFER_BATCH: '1', MAX_ROUNDS: '3' };
const ops = token('dispatcher', 'ops-restart');
const offerOf = (rideId) => (f) => f.type === 'ride_offer' && f.ride.id === rideId;

describe('a restart in the middle of a round', () => {
  const dir = stateDir();
  let worker;
  const open = [];

  after(async () => {
    for (const c of open) c.close();
    await worker?.close();
    removeStateDir(dir);
  });

  async function driver(id, at) {
    const c = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}`), { token: token('driver', id) });
    await c.next('connected');
    open.push(c);
    return c;
  }

  async function restart() {
    for (const c of open.splice(0)) c.close();
    await worker.close();
    worker = await startPersistentWorker(dir, { vars: VARS });
  }

  test('keeps the ride, its offer, its timer and the drivers\' commitments', async () => {
    worker = await startPersistentWorker(dir, { vars: VARS });
    for (const id of ['rs-1', 'rs-2']) {
      await registerDriver(worker, id, { by: ops, name: id, phone: '+27415550100' });
    }
    const d1 = await driver('rs-1', offset(PICKUP, 0.5, 0));
    const created = await api(worker, 'POST', '/v1/rides', {
      token: token('passenger', 'rs-pax'),
      body: { pickup: PICKUP, dropoff: offset(PICKUP, 4, 90) },
    });
    assert.equal(created.status, 201, created.text);
    const rideId = created.body.id;
    const offered = await d1.next(offerOf(rideId));

    // At once: if the ride had not handed the offer to the Driver DO yet, it does after the restart,
    // marked as taken by the socket the restart closed, so the new socket in this region is owed it.
    await restart();

    // The ride is there, still searching in its first round.
    const ride = await api(worker, 'GET', `/v1/rides/${rideId}`, { token: ops });
    assert.equal(ride.status, 200, ride.text);
    assert.equal(ride.body.status, 'searching');
    assert.equal(ride.body.offer_round, 1);

    // The offered driver reconnects and gets its open offer again, with the original expiry.
    const d1again = await driver('rs-1', offset(PICKUP, 0.5, 0));
    const resent = await d1again.next(offerOf(rideId));
    assert.equal(resent.expires_at, offered.expires_at);

    // A driver who connects now is offered the ride at once, in the current round (a late driver).
    const d2 = await driver('rs-2', offset(PICKUP, 1.5, 180));
    const second = await d2.next(offerOf(rideId), 10_000);
    assert.equal(second.expires_at, offered.expires_at);

    // The round's timer survived: once it passes, round 2 starts (and finds nobody new).
    const round2 = await until(async () => (await api(worker, 'GET', `/v1/rides/${rideId}`, { token: ops })).body, (r) => r.offer_round === 2, 10_000);
    assert.deepEqual([round2.status, round2.offer_round], ['searching', 2]);

    // The second driver wins (an offer of any round may be accepted); after another restart its active ride follows it.
    d2.send({ type: 'accept_ride', ride_id: rideId, req_id: 'acc' });
    await d2.next((f) => f.type === 'ride_assigned' && f.req_id === 'acc', 10_000);
    await d1again.next((f) => f.type === 'ride_taken' && f.ride_id === rideId);

    // The passenger's log replays without a gap.
    const pax = await Client.open(worker.wsUrl(`/v1/ws/rides/${rideId}?last_seq=0`), { token: token('passenger', 'rs-pax') });
    open.push(pax);
    await pax.next('connected');
    await pax.next((f) => f.type === 'driver_assigned', 10_000);
    const events = pax.frames.filter((f) => typeof f.seq === 'number');
    assert.deepEqual(events.map((f) => f.seq), [1, 2, 3, 4, 5]);
    assert.deepEqual(events.map((f) => f.type), ['ride_created', 'searching', 'searching', 'searching', 'driver_assigned']);
    assert.deepEqual(events.slice(1, 4).map((f) => [f.round, f.drivers_notified]), [[1, 1], [1, 2], [2, 0]]);

    await restart();

    const d2again = await driver('rs-2', offset(PICKUP, 1.5, 180));
    const active = await d2again.next((f) => f.type === 'ride_assigned' && f.ride.id === rideId);
    assert.equal(active.ride.driver.id, 'rs-2');
    // Still busy: a new ride next to it goes to the free driver, never to the busy one.
    const d1third = await driver('rs-1', offset(PICKUP, 0.5, 0));
    const other = await api(worker, 'POST', '/v1/rides', {
      token: token('passenger', 'rs-pax-2'),
      body: { pickup: offset(PICKUP, 1.4, 180), dropoff: offset(PICKUP, 3, 0) },
    });
    assert.equal(other.status, 201, other.text);
    await d1third.next(offerOf(other.body.id));
    assert.equal(d2again.frames.filter(offerOf(other.body.id)).length, 0, 'a busy driver after a restart is still busy');
    for (const step of ['arrived', 'start', 'complete']) {
      const res = await api(worker, 'POST', `/v1/rides/${rideId}/${step}`, { token: token('driver', 'rs-2') });
      assert.equal(res.status, 200, `${step}: ${res.text}`);
    }
  });
});
