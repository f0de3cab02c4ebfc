// GET /v1/regions/outline: the dispatch region of a position and its demand cells, as the
// dispatcher console draws them; and the routing rules schemathesis holds the Worker to
// (an unknown method is 405 with `Allow`, percent-encoded ids are decoded).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startWorker, token } from './helpers.mjs';
import { Client } from './ws-client.mjs';

const JOBURG = { lat: -26.2041, lng: 28.0473 };
const ops = token('dispatcher', 'ops-regions');
let worker;

before(async () => { worker = await startWorker(); });
after(() => worker?.close());

test('the outline names the region the dispatch socket of that position is held by, with its seven demand cells', async () => {
  const res = await api(worker, 'GET', `/v1/regions/outline?lat=${JOBURG.lat}&lng=${JOBURG.lng}`, { token: ops });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.resolution, 5);
  assert.equal(res.body.boundary.length, 6);
  assert.equal(res.body.cells.length, 7);
  const put = await api(worker, 'PUT', '/v1/drivers/rg-1', {
    token: ops,
    body: { name: 'Region', phone: '+27115550101', vehicle: { type: 'sedan', registration: 'GP 2' } },
  });
  assert.equal(put.status, 200, put.text);
  const driver = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${JOBURG.lat}&lng=${JOBURG.lng}`), { token: token('driver', 'rg-1') });
  try {
    const connected = await driver.next('connected');
    assert.equal(connected.region, res.body.region);
  } finally {
    driver.close();
  }
});

test('the outline is for dispatchers only and needs a valid position', async () => {
  const passenger = await api(worker, 'GET', '/v1/regions/outline?lat=0&lng=0', { token: token('passenger', 'p-rg') });
  assert.equal(passenger.status, 403);
  const missing = await api(worker, 'GET', '/v1/regions/outline?lat=0', { token: ops });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.error.code, 'invalid_request');
});

test('a method the path does not take is 405 with the methods it does take in Allow, even one the runtime does not know', async () => {
  for (const method of ['DELETE', 'QUERY']) {
    const res = await api(worker, method, '/health');
    assert.equal(res.status, 405, `${method}: ${res.text}`);
    assert.equal(res.headers.get('allow'), 'GET');
    assert.equal(res.body.error.code, 'method_not_allowed');
  }
  const rides = await api(worker, 'PATCH', '/v1/rides', { token: ops });
  assert.equal(rides.headers.get('allow'), 'GET, POST');
});

test('a percent-encoded driver id names the same driver as its plain spelling', async () => {
  const put = await api(worker, 'PUT', '/v1/drivers/ops%40acme', {
    token: ops,
    body: { name: 'Encoded', phone: '+27115550100', vehicle: { type: 'sedan', registration: 'GP 1' } },
  });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.id, 'ops@acme');
  const get = await api(worker, 'GET', '/v1/drivers/ops@acme', { token: ops });
  assert.equal(get.status, 200, get.text);
  assert.equal(get.body.name, 'Encoded');
});
