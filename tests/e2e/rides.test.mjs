// POST /v1/rides, GET /v1/rides/{id}, GET /v1/rides: creation through the ride's own Durable
// Object (recorded in D1), validation, Idempotency-Key, role scoping and cursor pagination.
// No driver is online in this file: every ride's first round finds nobody and the ride keeps
// searching (OFFER_TIMEOUT_S is long here, so none expires during the file; expiry after
// MAX_ROUNDS is rounds.test.mjs, dispatch with drivers dispatch.test.mjs).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startWorker, token, until } from './helpers.mjs';

let worker;
// "listing rides" creates 32 rides for one passenger at once, over its 30 a minute
// (tests/e2e/abuse.test.mjs checks that limit): this file runs with room for them.
const RIDE_CREATION_LIMITER = { simple: { limit: 100, period: 60 } };
before(async () => { worker = await startWorker({ vars: { OFFER_TIMEOUT_S: '600' }, ratelimits: { RIDE_CREATION_LIMITER } }); });
after(() => worker?.close());

const RIDE = {
  pickup: { lat: -26.2041, lng: 28.0473, address: 'Park Station' },
  dropoff: { lat: -26.1076, lng: 28.0567 },
};
const PARTNER_RIDE = {
  ...RIDE,
  product: 'gas_delivery',
  fare: { amount: 85.5, currency: 'ZAR' },
  distance_km: 12.4,
  passenger: { name: 'Lerato', phone: '+27825550100' },
  callback_url: 'https://partner.example/hooks/ridewire',
  proof_required: true,
};

function assertError(res, status, code) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body?.error?.code, code, res.text);
  assert.match(res.body.error.message, /\S/);
}

