// Every server-side close reaches the client's `close` event at once (issue 9, item 5).
//
// Known runtime behaviour, not yet worked around (the two `todo` tests below): workerd keeps the
// TCP connection of a hibernatable socket that the server closes *before that socket ever
// delivered a message to the Durable Object* open until the object hibernates (~10 s idle, locally)
// or the client gives up (ws: 30 s). A socket that has sent at least one frame closes at once,
// whatever closes it (its own frame, the alarm, another socket's request). Reproduced on bare
// workerd, without Miniflare or ridewire, by scripts/repro/close-lag/run (a 20-line Durable
// Object): its webSocketClose runs ~5 ms after the close (the client's reply is read at once), yet
// the connection ends ~10 s later. 1008/1009 closes always follow a frame of that socket; 4001
// (token expiry, from the alarm) and 4002 (a sixth socket) often don't.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startWorker, token } from './helpers.mjs';
import { Client } from './ws-client.mjs';

const AT = { lat: 51.5072, lng: -0.1276 };
let worker;

before(async () => {
  worker = await startWorker();
  const put = await api(worker, 'PUT', '/v1/drivers/cl-drv', {
    token: token('dispatcher', 'cl-ops'),
    body: { name: 'C L', phone: '+442071234567', vehicle: { type: 'cab', registration: 'CL1' } },
  });
  assert.equal(put.status, 200, put.text);
});
after(() => worker?.close());

/** Resolves with the socket's close event: {code, ms} where ms runs from the close frame to the event. */
function closeEvent(client) {
  return new Promise((resolve) => {
    let frameAt = null;
    const poll = setInterval(() => { if (frameAt === null && client.ws._closeFrameReceived) frameAt = Date.now(); }, 5);
    client.ws.once('close', (code) => {
      clearInterval(poll);
      resolve({ code, ms: Date.now() - (frameAt ?? Date.now()) });
    });
  });
}

async function driverSocket(opts = {}, { ping = false } = {}) {
  const c = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${AT.lat}&lng=${AT.lng}`), { token: token('driver', 'cl-drv', opts) });
  await c.next('connected');
  if (ping) {
    c.send({ type: 'ping', req_id: 'hello' });
    await c.next('pong');
  }
  return c;
}

/** Closes with 4001 (its token expires) a socket that pinged first or stayed `silent`. */
async function tokenExpiryClose({ ping }) {
  const c = await driverSocket({ ttl: 2 }, { ping });
  return closeEvent(c);
}

/** Closes with 4002 (a sixth socket of its sub) the oldest of five that pinged first or stayed silent. */
async function sixthSocketClose({ ping }) {
  const sockets = [];
  for (let i = 0; i < 5; i++) sockets.push(await driverSocket({}, { ping }));
  const oldest = closeEvent(sockets[0]);
  const sixth = await driverSocket();
  const closed = await oldest;
  for (const s of [...sockets, sixth]) s.close();
  return closed;
}

function assertClosedWithinASecond(closed, code) {
  assert.equal(closed.code, code);
  assert.ok(closed.ms < 1000, `close event ${closed.ms} ms after the close frame`);
}

test('a socket that has sent a frame sees its 4001 close (token expired) within a second', async () => {
  assertClosedWithinASecond(await tokenExpiryClose({ ping: true }), 4001);
});

test('a socket that has sent a frame sees its 4002 close (a sixth of its sub) within a second', async () => {
  assertClosedWithinASecond(await sixthSocketClose({ ping: true }), 4002);
});

const RUNTIME = 'workerd holds a never-messaged hibernatable socket open after a server close (see the header)';

test('a silent socket sees its 4001 close within a second', { todo: RUNTIME }, async () => {
  assertClosedWithinASecond(await tokenExpiryClose({ ping: false }), 4001);
});

test('a silent socket sees its 4002 close within a second', { todo: RUNTIME }, async () => {
  assertClosedWithinASecond(await sixthSocketClose({ ping: false }), 4002);
});
