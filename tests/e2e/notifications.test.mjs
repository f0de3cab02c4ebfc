// POST /v1/notifications (PROTOCOL.md "Notifications, proof of delivery, watchers, demand"): a
// dispatcher's notification to one user (every socket of theirs, in any region or ride; kept 24 hours
// for a driver with none open and sent on its next connect), to a region's drivers, or to everyone
// connected; answered 202 {id, delivered}. Bodies are strict.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startWorker, token, until, registerDriver } from './helpers.mjs';
import { Client, offset, sleep } from './ws-client.mjs';

const ops = token('dispatcher', 'ops-nt');
const JOBURG = { lat: -26.2041, lng: 28.0473 };
const CAPE_TOWN = { lat: -33.9249, lng: 18.4241 };
let worker;
const open = [];

async function register(id) {
  await registerDriver(worker, id, { by: ops, phone: '+27435550111' });
}

async function connectDriver(id, at) {
  const c = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}`), { token: token('driver', id) });
  c.hello = await c.next('connected');
  open.push(c);
  return c;
}

async function console_(sub, at) {
  const c = await Client.open(worker.wsUrl(`/v1/ws/dispatch?lat=${at.lat}&lng=${at.lng}`), { token: token('dispatcher', sub) });
  await c.next('snapshot');
  open.push(c);
  return c;
}

function notify(body, jwt = ops) {
  return api(worker, 'POST', '/v1/notifications', { token: jwt, body });
}

const note = (to, extra = {}) => ({ to, title: 'Road closed', message: 'N1 closed at Grasmere', severity: 'warning', ...extra });
const notificationWith = (id) => (f) => f.type === 'notification' && f.id === id;

before(async () => { worker = await startWorker(); });
after(async () => {
  for (const c of open) c.close();
  await worker?.close();
});

describe('to one user', () => {
  test('a notification sent while the driver was offline reaches its next connection, once', async () => {
    await register('nt-off');
    const sent = await notify(note({ user: 'nt-off' }, { action: { type: 'open_app' } }));
    assert.equal(sent.status, 202, sent.text);
    assert.equal(sent.body.delivered, 0, 'no socket was open');
    assert.match(sent.body.id, /^ntf_[0-9a-f]{32}$/);
    const d = await connectDriver('nt-off', JOBURG);
    const got = await d.next(notificationWith(sent.body.id));
    assert.deepEqual(
      { ...got, sent_at: 0 },
      { type: 'notification', id: sent.body.id, title: 'Road closed', message: 'N1 closed at Grasmere',
        severity: 'warning', action: { type: 'open_app', ride_id: null }, sent_at: 0 },
    );
    assert.ok(Number.isInteger(got.sent_at) && got.sent_at > 0);
    const again = await connectDriver('nt-off', JOBURG);
    await sleep(500);
    assert.equal(again.received('notification').length, 0, 'delivered, so not kept for the next socket');
  });

  test("a user notification reaches both of a driver's sockets, in two regions", async () => {
    await register('nt-two');
    const a = await connectDriver('nt-two', JOBURG);
    const b = await connectDriver('nt-two', CAPE_TOWN);
    assert.notEqual(a.hello.region, b.hello.region);
    // Both sockets count once the Driver DO has heard of both (each socket's attach runs after its `connected`).
    const sent = await until(() => notify(note({ user: 'nt-two' })), (r) => r.status !== 202 || r.body.delivered === 2);
    assert.equal(sent.status, 202, sent.text);
    assert.equal(sent.body.delivered, 2);
    await a.next(notificationWith(sent.body.id));
    await b.next(notificationWith(sent.body.id));
  });

  test("a passenger's notification reaches its ride socket", async () => {
    const created = await api(worker, 'POST', '/v1/rides', {
      token: token('passenger', 'nt-pax'),
      body: { pickup: offset(JOBURG, 200, 0), dropoff: offset(JOBURG, 203, 0) },
    });
    assert.equal(created.status, 201, created.text);
    const ride = await Client.open(worker.wsUrl(`/v1/ws/rides/${created.body.id}`), { token: token('passenger', 'nt-pax') });
    open.push(ride);
    await ride.next('connected');
    // The ride's row reaches D1 a moment after its creation (and names its passenger).
    const sent = await until(() => notify(note({ user: 'nt-pax' })), (r) => r.status !== 202 || r.body.delivered === 1);
    assert.equal(sent.status, 202, sent.text);
    assert.equal(sent.body.delivered, 1);
    await ride.next(notificationWith(sent.body.id));
  });
});

describe('kept for a user with no socket open', () => {
  test("a passenger's notification reaches its next ride socket, once", async () => {
    const created = await api(worker, 'POST', '/v1/rides', {
      token: token('passenger', 'nt-pax-off'),
      body: { pickup: offset(JOBURG, 800, 0), dropoff: offset(JOBURG, 803, 0) },
    });
    assert.equal(created.status, 201, created.text);
    const sent = await notify(note({ user: 'nt-pax-off' }));
    assert.equal(sent.status, 202, sent.text);
    assert.equal(sent.body.delivered, 0);
    const first = await Client.open(worker.wsUrl(`/v1/ws/rides/${created.body.id}`), { token: token('passenger', 'nt-pax-off') });
    open.push(first);
    await first.next('connected');
    await first.next(notificationWith(sent.body.id));
    const second = await Client.open(worker.wsUrl(`/v1/ws/rides/${created.body.id}`), { token: token('passenger', 'nt-pax-off') });
    open.push(second);
    await second.next('connected');
    await sleep(500);
    assert.equal(second.received('notification').length, 0, 'taken by the first socket');
  });

  test("a dispatcher's notification reaches its next console", async () => {
    const sent = await notify(note({ user: 'ops-nt-off' }, { severity: 'critical' }));
    assert.equal(sent.status, 202, sent.text);
    assert.equal(sent.body.delivered, 0);
    const c = await console_('ops-nt-off', offset(JOBURG, 900, 0));
    const got = await c.next(notificationWith(sent.body.id));
    assert.equal(got.severity, 'critical');
  });
});

describe('to a region', () => {
  test("a region notification reaches that region's drivers only", async () => {
    const here = offset(JOBURG, 400, 90);
    const far = offset(here, 300, 0);
    await register('nt-in');
    await register('nt-out');
    const inside = await connectDriver('nt-in', here);
    const outside = await connectDriver('nt-out', far);
    const watcher = await console_('ops-nt-console', here);
    const sent = await notify(note({ region: here }, { severity: 'critical' }));
    assert.equal(sent.status, 202, sent.text);
    assert.equal(sent.body.delivered, 1);
    const got = await inside.next(notificationWith(sent.body.id));
    assert.equal(got.severity, 'critical');
    await sleep(500);
    assert.equal(outside.received('notification').length, 0, 'a driver of another region');
    assert.equal(watcher.received('notification').length, 0, 'the dispatch consoles of the region are not its drivers');
  });
});

describe('to everyone', () => {
  test('every connected socket gets it: drivers, consoles and ride sockets', async () => {
    const spot = offset(JOBURG, 600, 180);
    await register('nt-all');
    const d = await connectDriver('nt-all', spot);
    const c = await console_('ops-nt-all', spot);
    const created = await api(worker, 'POST', '/v1/rides', {
      token: token('passenger', 'nt-pax-all'),
      body: { pickup: offset(spot, 100, 0), dropoff: offset(spot, 103, 0) },
    });
    assert.equal(created.status, 201, created.text);
    const p = await Client.open(worker.wsUrl(`/v1/ws/rides/${created.body.id}`), { token: token('passenger', 'nt-pax-all') });
    open.push(p);
    await p.next('connected');
    const sockets = [d, c, p];
    // A region's stats report (what "everyone" is found from) follows its sockets within a second.
    const sent = await until(
      async () => {
        const r = await notify(note({ all: true }, { severity: 'info' }));
        await sleep(100);
        const all = r.status === 202 && sockets.every((s) => s.received('notification').some((f) => f.id === r.body.id));
        return { r, all };
      },
      ({ r, all }) => r.status !== 202 || all,
    );
    assert.equal(sent.r.status, 202, sent.r.text);
    assert.ok(sent.all, 'the driver, the console and the ride socket got the same notification');
    assert.ok(sent.r.body.delivered >= 3, `delivered ${sent.r.body.delivered}`);
  });
});

describe('refused', () => {
  test('bad bodies are 400 invalid_request naming the field', async () => {
    const cases = [
      [note({}), /^to must name exactly one/],
      [note({ user: 'a', all: true }), /^to must name exactly one/],
      [note({ all: false }), /^to\.all must be true/],
      [note({ region: { lat: 95, lng: 0 } }), /^to\.region\.lat/],
      [note({ region: [28.04, -26.2] }), /^to\.region: invalid type/],
      [note({ all: true }, { severity: 'urgent' }), /^severity: unknown variant/],
      [note({ all: true }, { title: 'x'.repeat(101) }), /^title must be at most 100/],
      [note({ all: true }, { message: '' }), /^message must not be empty/],
      [note({ all: true }, { colour: 'red' }), /unknown field `colour`/],
      [note({ all: true }, { action: { type: 'open_ride', ride_id: 'r1' } }), /^action\.ride_id/],
      [[note({ all: true })], /^body: invalid type/],
    ];
    for (const [body, message] of cases) {
      const res = await notify(body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.body.error.code, 'invalid_request');
      assert.match(res.body.error.message, message, JSON.stringify(body));
    }
  });

  test('only dispatchers may send notifications', async () => {
    for (const role of ['driver', 'passenger', 'partner']) {
      const res = await notify(note({ all: true }), token(role, `nt-${role}`));
      assert.equal(res.status, 403, `${role}: ${res.text}`);
    }
    const anonymous = await api(worker, 'POST', '/v1/notifications', { body: note({ all: true }) });
    assert.equal(anonymous.status, 401);
    const get = await api(worker, 'GET', '/v1/notifications', { token: ops });
    assert.equal(get.status, 405);
  });
});
