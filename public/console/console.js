// The dispatcher console: one region's drivers, rides, demand and stats, live.
// Talks only to the Worker that served it (docs/protocol.md "Dispatcher console"):
//   GET /v1/regions/outline   the region's H3 hexagon and demand cells, drawn as SVG
//   /v1/ws/dispatch           snapshot, then driver_online/_location/_offline, ride_created, ride_status, high_demand
//   /v1/ws/rides/{id}         the followed ride's timeline, resumed with ?last_seq= after a drop
//   GET /v1/stats             polled every 2 s
//   POST /v1/notifications    the form
// The token is typed in, kept in sessionStorage (this tab only) and never put in the page's address.
'use strict';

const TOKEN_KEY = 'ridewire.dispatcher_token';
const STATS_EVERY_MS = 2000;
const PING_EVERY_MS = 20000;
const MAX_RIDE_ROWS = 60;
const HOT_FOR_MS = 120000;
const FIT_EVERY_MS = 2000;
const MIN_VIEW = 60; // the tightest zoom, in map units (the region is 1000 across)
const FINAL = new Set(['completed', 'cancelled', 'expired']);
const STATUS_OF_EVENT = {
  searching: 'searching', driver_assigned: 'accepted', driver_arrived: 'arrived', trip_started: 'in_progress',
  ride_completed: 'completed', ride_cancelled: 'cancelled', no_drivers: 'expired',
};
const SVG = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);

const state = {
  token: null, at: null, project: null, dispatch: null, retryMs: 1000, stopped: true,
  drivers: new Map(), rides: new Map(), follow: null, timers: [],
};

// ---- sign in / out ----------------------------------------------------------------------------

function placeFromAddress() {
  const q = new URLSearchParams(location.search);
  const lat = Number(q.get('lat'));
  const lng = Number(q.get('lng'));
  if (q.has('lat') && q.has('lng') && Number.isFinite(lat) && Number.isFinite(lng)) {
    $('lat').value = String(lat);
    $('lng').value = String(lng);
  }
}

function signInError(text) {
  const p = $('sign-in-error');
  p.textContent = text;
  p.hidden = !text;
}

function showDesk(on) {
  $('sign-in').hidden = on;
  $('desk').hidden = !on;
  $('sign-out').hidden = !on;
}

async function signIn(event) {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  $('token').value = '';
  await start();
}

function signOut(reason = '') {
  stop();
  sessionStorage.removeItem(TOKEN_KEY);
  showDesk(false);
  setConn('off', 'signed out');
  signInError(reason);
}

function stop() {
  state.stopped = true;
  for (const t of state.timers) clearInterval(t);
  state.timers = [];
  state.dispatch?.close(1000);
  state.dispatch = null;
  unfollow();
}

function setConn(kind, text) {
  const el = $('conn');
  el.className = `conn ${kind}`;
  el.dataset.state = kind;
  el.textContent = text;
}

// ---- HTTP --------------------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let json = null;
  try { json = await res.json(); } catch { json = null; }
  return { status: res.status, body: json };
}

const errorText = (res) => `${res.status} ${res.body?.error?.code ?? 'error'}: ${res.body?.error?.message ?? 'no answer'}`;

function wsUrl(path, params) {
  const u = new URL(path, location.href);
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, String(v));
  return u.href;
}

// ---- start -------------------------------------------------------------------------------------

async function start() {
  stop();
  state.token = sessionStorage.getItem(TOKEN_KEY);
  if (!state.token) return showDesk(false);
  const lat = Number($('lat').value);
  const lng = Number($('lng').value);
  state.at = { lat, lng };
  const outline = await api('GET', `/v1/regions/outline?lat=${lat}&lng=${lng}`);
  if (outline.status === 401 || outline.status === 403) return signOut(`Not signed in: ${errorText(outline)}`);
  if (outline.status !== 200) return signInError(errorText(outline));
  // The place goes in the address (shareable); the token never does.
  history.replaceState(null, '', `/console?lat=${lat}&lng=${lng}`);
  state.stopped = false;
  state.drivers.clear();
  state.rides.clear();
  signInError('');
  showDesk(true);
  drawOutline(outline.body);
  openDispatch();
  pollStats();
  state.timers.push(setInterval(pollStats, STATS_EVERY_MS));
  state.timers.push(setInterval(fitView, FIT_EVERY_MS));
  state.timers.push(setInterval(() => {
    for (const ws of [state.dispatch, state.follow?.ws]) if (ws?.readyState === WebSocket.OPEN) ws.send('{"type":"ping"}');
  }, PING_EVERY_MS));
}

// ---- the map -----------------------------------------------------------------------------------

