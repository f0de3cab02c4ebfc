// The measured phases of one fleet against one target: rides one after another (dispatch, create,
// accept alone, 5-way races), then the location ramp (how many `location_update` frames a second the
// region absorbs while dispatch p99 stays under 100 ms). Every wait is bounded.
import { http, pickupOf, token } from './fleet.mjs';
import { pct, pool, sleep, waitUntil } from './util.mjs';

const OFFER_TIMEOUT_MS = 5000;
const ASSIGN_TIMEOUT_MS = 5000;
/** Sockets pinged after a ramp step: a region answers a socket's ping after that socket's earlier frames. */
const DRAIN_SAMPLE = 100;
/** Dispatch p99 a ramp step must stay under. */
export const DISPATCH_P99_LIMIT_MS = 100;

/** POST /v1/rides for ride number `r`; times the request alone (the token is signed before). */
async function createRide(target, tag, r) {
  const pickup = pickupOf(r);
  const jwt = token(target, 'passenger', `bench-pax-${tag}-${r}`);
  const body = { pickup, dropoff: { lat: pickup.lat + 0.03, lng: pickup.lng + 0.02 } };
  const sentAt = performance.now();
  const res = await http(target, 'POST', '/v1/rides', { jwt, body });
  const answeredAt = performance.now();
  if (res.status !== 201 || !res.body?.id) throw new Error(`POST /v1/rides: HTTP ${res.status} ${res.text.slice(0, 300)}`);
  return { id: res.body.id, jwt, sentAt, answeredAt };
}

const acceptFrame = (rideId, reqId) => JSON.stringify({ type: 'accept_ride', ride_id: rideId, req_id: reqId });

/**
 * Rides one after another: `singles` accepted by the first driver offered, then `races` where five
 * offered drivers accept at once. Accepted drivers stay busy (the baseline never frees them).
 */
export async function ridePhase(target, tracker, { tag, singles, races, onProgress, cancel }) {
  const out = { dispatch: [], create: [], accept: [], race: [], racers: [], doubleWins: 0, repeatedAssigned: 0, timeouts: 0, failed: [], accepted: [] };
  const total = singles + races;
  // Warm-up, not measured: the first rides pay for compiling the code paths and starting the objects.
  for (let w = 0; w < 3; w++) {
    onProgress(`warm-up ride ${w + 1}/3`);
    const ride = await createRide(target, `${tag}-warm`, w);
    await waitUntil(() => tracker.offers.get(ride.id), OFFER_TIMEOUT_MS);
    if (cancel) await http(target, 'POST', `/v1/rides/${ride.id}/cancel`, { jwt: ride.jwt, body: {} }).catch(() => null);
  }
  for (let r = 0; r < total; r++) {
    const isRace = r >= singles;
    onProgress(`ride ${r + 1}/${total}${isRace ? ' (5-way race)' : ''}`);
    let ride;
    try {
      ride = await createRide(target, tag, r);
    } catch (e) {
      out.failed.push(e.cause?.code ?? e.message.slice(0, 200));
      if (out.failed.length > 5) throw new Error(`${out.failed.length} rides failed to be created, e.g. ${out.failed[0]}`);
      continue;
    }
    out.create.push(ride.answeredAt - ride.sentAt);
    const offer = await waitUntil(() => tracker.offers.get(ride.id), OFFER_TIMEOUT_MS);
    if (!offer) {
      out.timeouts++;
      continue;
    }
    out.dispatch.push(offer.first - ride.sentAt);
    let racers = [offer.drivers[0]];
    if (isRace) {
      await waitUntil(() => offer.drivers.length >= 5, 2000);
      racers = offer.drivers.slice(0, 5);
    }
    const sentAt = performance.now();
    racers.forEach((d, i) => d.send(acceptFrame(ride.id, `acc-${r}-${i}`)));
    const won = await waitUntil(() => tracker.assigned.get(ride.id), ASSIGN_TIMEOUT_MS);
    if (!won) {
      out.timeouts++;
      continue;
    }
    out.accepted.push({ id: ride.id, driver: won.driver });
    if (!isRace) {
      out.accept.push(won.at - sentAt);
      continue;
    }
    out.race.push(won.at - sentAt);
    out.racers.push(racers.length);
    // The losers are answered accept_failed; a second ride_assigned would be a double win.
    await waitUntil(() => (tracker.failed.get(ride.id) ?? 0) >= racers.length - 1, 2000);
    if (new Set(tracker.wins.get(ride.id)).size > 1) out.doubleWins++;
  }
  // Frames that came late: a winner told ride_assigned twice (same driver) is extra work, not a double win.
  await sleep(200);
  for (const { id } of out.accepted) {
    const winners = tracker.wins.get(id) ?? [];
    if (winners.length > new Set(winners).size) out.repeatedAssigned++;
  }
  return out;
}

