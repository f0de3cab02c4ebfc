// The rules every socket keeps (PROTOCOL.md "WebSockets"): token expiry and refresh, frames over
// 64 KiB, the message rate limit, five sockets per sub; shown on driver and ride sockets.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startWorker, token } from './helpers.mjs';
import { Client, sleep } from './ws-client.mjs';

const AT = { lat: 51.5072, lng: -0.1276 };
let worker;

before(async () => {
  worker = await startWorker();
  const put = await api(worker, 'PUT', '/v1/drivers/s1', {
    token: token('dispatcher', 'ops'),
    body: { name: 'S One', phone: '+442071234567', vehicle: { type: 'cab', registration: 'LX1' } },
  });
  assert.equal(put.status, 200, put.text);
});
after(() => worker?.close());

const driverUrl = () => worker.wsUrl(`/v1/ws/driver?lat=${AT.lat}&lng=${AT.lng}`);

async function driver(opts = {}) {
  const c = await Client.open(driverUrl(), { token: token('driver', 's1', opts) });
  await c.next('connected');
  return c;
}

test('when the token expires the socket gets token_expired and closes with 4001', async () => {
  const c = await driver({ ttl: 2 });
  await c.next('token_expired', 6000);
  assert.equal((await c.closedWith(3000)).code, 4001);
});

test('refresh_token with a valid token for the same driver keeps the socket open past the old exp', async () => {
  const c = await driver({ ttl: 2 });
  c.send({ type: 'refresh_token', token: token('driver', 's1', { ttl: 3600 }), req_id: 'r1' });
  const refreshed = await c.next('token_refreshed');
  assert.equal(refreshed.req_id, 'r1');
  assert.ok(refreshed.expires_at > Date.now() + 3_000_000);
  await sleep(3000);
  c.send({ type: 'ping', req_id: 'alive' });
  await c.next((f) => f.type === 'pong' && f.req_id === 'alive');
  assert.equal(c.received('token_expired').length, 0);
  c.close();
});

test('refresh_token for another sub is refused and the socket keeps its token', async () => {
  const c = await driver();
  c.send({ type: 'refresh_token', token: token('driver', 'someone-else'), req_id: 'r2' });
  const refused = await c.next('error');
  assert.equal(refused.code, 'unauthorized');
  assert.equal(refused.req_id, 'r2');
  c.send({ type: 'refresh_token', token: 'garbage', req_id: 'r3' });
  assert.equal((await c.next((f) => f.type === 'error' && f.req_id === 'r3')).code, 'unauthorized');
  c.close();
});

test('a frame over 64 KiB gets message_too_large and close 1009', async () => {
  const c = await driver();
  c.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(70 * 1024) }));
  assert.equal((await c.next('error')).code, 'message_too_large');
  assert.equal((await c.closedWith()).code, 1009);
});

test('a flood of frames is rate_limited, then closed with 1008', async () => {
  const c = await driver();
  for (let i = 0; i < 300; i++) c.send({ type: 'ping', req_id: `f${i}` });
  const limited = await c.next('error');
  assert.equal(limited.code, 'rate_limited');
  assert.equal((await c.closedWith(5000)).code, 1008);
  const pongs = c.received('pong').length;
  assert.ok(pongs >= 40 && pongs < 100, `about the burst of 40 got through (${pongs})`);
});

test('a sixth socket of one sub closes the oldest with 4002', async () => {
  const sockets = [];
  for (let i = 0; i < 5; i++) sockets.push(await driver());
  const sixth = await driver();
  assert.equal((await sockets[0].closedWith()).code, 4002);
  await sleep(200);
  assert.ok(sockets.slice(1).every((s) => !s.closed), 'the other four stay open');
  for (const s of [...sockets, sixth]) s.close();
});

test('ride sockets keep the same rules: ping, bad_message, token expiry', async () => {
  const ride = await api(worker, 'POST', '/v1/rides', {
    token: token('passenger', 'pax-s'),
    body: { pickup: AT, dropoff: { lat: 51.5, lng: -0.12 } },
  });
  assert.equal(ride.status, 201, ride.text);
  const pax = await Client.open(worker.wsUrl(`/v1/ws/rides/${ride.body.id}`), { token: token('passenger', 'pax-s', { ttl: 2 }) });
  const hello = await pax.next('connected');
  assert.equal(hello.ride_id, ride.body.id);
  pax.send({ type: 'ping', req_id: 'p' });
  assert.equal((await pax.next('pong')).req_id, 'p');
  pax.send({ type: 'accept_ride', ride_id: ride.body.id });
  assert.equal((await pax.next('error')).code, 'bad_message');
  await pax.next('token_expired', 6000);
  assert.equal((await pax.closedWith(3000)).code, 4001);
});

test('a ride socket for someone else\'s ride, or by a driver, is refused', async () => {
  const nowhere = { lat: -1.2921, lng: 36.8219 }; // no driver within reach
  const ride = await api(worker, 'POST', '/v1/rides', { token: token('passenger', 'owner'), body: { pickup: nowhere, dropoff: nowhere } });
  const url = worker.wsUrl(`/v1/ws/rides/${ride.body.id}`);
  await assert.rejects(Client.open(url, { token: token('passenger', 'stranger') }), (e) => e.status === 404);
  await assert.rejects(Client.open(url, { token: token('driver', 's1') }), (e) => e.status === 403);
  await assert.rejects(Client.open(`${url}?last_seq=abc`, { token: token('passenger', 'owner') }), (e) => e.status === 400);
  const ok = await Client.open(url, { token: token('dispatcher', 'ops') });
  assert.equal((await ok.next('connected')).status, 'searching', 'no driver is online near this pickup: it waits');
  ok.close();
});