function drawOutline(outline) {
  $('region-name').textContent = outline.region;
  // Equirectangular around the region (a few km across): x scaled by cos(lat), north up, fitted to 1000×1000.
  const k = Math.cos((state.at.lat * Math.PI) / 180);
  const xs = outline.boundary.map((p) => p.lng * k);
  const ys = outline.boundary.map((p) => p.lat);
  const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = 920 / Math.max(maxX - minX, maxY - minY);
  const ox = 500 - ((minX + maxX) / 2) * scale;
  const oy = 500 + ((minY + maxY) / 2) * scale;
  state.project = (p) => [ox + p.lng * k * scale, oy - p.lat * scale];
  const cells = $('cells');
  cells.replaceChildren(polygon(outline.boundary, 'region', outline.region));
  for (const c of outline.cells) cells.append(polygon(c.boundary, 'cell', c.cell));
  for (const g of ['demand', 'pickups', 'drivers']) $(g).replaceChildren();
  state.zoom = 1;
  $('map').setAttribute('viewBox', '0 0 1000 1000');
}

// Zooms to where the drivers and open rides are (a city fills a small part of a region), or shows
// the whole region while there is nothing; markers keep their size on screen.
function fitView() {
  const svg = $('map');
  const points = [...document.querySelectorAll('#drivers [data-driver-id], #pickups [data-ride-id]')].map((el) => el.__xy);
  let [x0, y0, size] = [0, 0, 1000];
  if ($('fit').checked && points.length) {
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    size = Math.min(1000, Math.max(MIN_VIEW, Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)) * 1.25);
    x0 = (Math.min(...xs) + Math.max(...xs) - size) / 2;
    y0 = (Math.min(...ys) + Math.max(...ys) - size) / 2;
  }
  svg.setAttribute('viewBox', `${x0.toFixed(1)} ${y0.toFixed(1)} ${size.toFixed(1)} ${size.toFixed(1)}`);
  state.zoom = size / 1000;
  for (const c of document.querySelectorAll('#drivers circle')) c.setAttribute('r', (9 * state.zoom).toFixed(2));
  for (const c of document.querySelectorAll('#pickups circle')) c.setAttribute('r', (7 * state.zoom).toFixed(2));
}

function polygon(boundary, cls, cell) {
  const el = document.createElementNS(SVG, 'polygon');
  el.setAttribute('points', boundary.map((p) => state.project(p).map((n) => n.toFixed(1)).join(',')).join(' '));
  el.setAttribute('class', cls);
  el.dataset.cell = cell;
  return el;
}

function placeDriverMarker(d) {
  let g = document.querySelector(`#drivers [data-driver-id="${CSS.escape(d.id)}"]`);
  if (!g) {
    g = document.createElementNS(SVG, 'g');
    g.dataset.driverId = d.id;
    const dot = document.createElementNS(SVG, 'circle');
    dot.setAttribute('r', (9 * (state.zoom ?? 1)).toFixed(2));
    const title = document.createElementNS(SVG, 'title');
    title.textContent = d.id;
    g.append(dot, title);
    $('drivers').append(g);
  }
  const [x, y] = state.project(d);
  g.setAttribute('class', `driver ${d.available ? 'available' : 'busy'}`);
  g.style.transform = `translate(${x.toFixed(1)}px, ${y.toFixed(1)}px)`;
  g.__xy = [x, y];
  g.dataset.lat = String(d.lat);
  g.dataset.lng = String(d.lng);
}

function placePickupMarker(r) {
  let dot = document.querySelector(`#pickups [data-ride-id="${CSS.escape(r.id)}"]`);
  if (FINAL.has(r.status) || !r.pickup) return dot?.remove();
  if (!dot) {
    dot = document.createElementNS(SVG, 'circle');
    dot.dataset.rideId = r.id;
    dot.setAttribute('r', (7 * (state.zoom ?? 1)).toFixed(2));
    dot.addEventListener('click', () => follow(r.id));
    $('pickups').append(dot);
  }
  const [x, y] = state.project(r.pickup);
  dot.setAttribute('cx', x.toFixed(1));
  dot.setAttribute('cy', y.toFixed(1));
  dot.__xy = [x, y];
  dot.setAttribute('class', `pickup ${r.status}${state.follow?.id === r.id ? ' selected' : ''}`);
}

// ---- drivers and rides ------------------------------------------------------------------------

function upsertDriver(id, fields) {
  const d = { ...(state.drivers.get(id) ?? { id, available: false }), ...fields };
  state.drivers.set(id, d);
  placeDriverMarker(d);
  driverRow(d);
}

function removeDriver(id) {
  state.drivers.delete(id);
  document.querySelectorAll(`[data-driver-id="${CSS.escape(id)}"]`).forEach((el) => el.remove());
  $('driver-count').textContent = String(state.drivers.size);
}

