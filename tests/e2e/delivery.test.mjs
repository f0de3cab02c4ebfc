// Proof of delivery, the start PIN and watch links, end to end (PROTOCOL.md "Notifications, proof
// of delivery, watchers, demand"; docs/protocol.md part 2 "Proof, start PIN and watch links"):
// a photo proof round-trips through local R2 and only the ride's parties read it; a non-image is
// refused; a PIN ride refuses a wrong PIN, throttles, and starts with the right one; a watcher
// follows a ride from searching to completed, is refused everything else, and is cut off on revoke.
//
// Every test works at its own spot, 40 km from any other, with its own drivers and passengers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startWorker, token, registerDriver } from './helpers.mjs';
import { Client, offset, sleep } from './ws-client.mjs';

const PRETORIA = { lat: -25.7479, lng: 28.2293 };
let spots = 0;
const newSpot = () => offset(PRETORIA, 40 * spots++, 90);

const ops = token('dispatcher', 'dv-ops');
let worker;
const sockets = [];

before(async () => {
  worker = await startWorker({ vars: { OFFER_TIMEOUT_S: '120', OFFER_BATCH: '2', MAX_ROUNDS: '3' } });
});
after(async () => {
  for (const c of sockets) c.close();
  await worker?.close();
});

// The smallest real images: a 1×1 PNG, and the first bytes of a JPEG.
const PNG = Uint8Array.from(Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
  '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex'));
const JPEG = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1]);

function assertError(res, status, code) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body?.error?.code, code, res.text);
}

