// PUT /v1/drivers/{id} and GET /v1/drivers/{id}: dispatchers register drivers; a driver reads
// only its own profile; every bad input is a 400 that changes nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startWorker, token } from './helpers.mjs';

let worker;
before(async () => { worker = await startWorker(); });
after(() => worker?.close());

const ops = token('dispatcher', 'ops-1');
const PROFILE = {
  name: 'Thabo Nkosi',
  phone: '+27 82 555 0100',
  vehicle: { type: 'sedan', registration: 'CA 123-456' },
  rating: 4.8,
};

function assertError(res, status, code) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body?.error?.code, code, res.text);
}

test('a dispatcher registers a driver and gets the driver back', async () => {
  const res = await api(worker, 'PUT', '/v1/drivers/drv-1', { token: ops, body: PROFILE });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.id, 'drv-1');
  assert.equal(res.body.name, 'Thabo Nkosi');
  assert.deepEqual(res.body.vehicle, { type: 'sedan', registration: 'CA 123-456' });
  assert.equal(res.body.rating, 4.8);
  assert.equal(res.body.online, false);
  assert.equal(res.body.location, null);
  assert.equal(typeof res.body.created_at, 'number');
  const row = await worker.db.prepare('SELECT name, vehicle_registration FROM drivers WHERE id = ?').bind('drv-1').first();
  assert.deepEqual(row, { name: 'Thabo Nkosi', vehicle_registration: 'CA 123-456' });
});

test('PUT again updates the profile and keeps created_at', async () => {
  const first = await api(worker, 'PUT', '/v1/drivers/drv-2', { token: ops, body: PROFILE });
  const second = await api(worker, 'PUT', '/v1/drivers/drv-2', {
    token: ops,
    body: { ...PROFILE, name: 'Thabo N.', rating: undefined },
  });
  assert.equal(second.status, 200, second.text);
  assert.equal(second.body.name, 'Thabo N.');
  assert.equal(second.body.rating, null);
  assert.equal(second.body.created_at, first.body.created_at);
  assert.ok(second.body.updated_at >= first.body.updated_at);
});

test('a dispatcher and the driver itself read the profile', async () => {
  await api(worker, 'PUT', '/v1/drivers/drv-3', { token: ops, body: PROFILE });
  const byOps = await api(worker, 'GET', '/v1/drivers/drv-3', { token: ops });
  assert.equal(byOps.status, 200, byOps.text);
  assert.equal(byOps.body.phone, '+27 82 555 0100');
  const bySelf = await api(worker, 'GET', '/v1/drivers/drv-3', { token: token('driver', 'drv-3') });
  assert.equal(bySelf.status, 200, bySelf.text);
  assert.deepEqual(bySelf.body, byOps.body);
});

test('another driver, a passenger or a partner may not read a profile (403)', async () => {
  await api(worker, 'PUT', '/v1/drivers/drv-4', { token: ops, body: PROFILE });
  for (const t of [token('driver', 'drv-5'), token('passenger', 'drv-4'), token('partner', 'acme')]) {
    assertError(await api(worker, 'GET', '/v1/drivers/drv-4', { token: t }), 403, 'forbidden');
  }
});

test('only dispatchers register drivers (403), even a driver for itself', async () => {
  const res = await api(worker, 'PUT', '/v1/drivers/drv-6', { token: token('driver', 'drv-6'), body: PROFILE });
  assertError(res, 403, 'forbidden');
  assert.equal(await worker.db.prepare('SELECT id FROM drivers WHERE id = ?').bind('drv-6').first(), null);
});

test('an unknown driver is 404', async () => {
  assertError(await api(worker, 'GET', '/v1/drivers/nobody', { token: ops }), 404, 'not_found');
});

test('bad profiles are 400 invalid_request and store nothing', async () => {
  const bad = [
    {},
    { ...PROFILE, name: '' },
    { ...PROFILE, name: 42 },
    { ...PROFILE, phone: 'call me' },
    { ...PROFILE, vehicle: { type: 'sedan' } },
    { ...PROFILE, rating: 6 },
    { ...PROFILE, rating: 'five' },
    { ...PROFILE, colour: 'red' },
  ];
  for (const body of bad) {
    const res = await api(worker, 'PUT', '/v1/drivers/drv-bad', { token: ops, body });
    assertError(res, 400, 'invalid_request');
    assert.match(res.body.error.message, /\S/);
  }
  const malformed = await api(worker, 'PUT', '/v1/drivers/drv-bad', { token: ops, body: '{"name":' });
  assertError(malformed, 400, 'invalid_request');
  assert.equal(await worker.db.prepare('SELECT id FROM drivers WHERE id = ?').bind('drv-bad').first(), null);
});

test('a driver id with characters outside the allowed set is 400', async () => {
  const res = await api(worker, 'PUT', '/v1/drivers/drv%20x', { token: ops, body: PROFILE });
  assertError(res, 400, 'invalid_request');
});

test('a body over 16 KiB is 413 payload_too_large', async () => {
  const res = await api(worker, 'PUT', '/v1/drivers/drv-big', { token: ops, body: { ...PROFILE, name: 'x'.repeat(20000) } });
  assertError(res, 413, 'payload_too_large');
});

test('another method on the drivers path is 405', async () => {
  assertError(await api(worker, 'DELETE', '/v1/drivers/drv-1', { token: ops }), 405, 'method_not_allowed');
});
