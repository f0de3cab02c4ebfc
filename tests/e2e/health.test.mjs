import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, api } from './helpers.mjs';

let worker;
before(async () => {
  worker = await startWorker();
});
after(async () => {
  await worker?.close();
});

test('GET /health answers 200 {"status":"ok"}', async () => {
  const res = await api(worker, 'GET', '/health');
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, { status: 'ok' });
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
});

test('an unknown path answers 404 with a not_found error body', async () => {
  const res = await api(worker, 'GET', '/nope');
  assert.equal(res.status, 404, res.text);
  assert.equal(res.body?.error?.code, 'not_found', res.text);
  assert.equal(typeof res.body.error.message, 'string');
  assert.ok(res.body.error.message.length > 0);
});