async function connectDriver(id, at) {
  await registerDriver(worker, id, { by: ops, phone: '+27125550100', registration: `GP ${id}` });
  const jwt = token('driver', id);
  const client = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}`), { token: jwt });
  sockets.push(client);
  await client.next('connected');
  Object.assign(client, { id, jwt });
  return client;
}

/** A ride at a fresh spot with its own driver connected near it; `extra` goes into the create body. */
async function newRide(tag, extra = {}) {
  const pickup = newSpot();
  const driver = await connectDriver(`dv-${tag}-d`, offset(pickup, 1, 45));
  const paxSub = `dv-${tag}-pax`;
  const paxJwt = token('passenger', paxSub);
  const res = await api(worker, 'POST', '/v1/rides', { token: paxJwt, body: { pickup, dropoff: offset(pickup, 5, 0), ...extra } });
  assert.equal(res.status, 201, res.text);
  return { driver, ride: res.body, paxJwt };
}

async function accept(driver, rideId) {
  await driver.next((f) => f.type === 'ride_offer' && f.ride.id === rideId);
  const res = await api(worker, 'POST', `/v1/rides/${rideId}/accept`, { token: driver.jwt });
  assert.equal(res.status, 200, res.text);
  return res.body;
}

const step = (driver, rideId, path, body) => api(worker, 'POST', `/v1/rides/${rideId}/${path}`, { token: driver.jwt, body });
const upload = (jwt, rideId, name, bytes, type) =>
  api(worker, 'PUT', `/v1/rides/${rideId}/proof/${name}`, { token: jwt, body: bytes, headers: { 'content-type': type } });

/** A ride accepted and started by its driver (no PIN). */
async function startedRide(tag, extra = {}) {
  const r = await newRide(tag, extra);
  await accept(r.driver, r.ride.id);
  assert.equal((await step(r.driver, r.ride.id, 'arrived')).status, 200);
  assert.equal((await step(r.driver, r.ride.id, 'start')).status, 200);
  return r;
}

describe('proof of delivery', () => {
  test('a photo proof round-trips through R2: uploaded by the driver, named at completion, in the ride and ride_completed, served to the ride parties only', async () => {
    const { driver, ride, paxJwt } = await startedRide('photo', { proof_required: true });
    const pax = await Client.open(worker.wsUrl(`/v1/ws/rides/${ride.id}`), { token: paxJwt });
    sockets.push(pax);
    await pax.next('connected');

    const refused = await step(driver, ride.id, 'complete');
    assertError(refused, 400, 'invalid_request');
    const unknown = await step(driver, ride.id, 'complete', { proof: { type: 'photo', object: 'door' } });
    assertError(unknown, 400, 'invalid_request');

    const put = await upload(driver.jwt, ride.id, 'door', PNG, 'image/png');
    assert.equal(put.status, 201, put.text);
    assert.deepEqual({ ...put.body, uploaded_at: 0 }, { name: 'door', content_type: 'image/png', size: PNG.length, uploaded_at: 0 });

    const done = await step(driver, ride.id, 'complete', { proof: { type: 'photo', object: 'door' } });
    assert.equal(done.status, 200, done.text);
    assert.deepEqual(done.body.proof, { type: 'photo', value: null, object: 'door' });
    const completed = await pax.next('ride_completed');
    assert.deepEqual(completed.proof, { type: 'photo', value: null, object: 'door' });

    for (const jwt of [paxJwt, driver.jwt, ops]) {
      const res = await worker.fetch(`/v1/rides/${ride.id}/proof/door`, { headers: { authorization: `Bearer ${jwt}` } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/png');
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), PNG);
    }
    for (const jwt of [token('passenger', 'dv-stranger'), token('driver', 'dv-other-driver')]) {
      const res = await api(worker, 'GET', `/v1/rides/${ride.id}/proof/door`, { token: jwt });
      assertError(res, 404, 'not_found');
    }
    const late = await upload(driver.jwt, ride.id, 'door', JPEG, 'image/jpeg');
    assertError(late, 409, 'invalid_transition');
  });

  test('a non-image, a mislabelled image, a bad name, an upload over 5 MiB and one by another driver are refused', async () => {
    const { driver, ride } = await startedRide('refuse');
    assertError(await upload(driver.jwt, ride.id, 'note', new TextEncoder().encode('<html>not an image</html>'), 'image/png'), 400, 'invalid_request');
    assertError(await upload(driver.jwt, ride.id, 'note', PNG, 'image/jpeg'), 400, 'invalid_request');
    assertError(await upload(driver.jwt, ride.id, 'note', PNG, 'text/plain'), 400, 'invalid_request');
    assertError(await upload(driver.jwt, ride.id, 'bad.name', PNG, 'image/png'), 400, 'invalid_request');
    // Over 5 MiB, streamed without a Content-Length: refused once it passes the cap (the few
    // bytes past it are read and dropped, so the connection stays usable).
    let sent = 0;
    const chunk = new Uint8Array(64 * 1024);
    const big = new ReadableStream({
      pull(controller) {
        if (sent === 81) return controller.close(); // 81 × 64 KiB = 5 MiB + 64 KiB
        controller.enqueue(sent++ === 0 ? Uint8Array.from([...PNG, ...chunk.subarray(PNG.length)]) : chunk);
      },
    });
    const res = await worker.fetch(`/v1/rides/${ride.id}/proof/big`, {
      method: 'PUT', headers: { authorization: `Bearer ${driver.jwt}`, 'content-type': 'image/png' }, body: big, duplex: 'half',
    });
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.code, 'payload_too_large');
    const other = await connectDriver('dv-refuse-other', offset(PRETORIA, 500, 0));
    assertError(await upload(other.jwt, ride.id, 'note', PNG, 'image/png'), 404, 'not_found');
    assertError(await upload(ops, ride.id, 'note', PNG, 'image/png'), 403, 'forbidden');
    const ok = await upload(driver.jwt, ride.id, 'sig', JPEG, 'image/jpeg');
    assert.equal(ok.status, 201, ok.text);
  });

  test('a code proof over the driver socket completes a proof_required ride', async () => {
    const { driver, ride } = await startedRide('code', { proof_required: true });
    driver.send({ type: 'ride_status', ride_id: ride.id, status: 'completed', req_id: 'c0' });
    const err = await driver.next((f) => f.type === 'error' && f.req_id === 'c0');
    assert.equal(err.code, 'invalid_request');
    driver.send({ type: 'ride_status', ride_id: ride.id, status: 'completed', proof: { type: 'code', value: '7731' }, req_id: 'c1' });
    const updated = await driver.next((f) => f.type === 'ride_updated' && f.req_id === 'c1');
    assert.equal(updated.ride.status, 'completed');
    assert.deepEqual(updated.ride.proof, { type: 'code', value: '7731', object: null });
  });
});

describe('start PIN', () => {
  test('only the passenger side sees the PIN; a wrong PIN is 403 wrong_pin, the right one starts the trip', async () => {
    const { driver, ride, paxJwt } = await newRide('pin', { start_pin: true });
    assert.match(ride.start_pin, /^\d{4}$/);
    assert.equal(ride.start_pin_required, true);
    const assigned = await accept(driver, ride.id);
    assert.equal(assigned.start_pin, undefined, 'the driver never sees the PIN');
    assert.equal(assigned.start_pin_required, true, 'but knows to ask for it');
    const frame = await driver.next((f) => f.type === 'ride_assigned' && f.ride.id === ride.id);
    assert.equal(frame.ride.start_pin, undefined);
    assert.ok(!driver.frames.some((f) => JSON.stringify(f).includes(`"start_pin":"`)), 'no frame to the driver carries it');
    assert.equal((await api(worker, 'GET', `/v1/rides/${ride.id}`, { token: driver.jwt })).body.start_pin, undefined);
    assert.equal((await api(worker, 'GET', `/v1/rides/${ride.id}`, { token: paxJwt })).body.start_pin, ride.start_pin);
    assert.equal((await api(worker, 'GET', `/v1/rides/${ride.id}`, { token: ops })).body.start_pin, ride.start_pin);
    await step(driver, ride.id, 'arrived');
    assertError(await step(driver, ride.id, 'start'), 400, 'invalid_request');
    const wrong = ride.start_pin === '0000' ? '1111' : '0000';
    assertError(await step(driver, ride.id, 'start', { pin: wrong }), 403, 'wrong_pin');
    driver.send({ type: 'ride_status', ride_id: ride.id, status: 'in_progress', pin: wrong, req_id: 's1' });
    assert.equal((await driver.next((f) => f.type === 'error' && f.req_id === 's1')).code, 'wrong_pin');
    const started = await step(driver, ride.id, 'start', { pin: ride.start_pin });
    assert.equal(started.status, 200, started.text);
    assert.equal(started.body.status, 'in_progress');
    assert.equal(started.body.start_pin, undefined);
  });

  test('after five wrong PINs in a row starts are refused with 429 and Retry-After, even with the right PIN', async () => {
    const { driver, ride } = await newRide('throttle', { start_pin: true });
    await accept(driver, ride.id);
    await step(driver, ride.id, 'arrived');
    const wrong = ride.start_pin === '0000' ? '1111' : '0000';
    for (let i = 0; i < 5; i++) assertError(await step(driver, ride.id, 'start', { pin: wrong }), 403, 'wrong_pin');
    const locked = await step(driver, ride.id, 'start', { pin: ride.start_pin });
    assertError(locked, 429, 'rate_limited');
    const retry = Number(locked.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
  });
});