/** ridewire only: takes the accepted rides to `completed` so their drivers are free again (untimed). */
export async function completeRides(target, accepted, onProgress) {
  let done = 0;
  await pool(accepted, 4, async ({ id, driver }) => {
    const jwt = token(target, 'driver', driver.id);
    for (const step of ['arrived', 'start', 'complete']) {
      const res = await http(target, 'POST', `/v1/rides/${id}/${step}`, { jwt });
      if (res.status !== 200) throw new Error(`POST /v1/rides/${id}/${step}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
    }
    onProgress(`completing the accepted rides ${++done}/${accepted.length}`);
  });
}

/** The rates of the ramp: from `start`, ×1.5 a step, ending at `cap`. */
export function rampRates(start, cap) {
  const rates = [];
  for (let r = start; r < cap; r = Math.round(r * 1.5)) rates.push(r);
  rates.push(cap);
  return rates;
}

/**
 * The location ramp. Each step sends `location_update` frames round-robin across the fleet at one
 * rate for `stepS` seconds and creates `stepRides` rides meanwhile (dispatch measured on each); then
 * stops sending and pings 100 sockets spread over the fleet: the region answers a ping after everything that
 * socket sent before it, so the last pong marks when the step's frames were absorbed.
 * The ramp stops at the first rate whose dispatch p99 reaches 100 ms (or loses a ride) twice in a row
 * (a step that fails is run once more: one slow ride decides the p99 of a few), or when this
 * process cannot send at the rate asked (then the figure is a floor, limited by the client).
 */
export async function rampPhase(target, drivers, tracker, o) {
  const { tag, rates, stepS, stepRides, rideBase, onProgress, cancel } = o;
  const steps = [];
  let rr = 0;
  let stop = 'reached the highest rate asked';
  let floor = true; // the figure is a lower bound unless a step failed on the server's account
  let retried = false;
  for (let s = 0; s < rates.length; s++) {
    const rate = rates[s];
    const label = `location ramp step ${s + 1}/${rates.length}${retried ? ' (again)' : ''}: ${rate} msgs/s`;
    const t0 = performance.now();
    let sent = 0;
    let sending = true;
    let ticks = 0;
    const tick = () => {
      if (!sending) return;
      ticks++;
      const due = Math.floor((rate * (performance.now() - t0)) / 1000) - sent;
      const n = Math.min(due, Math.ceil(rate / 20)); // at most 50 ms worth per tick
      for (let i = 0, tries = 0; i < n && tries < 2 * n + drivers.length; tries++) {
        if (drivers[rr++ % drivers.length].sendLocation()) {
          i++;
          sent++;
        }
      }
      setTimeout(tick, 5);
    };
    tick();

    const dispatch = [];
    const rides = [];
    const errors = [];
    let lost = 0;
    await sleep(Math.min(1000, (stepS * 1000) / 3)); // let the rate settle first
    for (let k = 0; k < stepRides; k++) {
      onProgress(`${label}, ride ${k + 1}/${stepRides}`);
      let ride;
      try {
        ride = await createRide(target, tag, rideBase + steps.length * stepRides + k);
      } catch (e) {
        lost++;
        errors.push(e.cause?.code ?? e.message.slice(0, 200));
        continue;
      }
      rides.push(ride);
      const offer = await waitUntil(() => tracker.offers.get(ride.id), OFFER_TIMEOUT_MS);
      if (offer) dispatch.push(offer.first - ride.sentAt);
      else lost++;
      await sleep(100);
    }
    const left = stepS * 1000 - (performance.now() - t0);
    if (left > 0) await sleep(left);
    sending = false;
    const sendMs = performance.now() - t0;

    // Drain: a ping on DRAIN_SAMPLE sockets spread over the fleet; wait for every pong.
    onProgress(`${label}, waiting for the region to absorb ${sent} frames`);
    const n = Math.min(DRAIN_SAMPLE, drivers.length);
    const sample = Array.from({ length: n }, (_, j) => drivers[Math.floor((j * drivers.length) / n)]);
    const ids = sample.map((d, j) => {
      const id = `drain-${tag}-${steps.length}-${j}`;
      d.send(JSON.stringify({ type: 'ping', req_id: id }));
      return id;
    });
    const drained = await waitUntil(() => ids.every((id) => tracker.pongs.has(id)), 30_000, 5);
    const drainedAt = drained ? Math.max(...ids.map((id) => tracker.pongs.get(id))) : performance.now();
    const absorbed = sent / ((drainedAt - t0) / 1000);
    const achieved = sent / (sendMs / 1000);
    const p99 = pct(dispatch, 99);
    const step = {
      rate,
      sent,
      achieved: Math.round(achieved),
      absorbed: Math.round(absorbed),
      drain_ms: Math.round(drainedAt - t0 - sendMs),
      drained: Boolean(drained),
      dispatch_p50_ms: pct(dispatch, 50),
      dispatch_p99_ms: p99,
      rides_lost: lost,
      ...(errors.length ? { errors } : {}),
      ticks,
    };
    step.ok = lost === 0 && drained && p99 !== null && p99 < DISPATCH_P99_LIMIT_MS;
    steps.push(step);
    if (cancel) {
      onProgress(`${label}: cancelling the step's rides`);
      await pool(rides, 4, (ride) => http(target, 'POST', `/v1/rides/${ride.id}/cancel`, { jwt: ride.jwt, body: {} }).catch(() => null));
    }
    await sleep(300);
    if (achieved < 0.9 * rate) {
      floor = true;
      stop = `this process sent only ${Math.round(achieved)} of ${rate} msgs/s (client-bound: the figure is a floor)`;
      break;
    }
    if (!step.ok && !retried) {
      // One slow ride decides a p99 of a few: on a busy machine, give each rate a second chance.
      retried = true;
      step.retried = true;
      s--;
      continue;
    }
    retried = false;
    if (!step.ok) {
      floor = false;
      stop = errors.length ? `${errors.length} POST /v1/rides failed at ${rate} msgs/s (${errors[0]})`
        : lost ? `${lost} rides got no offer within ${OFFER_TIMEOUT_MS} ms at ${rate} msgs/s`
        : !drained ? `the frames of ${rate} msgs/s were not absorbed within 30 s`
          : `dispatch p99 ${p99.toFixed(1)} ms at ${rate} msgs/s`;
      break;
    }
  }
  const passed = steps.filter((st) => st.ok);
  const best = passed.length ? passed[passed.length - 1] : null;
  return {
    rate: best?.rate ?? 0,
    absorbed: best?.absorbed ?? 0,
    dispatch_p99_ms: best?.dispatch_p99_ms ?? null,
    floor: floor && Boolean(best),
    stop,
    steps,
  };
}
