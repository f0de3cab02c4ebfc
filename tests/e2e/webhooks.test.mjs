// Partner webhooks end to end (PROTOCOL.md "Webhooks (partners)", docs/protocol.md "Webhooks"):
// a local HTTP receiver on 127.0.0.1 (ALLOW_HTTP_CALLBACKS=1) gets every sequenced event of a ride
// with a callback_url, signed; failures are retried on the schedule (WEBHOOK_RETRY_SCALE shrinks it
// to milliseconds here), in seq order, then given up; the delivery log and redelivery; and a
// receiver that hangs never holds up the ride's own events.
//
// The signature is checked with the README's own receiver example, read out of README.md.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, ROOT, startWorker, token, TEST_WEBHOOK_SECRET, until, registerDriver } from './helpers.mjs';
import { Client, offset, sleep } from './ws-client.mjs';
import { removeStateDir, startPersistentWorker, stateDir } from './restart-helpers.mjs';

const PRETORIA = { lat: -25.7479, lng: 28.2293 };
let spots = 0;
/** A pickup no other test uses: 40 km east of the last one (DISPATCH_RADIUS_KM is 10). */
const newSpot = () => offset(PRETORIA, 40 * spots++, 90);

const ops = token('dispatcher', 'wh-ops');
let worker;
let receiver;
let verifyWebhook;
const sockets = [];

/**
 * A receiver: every request is kept ({path, headers, body, status}); `behave[path]` decides the
 * answer: a status number, or 'hang' (never answers until released).
 */
function startReceiver() {
  const requests = [];
  const behave = {};
  const hanging = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const path = req.url;
      const rule = behave[path];
      const decide = typeof rule === 'function' ? rule : () => rule ?? 200;
      const entry = { path, headers: req.headers, body, json: JSON.parse(body), status: null };
      requests.push(entry);
      const answer = decide(entry);
      if (answer === 'hang') {
        hanging.push({ entry, res });
        return;
      }
      entry.status = answer;
      res.writeHead(answer, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: (path) => `http://127.0.0.1:${port}${path}`,
        requests,
        behave,
        hanging,
        of: (path) => requests.filter((r) => r.path === path),
        /** The deliveries answered 2xx at `path`, in arrival order. */
        delivered: (path) => requests.filter((r) => r.path === path && r.status >= 200 && r.status < 300),
        close: () => {
          for (const { res } of hanging) res.destroy();
          server.closeAllConnections?.();
          server.close();
        },
      });
    });
  });
}

/** The README's "Verifying a webhook" example, as a module (so the README stays true). */
async function readmeVerifier() {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = readme.match(/```js\n(\/\/ Verifying a ridewire webhook[\s\S]*?)```/);
  assert.ok(block, 'README.md has the webhook verification example');
  assert.ok(block[1].trim().split('\n').length <= 10, 'the example stays 10 lines');
  const mod = await import(`data:text/javascript,${encodeURIComponent(block[1])}`);
  return mod.verifyWebhook;
}

before(async () => {
  receiver = await startReceiver();
  verifyWebhook = await readmeVerifier();
  worker = await startWorker({
    vars: {
      ALLOW_HTTP_CALLBACKS: '1',
      // 10 s, 1 min, 5 min, 30 min, 2 h, 12 h become 0.2 ms … 864 ms: a run gives up within ~1 s.
      WEBHOOK_RETRY_SCALE: '0.00002',
      WEBHOOK_TIMEOUT_S: '2',
      OFFER_TIMEOUT_S: '120',
      MAX_ROUNDS: '1',
    },
  });
});
after(async () => {
  for (const c of sockets) c.close();
  receiver?.close();
  await worker?.close();
});

