// Authentication at the edge (PROTOCOL.md "Authentication"): every rejection is a 401 before any
// work is done, and a valid token whose role may not use the endpoint is a 403.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, nowSeconds, signJwt, startWorker, token, TEST_JWT_SECRET } from './helpers.mjs';

let worker;
before(async () => { worker = await startWorker(); });
after(() => worker?.close());

const RIDE = { pickup: { lat: -26.2041, lng: 28.0473 }, dropoff: { lat: -26.1076, lng: 28.0567 } };

function assertError(res, status, code) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body?.error?.code, code, res.text);
  assert.equal(typeof res.body.error.message, 'string');
  assert.ok(res.body.error.message.length > 0);
}

async function rideCount() {
  const row = await worker.db.prepare('SELECT COUNT(*) AS n FROM rides').first();
  return row.n;
}

describe('tokens that are refused with 401 and change nothing', () => {
  const exp = () => nowSeconds() + 600;
  const cases = {
    'no token': () => undefined,
    'a token signed with another secret': () => signJwt({ sub: 'p1', role: 'passenger', exp: exp() }, 'another-secret'),
    'alg none': () => signJwt({ sub: 'p1', role: 'passenger', exp: exp() }, TEST_JWT_SECRET, { alg: 'none' }),
    'alg HS512 with the right secret': () => signJwt({ sub: 'p1', role: 'passenger', exp: exp() }, TEST_JWT_SECRET, { alg: 'HS512' }),
    'an HS256 signature under a header claiming RS256': () =>
      signJwt({ sub: 'p1', role: 'passenger', exp: exp() }, TEST_JWT_SECRET, { header: { alg: 'RS256' } }),
    'an expired token': () => token('passenger', 'p1', { ttl: -5 }),
    'a token not valid yet': () => token('passenger', 'p1', { nbf: nowSeconds() + 300 }),
    'an unknown role': () => token('admin', 'p1'),
    'no sub': () => signJwt({ role: 'passenger', exp: exp() }, TEST_JWT_SECRET),
    'no exp': () => signJwt({ sub: 'p1', role: 'passenger' }, TEST_JWT_SECRET),
    'garbage': () => 'not.a.jwt',
  };
  for (const [name, make] of Object.entries(cases)) {
    test(`${name} is refused on POST /v1/rides`, async () => {
      const before = await rideCount();
      const res = await api(worker, 'POST', '/v1/rides', { token: make(), body: RIDE });
      assertError(res, 401, 'unauthorized');
      assert.equal(await rideCount(), before, 'nothing was created');
    });
  }

  test('a Basic authorization header is refused', async () => {
    const res = await api(worker, 'GET', '/v1/rides', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    assertError(res, 401, 'unauthorized');
  });

  test('a ?token= query parameter does not authenticate HTTP requests', async () => {
    const res = await api(worker, 'GET', `/v1/rides?token=${token('dispatcher', 'ops')}`);
    assertError(res, 401, 'unauthorized');
  });

  test('authentication is checked before the body is validated', async () => {
    const res = await api(worker, 'POST', '/v1/rides', { body: '{not json' });
    assertError(res, 401, 'unauthorized');
  });
});

describe('roles', () => {
  test('a driver may not create rides (403)', async () => {
    const res = await api(worker, 'POST', '/v1/rides', { token: token('driver', 'd1'), body: RIDE });
    assertError(res, 403, 'forbidden');
  });

  test('a dispatcher may not create rides (403)', async () => {
    const res = await api(worker, 'POST', '/v1/rides', { token: token('dispatcher', 'ops'), body: RIDE });
    assertError(res, 403, 'forbidden');
  });

  test('the role is checked before the body is validated', async () => {
    const res = await api(worker, 'POST', '/v1/rides', { token: token('driver', 'd1'), body: '{not json' });
    assertError(res, 403, 'forbidden');
  });

  test('health and the OpenAPI document need no token', async () => {
    assert.equal((await api(worker, 'GET', '/health')).status, 200);
    const doc = await api(worker, 'GET', '/openapi.json');
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, '3.1.0');
  });
});