function driverRow(d) {
  let tr = document.querySelector(`#driver-rows [data-driver-id="${CSS.escape(d.id)}"]`);
  if (!tr) {
    tr = document.createElement('tr');
    tr.dataset.driverId = d.id;
    tr.append(document.createElement('td'), document.createElement('td'), document.createElement('td'));
    $('driver-rows').append(tr);
  }
  tr.dataset.state = d.available ? 'available' : 'busy';
  tr.cells[0].textContent = d.id;
  tr.cells[1].textContent = d.available ? 'available' : 'busy';
  tr.cells[2].textContent = `${d.lat.toFixed(4)}, ${d.lng.toFixed(4)}`;
  $('driver-count').textContent = String(state.drivers.size);
}

function upsertRide(id, fields) {
  const r = { ...(state.rides.get(id) ?? { id, status: 'searching', pickup: null }), ...fields };
  state.rides.set(id, r);
  placePickupMarker(r);
  let tr = document.querySelector(`#ride-rows [data-ride-id="${CSS.escape(id)}"]`);
  if (!tr) {
    tr = document.createElement('tr');
    tr.dataset.rideId = id;
    tr.append(document.createElement('td'), document.createElement('td'), document.createElement('td'));
    tr.addEventListener('click', () => follow(id));
    $('ride-rows').prepend(tr);
    while ($('ride-rows').rows.length > MAX_RIDE_ROWS) $('ride-rows').lastElementChild.remove();
  }
  tr.dataset.status = r.status;
  tr.cells[0].textContent = id.slice(0, 13);
  tr.cells[0].title = id;
  tr.cells[1].textContent = r.status;
  tr.cells[2].textContent = r.pickup ? (r.pickup.address ?? `${r.pickup.lat.toFixed(4)}, ${r.pickup.lng.toFixed(4)}`) : '';
  $('ride-count').textContent = String([...state.rides.values()].filter((x) => !FINAL.has(x.status)).length);
}

// ---- the dispatch socket ------------------------------------------------------------------------

function openDispatch() {
  if (state.stopped) return;
  const ws = new WebSocket(wsUrl('/v1/ws/dispatch', { lat: state.at.lat, lng: state.at.lng, token: state.token }));
  state.dispatch = ws;
  setConn('retrying', 'connecting…');
  ws.onopen = () => { state.retryMs = 1000; setConn('live', 'live'); };
  ws.onmessage = (m) => onDispatchFrame(JSON.parse(m.data));
  ws.onclose = (e) => {
    if (state.dispatch !== ws || state.stopped) return;
    if (e.code === 4001) return signOut('Your token expired: sign in again.');
    setConn('retrying', `reconnecting (closed ${e.code})`);
    setTimeout(openDispatch, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, 10000);
  };
}

function onDispatchFrame(f) {
  switch (f.type) {
    case 'snapshot':
      for (const id of [...state.drivers.keys()]) removeDriver(id);
      for (const d of f.drivers) upsertDriver(d.id, { lat: d.location.lat, lng: d.location.lng, available: d.available });
      for (const r of f.rides) upsertRide(r.id, { status: r.status, pickup: r.pickup });
      break;
    case 'driver_online': upsertDriver(f.driver_id, { lat: f.location.lat, lng: f.location.lng }); break;
    case 'driver_location': upsertDriver(f.driver_id, { lat: f.lat, lng: f.lng, available: f.available }); break;
    case 'driver_offline': removeDriver(f.driver_id); break;
    case 'ride_created': upsertRide(f.ride_id, { status: 'searching', pickup: f.pickup }); break;
    case 'ride_status': upsertRide(f.ride_id, { status: f.status }); break;
    case 'high_demand': highDemand(f); break;
    case 'notification': alertLine(`notification: ${f.title ?? ''} ${f.message ?? ''}`); break;
    case 'token_expired': signOut('Your token expired: sign in again.'); break;
    default: break; // pong, errors of our own pings
  }
}

function highDemand(f) {
  const poly = document.querySelector(`#cells [data-cell="${CSS.escape(f.cell)}"]`);
  if (poly) {
    poly.classList.add('hot');
    setTimeout(() => poly.classList.remove('hot'), HOT_FOR_MS);
  }
  alertLine(`${new Date().toLocaleTimeString()} cell ${f.cell}: ${f.searching} searching, ${f.available} available`, f.cell);
}

function alertLine(text, cell) {
  const ul = $('alerts');
  ul.querySelector('.hint')?.remove();
  const li = document.createElement('li');
  li.textContent = text;
  if (cell) li.dataset.cell = cell;
  ul.prepend(li);
  while (ul.children.length > 20) ul.lastElementChild.remove();
}

// ---- following one ride -----------------------------------------------------------------------

