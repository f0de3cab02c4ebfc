// PROTOCOL.md "Input and abuse": strict bodies, per-client rate limits, callback URL rules and the
// 16 KiB body cap applied while the body streams in.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startWorker, token } from './helpers.mjs';

const PICKUP = { lat: -26.2041, lng: 28.0473 };
const DROPOFF = { lat: -26.1076, lng: 28.0567 };
let worker;

before(async () => {
  worker = await startWorker();
});
after(() => worker?.close());

test('an array where the contract shows an object is invalid_request naming the field', async () => {
  const pax = token('passenger', 'ab-strict');
  const geojson = await api(worker, 'POST', '/v1/rides', { token: pax, body: { pickup: [28.0473, -26.2041], dropoff: DROPOFF } });
  assert.equal(geojson.status, 400, geojson.text);
  assert.equal(geojson.body.error.code, 'invalid_request');
  assert.match(geojson.body.error.message, /^pickup: invalid type: sequence, expected an object/);
  const fare = await api(worker, 'POST', '/v1/rides', { token: pax, body: { pickup: PICKUP, dropoff: DROPOFF, fare: [85, 'NAD'] } });
  assert.equal(fare.status, 400);
  assert.match(fare.body.error.message, /^fare: /);
  const whole = await api(worker, 'POST', '/v1/rides', { token: pax, body: [PICKUP, DROPOFF] });
  assert.equal(whole.status, 400);
  assert.match(whole.body.error.message, /^body: invalid type: sequence/);
  const vehicle = await api(worker, 'PUT', '/v1/drivers/ab-drv2', {
    token: token('dispatcher', 'ab-ops'),
    body: { name: 'A', phone: '+442071234567', vehicle: ['cab', 'AB2'] },
  });
  assert.equal(vehicle.status, 400);
  assert.match(vehicle.body.error.message, /^vehicle: invalid type: sequence/);
  const unknown = await api(worker, 'POST', '/v1/rides', { token: pax, body: { pickup: { ...PICKUP, alt: 1 }, dropoff: DROPOFF } });
  assert.equal(unknown.status, 400);
  assert.match(unknown.body.error.message, /^pickup: unknown field `alt`/);
});

test('a callback_url into a private or metadata range is invalid_request', async () => {
  const partner = token('partner', 'ab-partner');
  for (const url of ['https://169.254.169.254/', 'https://2852039166/', 'https://[fd00:ec2::254]/', 'https://u:p@partner.example/', 'http://partner.example/']) {
    const res = await api(worker, 'POST', '/v1/rides', { token: partner, body: { pickup: PICKUP, dropoff: DROPOFF, callback_url: url } });
    assert.equal(res.status, 400, `${url}: ${res.text}`);
    assert.match(res.body.error.message, /^callback_url /, url);
  }
  const ok = await api(worker, 'POST', '/v1/rides', { token: partner, body: { pickup: PICKUP, dropoff: DROPOFF, callback_url: 'https://partner.example/hooks' } });
  assert.equal(ok.status, 201, ok.text);
});

test('a chunked 1 MiB body without Content-Length gets 413 payload_too_large', async () => {
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  let sent = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (sent >= 16) return controller.close();
      sent++;
      controller.enqueue(chunk);
    },
  });
  const res = await worker.fetch('/v1/rides', {
    method: 'POST',
    headers: { authorization: `Bearer ${token('passenger', 'ab-big')}`, 'content-type': 'application/json' },
    body,
    duplex: 'half',
  });
  assert.equal(res.status, 413);
  assert.equal((await res.json()).error.code, 'payload_too_large');
});

test('a client over its ride-creation limit gets 429 with Retry-After while another client is served', async () => {
  const flooder = token('passenger', 'ab-flood');
  const body = { pickup: { lat: -1.2921, lng: 36.8219 }, dropoff: { lat: -1.3, lng: 36.83 } }; // nobody near: the rides wait
  const answers = await Promise.all(Array.from({ length: 35 }, () => api(worker, 'POST', '/v1/rides', { token: flooder, body })));
  const statuses = answers.map((a) => a.status);
  const limited = answers.filter((a) => a.status === 429);
  // 30 a minute; a minute window that turned during the burst may let a few more through.
  assert.ok(limited.length >= 1, `some were refused: ${statuses}`);
  assert.ok(statuses.filter((s) => s === 201).length >= 30, `30 were created: ${statuses}`);
  for (const res of limited) {
    assert.equal(res.body.error.code, 'rate_limited');
    const wait = Number(res.headers.get('retry-after'));
    assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= 60, `Retry-After ${res.headers.get('retry-after')}`);
  }
  const other = await api(worker, 'POST', '/v1/rides', { token: token('passenger', 'ab-calm'), body });
  assert.equal(other.status, 201, other.text);
  const stillFlooder = await api(worker, 'GET', '/v1/rides?limit=1', { token: flooder });
  assert.equal(stillFlooder.status, 200, 'the creation limit does not stop its other requests');
});

test('more than 20 requests a second from one client get 429 while another client is served', async () => {
  const flooder = token('passenger', 'ab-burst');
  // The limit counts in fixed 10 s windows: a burst of 220 that straddles a window's end may fit
  // under 200 in each. Three bursts, back to back, span at most two windows, so one of them holds
  // more than 200 and something is refused.
  let limited = [];
  for (let burst = 0; burst < 3 && limited.length === 0; burst++) {
    const answers = await Promise.all(Array.from({ length: 220 }, () => api(worker, 'GET', '/v1/rides?limit=1', { token: flooder })));
    limited = answers.filter((a) => a.status === 429);
  }
  assert.ok(limited.length >= 1, 'some were refused');
  assert.ok(Number(limited[0].headers.get('retry-after')) >= 1);
  assert.equal(limited[0].body.error.code, 'rate_limited');
  const other = await api(worker, 'GET', '/v1/rides?limit=1', { token: token('passenger', 'ab-quiet') });
  assert.equal(other.status, 200);
});
