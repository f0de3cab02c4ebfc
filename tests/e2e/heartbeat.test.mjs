// The heartbeat rule (PROTOCOL.md "Dispatch rules"): a driver socket that sends nothing for
// 3 × heartbeat_s is closed with 4003 and the driver goes offline; any frame, and the keepalive the
// runtime answers by itself ({"type":"heartbeat"} → {"type":"heartbeat_ack"}), count as heard.
// Dispatch sockets are not subject to it. And GET /v1/stats counts only live sockets (driver,
// dispatch and ride sockets), also after a restart that dropped every socket without a close
// event. HEARTBEAT_S is 1 here: silent after 3 s, stats renewed every 2 s and lapsing after 6 s.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startWorker, STATS_SETTLE_MS, token, until, registerDriver } from './helpers.mjs';
import { removeStateDir, startPersistentWorker, stateDir } from './restart-helpers.mjs';
import { Client, offset, sleep } from './ws-client.mjs';

const CENTRE = { lat: -29.8587, lng: 31.0218 }; // Durban
const ops = token('dispatcher', 'ops-heartbeat');
const VARS = { HEARTBEAT_S: '1' };

async function register(worker, id) {
  await registerDriver(worker, id, { by: ops, phone: '+27315550100' });
}

async function connectDriver(worker, id, at = CENTRE) {
  const c = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}`), { token: token('driver', id) });
  const connected = await c.next('connected');
  return { c, connected };
}

async function online(worker, id) {
  const res = await api(worker, 'GET', `/v1/drivers/${id}`, { token: ops });
  assert.equal(res.status, 200, res.text);
  return res.body.online;
}

async function stats(worker) {
  const res = await api(worker, 'GET', '/v1/stats', { token: ops });
  assert.equal(res.status, 200, res.text);
  return res.body;
}

/** The stats once every change so far is reported. */
async function settledStats(worker) {
  await sleep(STATS_SETTLE_MS);
  return stats(worker);
}

/** Sends `frame` every `everyMs` for `forMs`, while the socket is open. */
async function keepSending(c, frame, everyMs, forMs) {
  const end = Date.now() + forMs;
  while (Date.now() < end && !c.closed) {
    c.send(frame);
    await sleep(everyMs);
  }
}

describe('driver socket heartbeat', () => {
  let worker;
  let desk;
  const open = [];

  before(async () => {
    worker = await startWorker({ vars: VARS });
    for (const id of ['hb-silent', 'hb-ping', 'hb-keepalive', 'hb-bad', 'hb-two']) await register(worker, id);
    desk = await Client.open(worker.wsUrl(`/v1/ws/dispatch?lat=${CENTRE.lat}&lng=${CENTRE.lng}`), { token: ops });
    await desk.next('snapshot');
    open.push(desk);
  });
  after(async () => {
    for (const c of open) c.close();
    await worker?.close();
  });

  test('connected carries heartbeat_s as HEARTBEAT_S sets it', async () => {
    const { c, connected } = await connectDriver(worker, 'hb-ping');
    assert.equal(connected.heartbeat_s, 1);
    c.close();
    await until(() => online(worker, 'hb-ping'), (v) => v === false);
  });

  test('a driver socket that sends nothing for 3 heartbeats is closed with 4003 and the driver goes offline', async () => {
    const before = await settledStats(worker);
    const openedAt = Date.now();
    const { c } = await connectDriver(worker, 'hb-silent');
    open.push(c);
    await desk.next((f) => f.type === 'driver_online' && f.driver_id === 'hb-silent');
    const during = await until(() => stats(worker), (s) => s.connections.drivers === before.connections.drivers + 1);
    assert.equal(during.connections.drivers, before.connections.drivers + 1);
    assert.equal(during.drivers.online, before.drivers.online + 1);
    assert.equal(await online(worker, 'hb-silent'), true);

    const closed = await c.closedWith(8000);
    const after3 = (Date.now() - openedAt) / 1000;
    assert.equal(closed.code, 4003);
    assert.ok(after3 >= 2.9 && after3 <= 6, `closed after ${after3} s`);
    await desk.next((f) => f.type === 'driver_offline' && f.driver_id === 'hb-silent', 3000);
    assert.equal(await online(worker, 'hb-silent'), false);
    const later = await until(() => stats(worker), (s) => s.connections.drivers === before.connections.drivers);
    assert.equal(later.connections.drivers, before.connections.drivers);
    assert.equal(later.drivers.online, before.drivers.online);
  });

  test('a driver that keeps sending ping stays open past 3 heartbeats', async () => {
    const { c } = await connectDriver(worker, 'hb-ping');
    open.push(c);
    await keepSending(c, { type: 'ping' }, 600, 5000);
    assert.equal(c.closed, null);
    assert.ok(c.received('pong').length >= 5);
    assert.equal(await online(worker, 'hb-ping'), true);
    c.close();
  });

  test('the keepalive the runtime answers by itself keeps a driver socket open', async () => {
    const { c } = await connectDriver(worker, 'hb-keepalive');
    open.push(c);
    await keepSending(c, '{"type":"heartbeat"}', 600, 5000);
    assert.equal(c.closed, null);
    assert.ok(c.received('heartbeat_ack').length >= 5, JSON.stringify(c.received()));
    assert.deepEqual(c.received('heartbeat_ack')[0], { type: 'heartbeat_ack' });
    assert.equal(c.received('error').length, 0);
    assert.equal(await online(worker, 'hb-keepalive'), true);
    // Once the keepalives stop, the socket falls silent like any other.
    assert.equal((await c.closedWith(8000)).code, 4003);
    assert.equal(await online(worker, 'hb-keepalive'), false);
  });

  test('any frame counts as heard, even one answered bad_message', async () => {
    const { c } = await connectDriver(worker, 'hb-bad');
    open.push(c);
    await keepSending(c, { type: 'no_such_type' }, 600, 5000);
    assert.equal(c.closed, null);
    assert.ok(c.received('error').every((f) => f.code === 'bad_message'));
    c.close();
  });

  test('a silent socket closes while the driver stays online through its other socket', async () => {
    const quiet = await connectDriver(worker, 'hb-two');
    const chatty = await connectDriver(worker, 'hb-two');
    open.push(quiet.c, chatty.c);
    const offline = [];
    const watch = desk.next((f) => f.type === 'driver_offline' && f.driver_id === 'hb-two', 6000).then(offline.push.bind(offline), () => {});
    await keepSending(chatty.c, { type: 'ping' }, 600, 5000);
    assert.equal((await quiet.c.closedWith(1000)).code, 4003);
    assert.equal(chatty.c.closed, null);
    assert.equal(await online(worker, 'hb-two'), true);
    assert.deepEqual(offline, []);
    chatty.c.close();
    await watch;
    assert.equal(offline.length, 1, 'offline once its last socket closed');
  });

  test('a region report counts only while its lease is live', async () => {
    // Rows as regions that stopped for good would have left them: one lapsed, one about to.
    const before = await settledStats(worker);
    const now = Date.now();
    const row = 'INSERT INTO region_stats (region, driver_sockets, dispatcher_sockets, drivers_online, drivers_available, drivers_busy, updated_at, expires_at) VALUES (?, 7, 1, 7, 7, 0, ?, ?)';
    await worker.db.prepare(row).bind('lapsed-region', now - 7000, now - 1).run();
    await worker.db.prepare(row).bind('leased-region', now - 3000, now + 2500).run();
    const leased = await stats(worker);
    assert.equal(leased.connections.drivers, before.connections.drivers + 7);
    assert.equal(leased.connections.dispatchers, before.connections.dispatchers + 1);
    assert.equal(leased.drivers.online, before.drivers.online + 7);
    await sleep(Math.max(0, now + 2600 - Date.now()));
    const lapsed = await stats(worker);
    assert.deepEqual(lapsed.connections, before.connections);
    assert.deepEqual(lapsed.drivers, before.drivers);
  });

  test('a dispatch socket is not subject to the heartbeat', async () => {
    // The desk has sent nothing since it opened, well over 3 heartbeats ago.
    assert.equal(desk.closed, null);
    desk.send({ type: 'ping', req_id: 'still-here' });
    await desk.next((f) => f.type === 'pong' && f.req_id === 'still-here');
  });
});

describe('GET /v1/stats across a restart', () => {
  const dir = stateDir();
  let worker;

  after(async () => {
    await worker?.close();
    removeStateDir(dir);
  });

  test('sockets dropped by a restart without close events stop counting', async () => {
    worker = await startPersistentWorker(dir, { vars: VARS });
    await register(worker, 'hb-restart');
    const { c } = await connectDriver(worker, 'hb-restart', offset(CENTRE, 2, 45));
    // A passenger follows a ride of its own on the ride socket.
    const pickup = { ...offset(CENTRE, 1, 90), address: 'Durban' };
    const created = await api(worker, 'POST', '/v1/rides', {
      token: token('passenger', 'hb-pax'),
      body: { pickup, dropoff: offset(CENTRE, 5, 0) },
    });
    assert.equal(created.status, 201, created.text);
    const pax = await Client.open(worker.wsUrl(`/v1/ws/rides/${created.body.id}`), { token: token('passenger', 'hb-pax') });
    await pax.next('connected');
    // Keep them alive across several stats renewals: the leases must not lapse under live objects.
    await keepSending(c, '{"type":"heartbeat"}', 500, 7000);
    assert.equal(c.closed, null);
    assert.equal(pax.closed, null);
    const live = await until(() => stats(worker), (s) => s.connections.drivers === 1 && s.connections.passengers === 1);
    assert.equal(live.connections.drivers, 1);
    assert.equal(live.connections.passengers, 1, 'the ride renewed its lease');
    assert.equal(live.drivers.online, 1);

    c.ws.on('error', () => {}); // the server going away under it is the point
    pax.ws.on('error', () => {});
    await worker.close(); // the sockets vanish; no close event reaches the Region DO
    worker = await startPersistentWorker(dir, { vars: VARS });
    const restarted = await until(
      () => stats(worker),
      (s) => s.connections.drivers === 0 && s.connections.passengers === 0,
      10000,
    );
    assert.deepEqual(restarted.connections, { drivers: 0, passengers: 0, dispatchers: 0, total: 0 });
    assert.deepEqual(restarted.drivers, { online: 0, available: 0, busy: 0 });
    const res = await api(worker, 'GET', '/v1/drivers/hb-restart', { token: ops });
    assert.equal(res.status, 200, 'D1 survived the restart');
    assert.equal(res.body.online, false);
  });
});