async function create(sub, body = RIDE, role = 'passenger', headers = {}) {
  const res = await api(worker, 'POST', '/v1/rides', { token: token(role, sub, { name: `${sub} name` }), body, headers });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

/** The ride as its passenger `sub` reads it, once `ok` holds of it. */
async function view(id, sub, ok = () => true) {
  const read = async () => {
    const res = await api(worker, 'GET', `/v1/rides/${id}`, { token: token('passenger', sub) });
    assert.equal(res.status, 200, res.text);
    return res.body;
  };
  return until(read, ok);
}

async function d1Ride(id) {
  return worker.db.prepare('SELECT status, passenger_id, partner_id, data FROM rides WHERE id = ?').bind(id).first();
}

describe('creating a ride', () => {
  test('a passenger creates a ride whose identity comes from its token; with no driver online it keeps searching', async () => {
    const res = await api(worker, 'POST', '/v1/rides', { token: token('passenger', 'pax-1', { name: 'Ann' }), body: RIDE });
    assert.equal(res.status, 201, res.text);
    const ride = res.body;
    assert.match(ride.id, /^ride_[0-9a-f]{32}$/);
    assert.equal(res.headers.get('location'), `/v1/rides/${ride.id}`);
    assert.equal(ride.status, 'searching');
    assert.equal(ride.product, 'taxi');
    assert.deepEqual(ride.pickup, { lat: -26.2041, lng: 28.0473, address: 'Park Station' });
    assert.deepEqual(ride.dropoff, { lat: -26.1076, lng: 28.0567, address: null });
    assert.deepEqual(ride.passenger, { id: 'pax-1', name: 'Ann' });
    assert.equal(ride.partner_id, null);
    assert.equal(ride.driver, null);
    assert.equal(ride.offer_round, 0, 'answered once stored, before its first round is answered');
    assert.ok(Math.abs(ride.created_at - Date.now()) < 60_000);
    for (const f of ['accepted_at', 'arrived_at', 'started_at', 'completed_at', 'cancelled_at', 'cancelled_by', 'cancel_reason', 'fare', 'distance_km']) {
      assert.equal(ride[f], null, f);
    }
    assert.equal(ride.callback_url, undefined);
    const later = await view(ride.id, 'pax-1', (r) => r.offer_round === 1);
    assert.equal(later.status, 'searching', 'its first round ran, found nobody, and it keeps searching');
  });

  test('the ride reaches D1 with its creation event', async () => {
    const created = await create('pax-d1');
    // D1 is written with the first round, right after the answer.
    const row = await until(() => d1Ride(created.id), (r) => r && JSON.parse(r.data).offer_round === 1);
    const ride = await view(created.id, 'pax-d1');
    assert.equal(row.status, 'searching');
    assert.equal(row.passenger_id, 'pax-d1');
    assert.deepEqual(JSON.parse(row.data), ride);
    const events = await worker.db.prepare('SELECT seq, type, status FROM ride_events WHERE ride_id = ? ORDER BY seq').bind(ride.id).all();
    assert.deepEqual(events.results, [
      { seq: 1, type: 'ride_created', status: 'searching' },
      { seq: 2, type: 'searching', status: 'searching' },
    ]);
  });

  test('a partner creates a ride for its customer with every optional field', async () => {
    const ride = await create('acme', PARTNER_RIDE, 'partner');
    assert.equal(ride.partner_id, 'acme');
    assert.deepEqual(ride.passenger, { id: null, name: 'Lerato' });
    assert.equal(ride.product, 'gas_delivery');
    assert.deepEqual(ride.fare, { amount: 85.5, currency: 'ZAR' });
    assert.equal(ride.distance_km, 12.4);
    assert.equal(ride.proof_required, true);
    assert.equal(ride.callback_url, undefined, 'the webhook address is not part of the ride object');
    assert.equal((await d1Ride(ride.id)).partner_id, 'acme');
  });

  test('ride ids are unique', async () => {
    const ids = new Set();
    for (let i = 0; i < 5; i++) ids.add((await create('pax-unique')).id);
    assert.equal(ids.size, 5);
  });
});

describe('bad create requests are 400 invalid_request and create nothing', () => {
  const cases = {
    'malformed JSON': '{"pickup":',
    'an array body': [],
    'missing pickup': { dropoff: RIDE.dropoff },
    'missing dropoff': { pickup: RIDE.pickup },
    'missing lng': { ...RIDE, pickup: { lat: 1 } },
    'lat as a string': { ...RIDE, pickup: { lat: '-26.2', lng: 28 } },
    'lat above 90': { ...RIDE, pickup: { lat: 90.01, lng: 28 } },
    'lat below -90': { ...RIDE, dropoff: { lat: -91, lng: 28 } },
    'lng above 180': { ...RIDE, pickup: { lat: 0, lng: 180.5 } },
    'lng below -180': { ...RIDE, dropoff: { lat: 0, lng: -181 } },
    'lat null': { ...RIDE, pickup: { lat: null, lng: 28 } },
    'an empty address': { ...RIDE, pickup: { ...RIDE.pickup, address: '' } },
    'an unknown field': { ...RIDE, pick_up: RIDE.pickup },
    'an upper-case product': { ...RIDE, product: 'Taxi' },
    'a negative fare': { ...RIDE, fare: { amount: -1, currency: 'ZAR' } },
    'a bad currency': { ...RIDE, fare: { amount: 10, currency: 'rand' } },
    'a negative distance': { ...RIDE, distance_km: -3 },
    'a passenger block from a passenger': { ...RIDE, passenger: { name: 'X', phone: '+27825550100' } },
    'a callback_url from a passenger': { ...RIDE, callback_url: 'https://x.example/h' },
    'proof_required as a string': { ...RIDE, proof_required: 'yes' },
  };
  for (const [name, body] of Object.entries(cases)) {
    test(name, async () => {
      const before = (await worker.db.prepare('SELECT COUNT(*) AS n FROM rides').first()).n;
      const res = await api(worker, 'POST', '/v1/rides', { token: token('passenger', 'pax-bad'), body });
      assertError(res, 400, 'invalid_request');
      assert.equal((await worker.db.prepare('SELECT COUNT(*) AS n FROM rides').first()).n, before);
    });
  }

  test('partner-only fields are validated for partners', async () => {
    for (const body of [
      { ...PARTNER_RIDE, callback_url: 'ftp://partner.example/x' },
      { ...PARTNER_RIDE, passenger: { name: 'Lerato', phone: 'none' } },
      { ...PARTNER_RIDE, passenger: { name: 'Lerato' } },
    ]) {
      assertError(await api(worker, 'POST', '/v1/rides', { token: token('partner', 'acme'), body }), 400, 'invalid_request');
    }
  });

  test('the error message names the field', async () => {
    const res = await api(worker, 'POST', '/v1/rides', { token: token('passenger', 'p'), body: { ...RIDE, pickup: { lat: 95, lng: 0 } } });
    assert.match(res.body.error.message, /pickup\.lat/);
  });

  test('a body over 16 KiB is 413 payload_too_large', async () => {
    const body = { ...RIDE, pickup: { ...RIDE.pickup, address: 'x'.repeat(17 * 1024) } };
    assertError(await api(worker, 'POST', '/v1/rides', { token: token('passenger', 'p'), body }), 413, 'payload_too_large');
  });
});

describe('Idempotency-Key', () => {
  test('a retry with the same key and body returns the same ride and creates no other', async () => {
    const headers = { 'Idempotency-Key': 'order-1001' };
    const first = await api(worker, 'POST', '/v1/rides', { token: token('partner', 'acme-idem'), body: PARTNER_RIDE, headers });
    assert.equal(first.status, 201, first.text);
    const again = await api(worker, 'POST', '/v1/rides', { token: token('partner', 'acme-idem'), body: PARTNER_RIDE, headers });
    assert.equal(again.status, 201, again.text);
    // The ride as it is now: the same ride, its first round perhaps answered since.
    assert.deepEqual({ ...again.body, offer_round: 0 }, first.body);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    const n = await worker.db.prepare('SELECT COUNT(*) AS n FROM rides WHERE partner_id = ?').bind('acme-idem').first();
    assert.equal(n.n, 1);
  });

  test('concurrent first uses of one key agree on one ride', async () => {
    const headers = { 'Idempotency-Key': 'burst-7' };
    const results = await Promise.all(
      Array.from({ length: 8 }, () => api(worker, 'POST', '/v1/rides', { token: token('passenger', 'pax-burst'), body: RIDE, headers })),
    );
    for (const r of results) assert.equal(r.status, 201, r.text);
    assert.equal(new Set(results.map((r) => r.body.id)).size, 1);
    const n = await worker.db.prepare('SELECT COUNT(*) AS n FROM rides WHERE passenger_id = ?').bind('pax-burst').first();
    assert.equal(n.n, 1);
  });

  test('the same key with a different body is 409 idempotency_key_reused', async () => {
    const headers = { 'Idempotency-Key': 'order-2002' };
    await create('pax-reuse', RIDE, 'passenger', headers);
    const res = await api(worker, 'POST', '/v1/rides', {
      token: token('passenger', 'pax-reuse'),
      body: { ...RIDE, product: 'comfort' },
      headers,
    });
    assertError(res, 409, 'idempotency_key_reused');
  });

  test('the same key from another caller is independent', async () => {
    const headers = { 'Idempotency-Key': 'shared-key' };
    const a = await create('pax-a', RIDE, 'passenger', headers);
    const b = await create('pax-b', RIDE, 'passenger', headers);
    assert.notEqual(a.id, b.id);
  });

  test('a key of more than 255 characters is 400', async () => {
    const res = await api(worker, 'POST', '/v1/rides', {
      token: token('passenger', 'p'),
      body: RIDE,
      headers: { 'Idempotency-Key': 'k'.repeat(256) },
    });
    assertError(res, 400, 'invalid_request');
  });
});

describe('reading one ride', () => {
  let ride;
  let partnerRide;
  before(async () => {
    // Read once their first round was answered, so that every read below sees the same ride.
    ride = await view((await create('pax-owner')).id, 'pax-owner', (r) => r.offer_round === 1);
    const created = await create('acme-owner', PARTNER_RIDE, 'partner');
    partnerRide = await until(
      async () => (await api(worker, 'GET', `/v1/rides/${created.id}`, { token: token('partner', 'acme-owner') })).body,
      (r) => r.offer_round === 1,
    );
  });

  test('its passenger, its partner and any dispatcher read it', async () => {
    const own = await api(worker, 'GET', `/v1/rides/${ride.id}`, { token: token('passenger', 'pax-owner') });
    assert.equal(own.status, 200, own.text);
    assert.deepEqual(own.body, ride);
    const byPartner = await api(worker, 'GET', `/v1/rides/${partnerRide.id}`, { token: token('partner', 'acme-owner') });
    assert.deepEqual(byPartner.body, partnerRide);
    const byOps = await api(worker, 'GET', `/v1/rides/${ride.id}`, { token: token('dispatcher', 'ops') });
    assert.deepEqual(byOps.body, ride);
  });

  test('another passenger, another partner and a driver it was not offered to get 404', async () => {
    for (const t of [token('passenger', 'pax-other'), token('partner', 'globex'), token('driver', 'drv-1')]) {
      assertError(await api(worker, 'GET', `/v1/rides/${ride.id}`, { token: t }), 404, 'not_found');
    }
    assertError(await api(worker, 'GET', `/v1/rides/${partnerRide.id}`, { token: token('passenger', 'acme-owner') }), 404, 'not_found');
  });

  test('an unknown or malformed ride id is 404', async () => {
    const ops = token('dispatcher', 'ops');
    assertError(await api(worker, 'GET', `/v1/rides/ride_${'0'.repeat(32)}`, { token: ops }), 404, 'not_found');
    assertError(await api(worker, 'GET', '/v1/rides/not-a-ride', { token: ops }), 404, 'not_found');
  });
});

describe('listing rides', () => {
  const passenger = 'pax-list';
  let created = [];
  before(async () => {
    for (let i = 0; i < 32; i++) created.push(await create(passenger));
    await create('pax-list-other');
    await create('acme-list', PARTNER_RIDE, 'partner');
  });

  async function allPages(t, query, limit) {
    const seen = [];
    let cursor = null;
    let pages = 0;
    do {
      const qs = new URLSearchParams({ ...query, limit: String(limit), ...(cursor ? { cursor } : {}) });
      const res = await api(worker, 'GET', `/v1/rides?${qs}`, { token: t });
      assert.equal(res.status, 200, res.text);
      assert.ok(res.body.rides.length <= limit);
      seen.push(...res.body.rides);
      cursor = res.body.next_cursor;
      pages++;
      assert.ok(pages < 100, 'pagination ends');
    } while (cursor);
    return { seen, pages };
  }

  test('a passenger pages through exactly its own rides, newest first, without gaps or repeats', async () => {
    const { seen, pages } = await allPages(token('passenger', passenger), {}, 10);
    assert.equal(pages, 4);
    assert.equal(seen.length, 32);
    assert.deepEqual(new Set(seen.map((r) => r.id)), new Set(created.map((r) => r.id)));
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1], seen[i]];
      assert.ok(a.created_at > b.created_at || (a.created_at === b.created_at && a.id > b.id), 'newest first');
    }
    assert.ok(seen.every((r) => r.passenger.id === passenger));
  });

  test('the last page has next_cursor null', async () => {
    const res = await api(worker, 'GET', '/v1/rides?limit=100', { token: token('passenger', passenger) });
    assert.equal(res.body.rides.length, 32);
    assert.equal(res.body.next_cursor, null);
  });

  test('the default page holds 20 rides', async () => {
    const res = await api(worker, 'GET', '/v1/rides', { token: token('passenger', passenger) });
    assert.equal(res.body.rides.length, 20);
    assert.equal(typeof res.body.next_cursor, 'string');
  });

  test('a partner lists only the rides it created', async () => {
    const { seen } = await allPages(token('partner', 'acme-list'), {}, 50);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].partner_id, 'acme-list');
  });

  test('a dispatcher lists every ride', async () => {
    const { seen } = await allPages(token('dispatcher', 'ops'), {}, 100);
    const total = (await worker.db.prepare('SELECT COUNT(*) AS n FROM rides').first()).n;
    assert.equal(seen.length, total);
    assert.ok(total >= 34);
  });

  test('status filters the list', async () => {
    const searching = await api(worker, 'GET', `/v1/rides?status=searching&limit=100`, { token: token('passenger', passenger) });
    assert.equal(searching.body.rides.length, 32);
    assert.ok(searching.body.rides.every((r) => r.status === 'searching'));
    const expired = await api(worker, 'GET', '/v1/rides?status=expired', { token: token('passenger', passenger) });
    assert.deepEqual(expired.body, { rides: [], next_cursor: null });
    const completed = await api(worker, 'GET', '/v1/rides?status=completed', { token: token('passenger', passenger) });
    assert.deepEqual(completed.body, { rides: [], next_cursor: null });
  });

  test('a driver may not list rides (403)', async () => {
    assertError(await api(worker, 'GET', '/v1/rides', { token: token('driver', 'drv-1') }), 403, 'forbidden');
  });

  test('bad list queries are 400', async () => {
    const t = token('dispatcher', 'ops');
    for (const qs of ['status=done', 'limit=0', 'limit=101', 'limit=abc', 'cursor=garbage', 'sort=asc']) {
      assertError(await api(worker, 'GET', `/v1/rides?${qs}`, { token: t }), 400, 'invalid_request');
    }
  });
});