async function connectDriver(id, at) {
  await registerDriver(worker, id, { by: ops, phone: '+27125550100', registration: `GP ${id}` });
  const client = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}`), { token: token('driver', id) });
  sockets.push(client);
  await client.next('connected');
  client.id = id;
  return client;
}

/** A partner's ride at `pickup` whose webhooks go to the receiver's `path`. */
async function partnerRide(partner, pickup, path) {
  const body = {
    pickup,
    dropoff: offset(pickup, 5, 0),
    passenger: { name: 'Lerato', phone: '+27125550199' },
    callback_url: receiver.url(path),
  };
  const res = await api(worker, 'POST', '/v1/rides', { token: token('partner', partner), body });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

/** The driver takes the offered ride over HTTP and drives it to `completed`. */
async function driveToCompletion(driver, rideId) {
  await driver.next((f) => f.type === 'ride_offer' && f.ride.id === rideId);
  const jwt = token('driver', driver.id);
  for (const step of ['accept', 'arrived', 'start', 'complete']) {
    const res = await api(worker, 'POST', `/v1/rides/${rideId}/${step}`, { token: jwt });
    assert.equal(res.status, 200, `${step}: ${res.text}`);
  }
}

/** The ride's sequenced events, from its socket's replay (last_seq=0), up to `lastType`. */
async function socketEvents(partner, rideId, lastType) {
  const client = await Client.open(worker.wsUrl(`/v1/ws/rides/${rideId}?last_seq=0`), { token: token('partner', partner) });
  sockets.push(client);
  await client.next(lastType);
  client.close();
  return client.frames.filter((f) => typeof f.seq === 'number');
}

async function deliveryLog(partner, rideId) {
  const res = await api(worker, 'GET', `/v1/rides/${rideId}/webhooks`, { token: token('partner', partner) });
  assert.equal(res.status, 200, res.text);
  return res.body.deliveries;
}

const STATUS_AFTER = {
  ride_created: 'searching',
  searching: 'searching',
  driver_assigned: 'accepted',
  driver_arrived: 'arrived',
  trip_started: 'in_progress',
  ride_completed: 'completed',
  no_drivers: 'expired',
};

describe('webhooks', () => {
  test('every sequenced event of a ride reaches its callback_url once, signed, in seq order', async () => {
    const spot = newSpot();
    const driver = await connectDriver('wh-d1', spot);
    const path = '/hooks/all';
    const ride = await partnerRide('wh-acme', spot, path);
    await driveToCompletion(driver, ride.id);
    const events = await socketEvents('wh-acme', ride.id, 'ride_completed');
    assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
    assert.equal(events[0].type, 'ride_created', 'webhook seq 1 is the socket\'s seq 1, ride_created');

    const got = await until(() => receiver.delivered(path), (d) => d.length >= events.length);
    assert.equal(got.length, events.length, 'every event once');
    for (const [i, req] of got.entries()) {
      const event = events[i];
      assert.deepEqual(Object.keys(req.json), ['id', 'ride_id', 'status', 'event', 'seq', 'at']);
      assert.deepEqual(
        { ride_id: req.json.ride_id, event: req.json.event, seq: req.json.seq, at: req.json.at, status: req.json.status },
        { ride_id: ride.id, event: event.type, seq: event.seq, at: event.at, status: STATUS_AFTER[event.type] },
      );
      assert.equal(req.headers['content-type'], 'application/json');
      assert.equal(req.headers['x-ridewire-delivery'], req.json.id);
      const verified = verifyWebhook(TEST_WEBHOOK_SECRET, req.headers['x-ridewire-signature'], req.body);
      assert.equal(verified.ok, true, verified.reason);
      assert.equal(verified.delivery.id, req.json.id);
    }
    assert.equal(new Set(got.map((r) => r.json.id)).size, got.length, 'each delivery has its own id');
    assert.equal(receiver.of(path).length, got.length, 'nothing was sent twice');

    const log = await deliveryLog('wh-acme', ride.id);
    assert.deepEqual(log.map((d) => [d.seq, d.event, d.state, d.attempts, d.last_status, d.next_try_at]),
      events.map((e) => [e.seq, e.type, 'delivered', 1, 200, null]));
    assert.deepEqual(log.map((d) => d.id), got.map((r) => r.json.id));
  });

  test('a replayed delivery is recognisable: an old time is refused, a new time breaks the signature', async () => {
    const path = '/hooks/replay';
    await partnerRide('wh-replay', newSpot(), path);
    const [req] = await until(() => receiver.delivered(path), (d) => d.length >= 1);
    const header = req.headers['x-ridewire-signature'];
    const t = Number(/t=(\d+)/.exec(header)[1]);
    assert.equal(verifyWebhook(TEST_WEBHOOK_SECRET, header, req.body, t + 1_000).ok, true);
    const late = verifyWebhook(TEST_WEBHOOK_SECRET, header, req.body, t + 6 * 60_000);
    assert.deepEqual(late, { ok: false, reason: 'replayed (too old)' });
    const retimed = header.replace(/t=\d+/, `t=${t + 6 * 60_000}`);
    assert.equal(verifyWebhook(TEST_WEBHOOK_SECRET, retimed, req.body, t + 6 * 60_000).ok, false);
    const tampered = req.body.replace('"seq":1', '"seq":9');
    assert.equal(verifyWebhook(TEST_WEBHOOK_SECRET, header, tampered, t).ok, false);
    assert.equal(verifyWebhook('another-secret', header, req.body, t).ok, false);
  });

  test('a receiver that fails three times then recovers gets every event exactly once, in order', async () => {
    const spot = newSpot();
    const driver = await connectDriver('wh-d3', spot);
    const path = '/hooks/flaky';
    let failures = 0;
    receiver.behave[path] = () => (failures++ < 3 ? 500 : 200);
    const ride = await partnerRide('wh-flaky', spot, path);
    await driveToCompletion(driver, ride.id);
    const events = await socketEvents('wh-flaky', ride.id, 'ride_completed');
    const got = await until(() => receiver.delivered(path), (d) => d.length >= events.length);
    assert.deepEqual(got.map((r) => r.json.seq), events.map((e) => e.seq), 'each event once, in seq order');

    const all = receiver.of(path);
    assert.deepEqual(all.slice(0, 4).map((r) => [r.json.seq, r.status]), [[1, 500], [1, 500], [1, 500], [1, 200]],
      'seq 1 is retried until it lands; seq 2 waits for it');
    assert.equal(new Set(all.slice(0, 4).map((r) => r.headers['x-ridewire-delivery'])).size, 1, 'a retry keeps its id');
    const log = await deliveryLog('wh-flaky', ride.id);
    assert.deepEqual(log[0], { id: all[0].json.id, seq: 1, event: 'ride_created', state: 'delivered', attempts: 4, last_status: 200, next_try_at: null });
    assert.ok(log.slice(1).every((d) => d.state === 'delivered' && d.attempts === 1), JSON.stringify(log));
  });

  test('a delivery that never lands is given up after the schedule, and the next event goes after it', async () => {
    const path = '/hooks/down';
    receiver.behave[path] = (r) => (r.json.seq === 1 ? 503 : 200);
    const ride = await partnerRide('wh-down', newSpot(), path);
    // Nobody is near: the ride's only round finds nobody and it expires (ride_created, searching, no_drivers).
    const log = await until(() => deliveryLog('wh-down', ride.id),
      (l) => l.length >= 2 && l.every((d) => d.state !== 'pending'), 15_000);
    assert.deepEqual(log[0].state, 'given_up', JSON.stringify(log));
    assert.deepEqual([log[0].attempts, log[0].last_status, log[0].next_try_at], [7, 503, null], 'a first try and six retries');
    assert.ok(log.slice(1).every((d) => d.state === 'delivered'), JSON.stringify(log));
    const seqs = receiver.of(path).map((r) => r.json.seq);
    assert.deepEqual(seqs.slice(0, 7), [1, 1, 1, 1, 1, 1, 1], 'no later event before seq 1 was given up');
  });

  test('redelivery re-sends the given-up deliveries in order and never a delivered one', async () => {
    const path = '/hooks/redeliver';
    let up = false;
    receiver.behave[path] = (r) => (up || r.json.seq === 1 ? 200 : 503);
    const ride = await partnerRide('wh-redo', newSpot(), path);
    const before = await until(() => deliveryLog('wh-redo', ride.id),
      (l) => l.length >= 2 && l.every((d) => d.state !== "pending"), 20_000);
    assert.deepEqual(before.map((d) => d.state), ['delivered', ...before.slice(1).map(() => 'given_up')], JSON.stringify(before));
    const sentBefore = receiver.of(path).length;

    const stranger = await api(worker, 'POST', `/v1/rides/${ride.id}/webhooks/redeliver`, { token: token('partner', 'wh-other') });
    assert.equal(stranger.status, 404, 'another partner is told the ride does not exist');
    const passenger = await api(worker, 'POST', `/v1/rides/${ride.id}/webhooks/redeliver`, { token: token('passenger', 'p') });
    assert.equal(passenger.status, 403);
    const withBody = await api(worker, 'POST', `/v1/rides/${ride.id}/webhooks/redeliver`, { token: ops, body: { seq: 2 } });
    assert.equal(withBody.status, 400);

    up = true;
    const res = await api(worker, 'POST', `/v1/rides/${ride.id}/webhooks/redeliver`, { token: ops });
    assert.equal(res.status, 202, res.text);
    assert.deepEqual(res.body.deliveries.map((d) => d.state), ['delivered', ...before.slice(1).map(() => 'pending')]);
    const after = await until(() => deliveryLog('wh-redo', ride.id), (l) => l.every((d) => d.state === 'delivered'));
    assert.ok(after.every((d) => d.state === 'delivered'), JSON.stringify(after));
    const resent = receiver.of(path).slice(sentBefore);
    assert.deepEqual(resent.map((r) => r.json.seq), before.slice(1).map((d) => d.seq), 'the given-up ones, in order, once');
    assert.ok(resent.every((r, i) => r.json.id === before[i + 1].id), 'a redelivery keeps the delivery id');
    assert.ok(!resent.some((r) => r.json.seq === 1), 'the delivered one is not sent again');
    const again = await api(worker, 'POST', `/v1/rides/${ride.id}/webhooks/redeliver`, { token: token('partner', 'wh-redo') });
    assert.equal(again.status, 202);
    await sleep(300);
    assert.equal(receiver.of(path).length, sentBefore + resent.length, 'nothing given up: nothing sent');
  });

  test('a receiver that hangs never delays the ride\'s own events', async () => {
    const spot = newSpot();
    const driver = await connectDriver('wh-d6', spot);
    const path = '/hooks/hang';
    receiver.behave[path] = 'hang';
    const ride = await partnerRide('wh-hang', spot, path);
    const watcher = await Client.open(worker.wsUrl(`/v1/ws/rides/${ride.id}`), { token: token('partner', 'wh-hang') });
    sockets.push(watcher);
    await watcher.next('connected');
    await until(() => receiver.hanging.length, (n) => n >= 1);
    await driver.next((f) => f.type === 'ride_offer' && f.ride.id === ride.id);
    const accepted = await api(worker, 'POST', `/v1/rides/${ride.id}/accept`, { token: token('driver', 'wh-d6') });
    assert.equal(accepted.status, 200, accepted.text);
    const assigned = await watcher.next('driver_assigned');
    const held = receiver.hanging.filter((h) => !h.res.writableEnded && !h.res.destroyed);
    assert.ok(held.length >= 1, 'the receiver still holds a delivery while the socket got driver_assigned');
    assert.ok(!receiver.of(path).some((r) => r.json.seq >= assigned.seq), 'its webhook has not gone out yet');
    const arrived = await api(worker, 'POST', `/v1/rides/${ride.id}/arrived`, { token: token('driver', 'wh-d6') });
    assert.equal(arrived.status, 200);
    await watcher.next('driver_arrived');

    // The receiver comes back: everything arrives, in order.
    receiver.behave[path] = 200;
    for (const { entry, res } of receiver.hanging.splice(0)) {
      entry.status = 200;
      res.writeHead(200).end();
    }
    const got = await until(() => receiver.delivered(path), (d) => d.some((r) => r.json.event === 'driver_arrived'), 15_000);
    const seqs = [...new Set(got.map((r) => r.json.seq))];
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'in seq order, from 1');
    assert.ok(seqs.length >= 4, JSON.stringify(seqs));
  });

  test('the delivery log is for the ride\'s partner and dispatchers; a ride without callback_url has none', async () => {
    const path = '/hooks/log';
    const ride = await partnerRide('wh-log', newSpot(), path);
    await until(() => receiver.delivered(path), (d) => d.length >= 1);
    const byOps = await api(worker, 'GET', `/v1/rides/${ride.id}/webhooks`, { token: ops });
    assert.equal(byOps.status, 200, byOps.text);
    assert.ok(byOps.body.deliveries.length >= 1);
    assert.equal((await api(worker, 'GET', `/v1/rides/${ride.id}/webhooks`, { token: token('partner', 'wh-x') })).status, 404);
    assert.equal((await api(worker, 'GET', `/v1/rides/${ride.id}/webhooks`, { token: token('driver', 'wh-x') })).status, 403);

    const plain = await api(worker, 'POST', '/v1/rides', {
      token: token('passenger', 'wh-p'),
      body: { pickup: newSpot(), dropoff: newSpot() },
    });
    assert.equal(plain.status, 201, plain.text);
    const none = await api(worker, 'GET', `/v1/rides/${plain.body.id}/webhooks`, { token: ops });
    assert.deepEqual(none.body, { deliveries: [] });
  });
});

describe('webhooks across a restart', () => {
  const dir = stateDir();
  // Slower than above (10 ms … 43 s) so that a delivery is still pending when the server stops.
  const VARS = { ALLOW_HTTP_CALLBACKS: '1', WEBHOOK_RETRY_SCALE: '0.001', WEBHOOK_TIMEOUT_S: '2', MAX_ROUNDS: '1' };
  let w;
  after(async () => {
    await w?.close();
    removeStateDir(dir);
  });

  test('pending deliveries survive a restart and go out from the alarm, in order, once each', async () => {
    w = await startPersistentWorker(dir, { vars: VARS });
    const path = '/hooks/restart';
    receiver.behave[path] = 503;
    const created = await api(w, 'POST', '/v1/rides', {
      token: token('partner', 'wh-restart'),
      body: { pickup: newSpot(), dropoff: newSpot(), callback_url: receiver.url(path) },
    });
    assert.equal(created.status, 201, created.text);
    const rideId = created.body.id;
    const readLog = async () =>
      (await api(w, 'GET', `/v1/rides/${rideId}/webhooks`, { token: token('partner', 'wh-restart') })).body.deliveries;
    const before = await until(readLog, (l) => l[0]?.attempts >= 3);
    assert.equal(before[0].state, 'pending', JSON.stringify(before));

    await w.close();
    receiver.behave[path] = 200;
    w = await startPersistentWorker(dir, { vars: VARS });
    const log = await until(readLog, (l) => l.length >= 2 && l.every((d) => d.state === 'delivered'), 20_000);
    assert.ok(log.every((d) => d.state === 'delivered'), JSON.stringify(log));
    assert.ok(log[0].attempts > before[0].attempts, 'the retry came from the stored schedule');
    const delivered = receiver.delivered(path).map((r) => r.json.seq);
    assert.deepEqual(delivered, log.map((d) => d.seq), 'each once, in seq order');
  });
});