describe('watch links', () => {
  test('a watcher follows a ride from searching to completed with replay, never sees the driver phone, and is refused every write, endpoint and other ride', async () => {
    const { driver, ride, paxJwt } = await newRide('watch');
    const other = await newRide('watch-other');
    const grant = await api(worker, 'POST', `/v1/rides/${ride.id}/watchers`, { token: paxJwt });
    assert.equal(grant.status, 201, grant.text);
    assert.match(grant.body.watch_id, /^w_[0-9a-f]{24}$/);
    assert.equal(grant.body.ws_path, `/v1/ws/rides/${ride.id}`);
    assert.ok(grant.body.expires_at > Date.now());
    const wt = grant.body.watch_token;

    const watcher = await Client.open(worker.wsUrl(`${grant.body.ws_path}?last_seq=0&token=${wt}`));
    sockets.push(watcher);
    const hello = await watcher.next('connected');
    assert.equal(hello.status, 'searching');
    await watcher.next('ride_created');

    await accept(driver, ride.id);
    const assigned = await watcher.next('driver_assigned');
    assert.equal(assigned.driver.id, driver.id);
    assert.equal(assigned.driver.phone, undefined, 'a watcher never sees the driver phone');

    watcher.send({ type: 'cancel_ride', req_id: 'x' });
    assert.equal((await watcher.next((f) => f.type === 'error' && f.req_id === 'x')).code, 'forbidden');

    for (const [method, path, body] of [
      ['GET', `/v1/rides/${ride.id}`],
      ['GET', `/v1/rides/${other.ride.id}`],
      ['POST', `/v1/rides/${ride.id}/cancel`, {}],
      ['POST', `/v1/rides/${ride.id}/accept`],
      ['POST', `/v1/rides/${ride.id}/arrived`],
      ['POST', `/v1/rides/${ride.id}/watchers`],
      ['DELETE', `/v1/rides/${ride.id}/watchers`],
      ['GET', '/v1/rides'],
      ['POST', '/v1/rides', { pickup: PRETORIA, dropoff: PRETORIA }],
      ['GET', `/v1/rides/${ride.id}/proof/door`],
      ['GET', `/v1/drivers/${driver.id}`],
      ['GET', '/v1/drivers/nearby?lat=-25.7&lng=28.2'],
      ['GET', '/v1/stats'],
    ]) {
      assertError(await api(worker, method, path, { token: wt, body }), 401, 'unauthorized');
    }
    await assert.rejects(Client.open(worker.wsUrl(`/v1/ws/rides/${other.ride.id}?token=${wt}`)), (e) => e.status === 403);
    await assert.rejects(Client.open(worker.wsUrl(`/v1/ws/driver?lat=0&lng=0&token=${wt}`)), (e) => e.status === 401);
    await assert.rejects(Client.open(worker.wsUrl(`/v1/ws/dispatch?lat=0&lng=0&token=${wt}`)), (e) => e.status === 401);

    await step(driver, ride.id, 'arrived');
    await step(driver, ride.id, 'start');
    driver.send({ type: 'location_update', lat: PRETORIA.lat, lng: PRETORIA.lng });
    await watcher.next('driver_location');
    await step(driver, ride.id, 'complete');
    await watcher.next('ride_completed');
    // Once the ride has ended a watcher gets no driver_location (sent a second later: past the relay's interval).
    await sleep(1100);
    driver.send({ type: 'location_update', lat: PRETORIA.lat + 0.001, lng: PRETORIA.lng });
    await sleep(1000);
    assert.equal(watcher.frames.filter((f) => f.type === 'driver_location').length, 1);
    const types = watcher.frames.filter((f) => f.seq !== undefined).map((f) => f.type);
    assert.deepEqual(types.filter((t) => t !== 'searching'), ['ride_created', 'driver_assigned', 'driver_arrived', 'trip_started', 'ride_completed']);

    // Replay after the end: the whole log again, phone still removed.
    const again = await Client.open(worker.wsUrl(`/v1/ws/rides/${ride.id}?last_seq=0`), { token: wt });
    sockets.push(again);
    await again.next('ride_completed');
    assert.equal(again.frames.find((f) => f.type === 'driver_assigned').driver.phone, undefined);
  });

  test('revoking one link closes its sockets at once with 4004 and refuses it after; revoking all ends every link', async () => {
    const { ride, paxJwt } = await newRide('revoke');
    const make = async () => (await api(worker, 'POST', `/v1/rides/${ride.id}/watchers`, { token: paxJwt })).body;
    const [a, b, c] = [await make(), await make(), await make()];
    const open = async (g) => {
      const s = await Client.open(worker.wsUrl(`/v1/ws/rides/${ride.id}`), { token: g.watch_token });
      sockets.push(s);
      await s.next('connected');
      return s;
    };
    const [sa, sb, sc] = [await open(a), await open(b), await open(c)];
    assertError(await api(worker, 'POST', `/v1/rides/${ride.id}/watchers`, { token: ops }), 403, 'forbidden');
    assertError(await api(worker, 'POST', `/v1/rides/${ride.id}/watchers`, { token: token('passenger', 'dv-nobody') }), 404, 'not_found');

    const one = await api(worker, 'DELETE', `/v1/rides/${ride.id}/watchers/${a.watch_id}`, { token: paxJwt });
    assert.equal(one.status, 204, one.text);
    assert.equal((await sa.closedWith()).code, 4004);
    await assert.rejects(open(a), (e) => e.status === 401);
    sb.send({ type: 'ping', req_id: 'still' });
    await sb.next((f) => f.type === 'pong' && f.req_id === 'still');

    const all = await api(worker, 'DELETE', `/v1/rides/${ride.id}/watchers`, { token: paxJwt });
    assert.equal(all.status, 204, all.text);
    assert.equal((await sb.closedWith()).code, 4004);
    assert.equal((await sc.closedWith()).code, 4004);
    await assert.rejects(open(c), (e) => e.status === 401);
    assertError(await api(worker, 'DELETE', `/v1/rides/${ride.id}/watchers/${b.watch_id}`, { token: paxJwt }), 404, 'not_found');
    await sleep(0);
  });
});