function unfollow() {
  const f = state.follow;
  state.follow = null;
  f?.ws?.close(1000);
  document.querySelectorAll('#pickups .selected').forEach((el) => el.classList.remove('selected'));
}

function follow(id) {
  unfollow();
  state.follow = { id, lastSeq: 0, ws: null };
  $('follow').hidden = false;
  $('follow-id').textContent = id;
  $('follow-status').textContent = state.rides.get(id)?.status ?? '';
  $('timeline').replaceChildren();
  const r = state.rides.get(id);
  if (r) placePickupMarker(r);
  openRideSocket(state.follow);
}

function openRideSocket(f) {
  if (state.follow !== f || state.stopped) return;
  const ws = new WebSocket(wsUrl(`/v1/ws/rides/${encodeURIComponent(f.id)}`, { last_seq: f.lastSeq, token: state.token }));
  f.ws = ws;
  ws.onmessage = (m) => onRideFrame(f, JSON.parse(m.data));
  // Dropped: come back with last_seq, so the server replays exactly what was missed.
  ws.onclose = (e) => {
    if (state.follow !== f || e.code === 4001) return;
    f.reconnects = (f.reconnects ?? 0) + 1;
    $('follow').dataset.reconnects = String(f.reconnects);
    setTimeout(() => openRideSocket(f), 1000);
  };
}

function onRideFrame(f, frame) {
  if (frame.type === 'connected') {
    $('follow-status').textContent = frame.status;
    return;
  }
  if (frame.type === 'driver_location') {
    $('follow-status').title = `driver at ${frame.lat.toFixed(4)}, ${frame.lng.toFixed(4)}`;
    return;
  }
  if (typeof frame.seq !== 'number' || frame.seq <= f.lastSeq) return;
  f.lastSeq = frame.seq;
  const status = STATUS_OF_EVENT[frame.type];
  if (status) {
    $('follow-status').textContent = status;
    upsertRide(f.id, { status });
  }
  const li = document.createElement('li');
  li.dataset.seq = String(frame.seq);
  li.dataset.type = frame.type;
  li.textContent = `#${frame.seq} ${frame.type}${describe(frame)}`;
  $('timeline').append(li);
}

function describe(frame) {
  switch (frame.type) {
    case 'searching': return ` · round ${frame.round}, ${frame.drivers_notified} drivers notified`;
    case 'driver_assigned': return ` · ${frame.driver?.name ?? ''} (${frame.driver?.id ?? ''})`;
    case 'ride_completed': return frame.fare ? ` · ${frame.fare.amount} ${frame.fare.currency}` : '';
    case 'ride_cancelled': return ` · by ${frame.by}${frame.reason ? `: ${frame.reason}` : ''}`;
    case 'no_drivers': return ` · after ${frame.rounds} rounds`;
    default: return '';
  }
}

// ---- stats -------------------------------------------------------------------------------------

async function pollStats() {
  if (state.stopped) return;
  let res;
  try { res = await api('GET', '/v1/stats'); } catch { return; }
  if (res.status === 401) return signOut(`Signed out: ${errorText(res)}`);
  if (res.status !== 200) return;
  const s = res.body;
  const rows = [
    ['drivers online', s.drivers.online], ['available', s.drivers.available], ['busy', s.drivers.busy],
    ['sockets', s.connections.total],
    ...Object.entries(s.rides).map(([k, v]) => [k.replace('_', ' '), v]),
  ];
  $('stats').replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = k;
    dd.textContent = String(v);
    dd.dataset.stat = k;
    return [dt, dd];
  }));
}

// ---- notifications -----------------------------------------------------------------------------

async function notify(event) {
  event.preventDefault();
  const kind = $('notify-to').value;
  const to = kind === 'user' ? { user: $('notify-user').value.trim() }
    : kind === 'region' ? { region: { lat: state.at.lat, lng: state.at.lng } } : { all: true };
  const body = { to, title: $('notify-title').value, message: $('notify-message').value, severity: $('notify-severity').value };
  const out = $('notify-result');
  try {
    const res = await api('POST', '/v1/notifications', body);
    out.dataset.outcome = res.status === 202 ? 'sent' : 'error';
    out.className = res.status === 202 ? '' : 'error';
    out.textContent = res.status === 202 ? `Delivered to ${res.body?.delivered ?? 0} sockets.` : `Not sent: ${errorText(res)}`;
  } catch (e) {
    out.dataset.outcome = 'error';
    out.className = 'error';
    out.textContent = `Not sent: ${e.message}`;
  }
}

// ---- wiring ------------------------------------------------------------------------------------

placeFromAddress();
$('sign-in-form').addEventListener('submit', signIn);
$('sign-out').addEventListener('click', () => signOut());
$('notify-form').addEventListener('submit', notify);
start();
