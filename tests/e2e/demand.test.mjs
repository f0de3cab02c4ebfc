// Demand alerts (PROTOCOL.md "Notifications, proof of delivery, watchers, demand"): where more
// rides search in a cell (one H3 resolution finer than the region) than the region has available
// drivers within the radius, for a whole demand window, the available drivers within twice the
// radius and the dispatch sockets get high_demand, at most once a window per cell. The window is
// the DEMAND_WINDOW_S var (60 by default), 2 s here.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startWorker, token } from './helpers.mjs';
import { Client, offset, sleep } from './ws-client.mjs';

const PICKUP = { lat: -25.7479, lng: 28.2293 }; // Pretoria
const ops = token('dispatcher', 'ops-demand');
let worker;
const open = [];

before(async () => {
  worker = await startWorker({ vars: { DEMAND_WINDOW_S: '2', OFFER_TIMEOUT_S: '120' } });
});
after(async () => {
  for (const c of open) c.close();
  await worker?.close();
});

const isDemand = (f) => f.type === 'high_demand';

test('a pile-up of unanswered rides gives exactly one high_demand per cell per window, to drivers and dispatchers', async () => {
  const put = await api(worker, 'PUT', '/v1/drivers/dm-1', {
    token: ops,
    body: { name: 'dm-1', phone: '+27125550100', vehicle: { type: 'sedan', registration: 'dm-1' } },
  });
  assert.equal(put.status, 200, put.text);
  const at = offset(PICKUP, 1, 90);
  const driver = await Client.open(worker.wsUrl(`/v1/ws/driver?lat=${at.lat}&lng=${at.lng}`), { token: token('driver', 'dm-1') });
  open.push(driver);
  await driver.next('connected');
  const desk = await Client.open(worker.wsUrl(`/v1/ws/dispatch?lat=${PICKUP.lat}&lng=${PICKUP.lng}`), { token: ops });
  open.push(desk);
  await desk.next('snapshot');

  const rides = [];
  for (let i = 0; i < 3; i++) {
    const res = await api(worker, 'POST', '/v1/rides', { token: token('passenger', `dm-pax-${i}`), body: { pickup: PICKUP, dropoff: offset(PICKUP, 5, 0) } });
    assert.equal(res.status, 201, res.text);
    rides.push(res.body.id);
  }
  // The one driver is offered all three and answers none: three rides wait against one driver.
  for (const id of rides) await driver.next((f) => f.type === 'ride_offer' && f.ride.id === id);

  const alert = await driver.next(isDemand, 10_000);
  assert.match(alert.cell, /^[0-9a-f]{15}$/);
  assert.deepEqual([alert.searching, alert.available], [3, 1]);
  assert.ok(Math.abs(alert.center.lat - PICKUP.lat) < 0.1 && Math.abs(alert.center.lng - PICKUP.lng) < 0.1, 'the cell around the pickups');
  const seen = await desk.next(isDemand, 5_000);
  assert.deepEqual(seen, alert, 'dispatchers see the same alert');

  // At most once a window per cell: nothing more right after it...
  await sleep(1_000);
  assert.equal(driver.received('high_demand').length, 1);
  assert.equal(desk.received('high_demand').length, 1);
  // ...and while the pile-up lasts, the next window alerts the same cell again.
  const next = await driver.next(isDemand, 10_000);
  assert.equal(next.cell, alert.cell);
  assert.equal(driver.received('high_demand').length, 2);
});
