// Turning measurements into figures, the table on stdout and the JSON file under bench/results/.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pct, round1 } from './util.mjs';

/** Raw and gzipped (level 9) size of build/index_bg.wasm, or null without a build. */
export function wasmSize(root) {
  const path = join(root, 'build', 'index_bg.wasm');
  if (!existsSync(path)) return null;
  const bytes = readFileSync(path);
  return { path: 'build/index_bg.wasm', raw_bytes: bytes.length, gzip_bytes: gzipSync(bytes, { level: 9 }).length };
}

export function machine() {
  let uptime = null;
  try {
    uptime = execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    // no uptime binary
  }
  return { cpus: cpus().length, cpu: cpus()[0]?.model ?? null, node: process.version, loadavg: loadavg().map(round1), uptime };
}

export function gitCommit(root) {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return null;
  }
}

const dist = (list) => ({ p50: round1(pct(list, 50)), p99: round1(pct(list, 99)), n: list.length });

/** The figures of one target's run. */
export function figures(m) {
  return {
    connect_s: Math.round(m.connectS * 100) / 100,
    dispatch_ms: dist(m.rides.dispatch),
    create_ms: dist(m.rides.create),
    accept_ms: dist(m.rides.accept),
    race_ms: { ...dist(m.rides.race), racers_p50: pct(m.rides.racers, 50), double_wins: m.rides.doubleWins, repeated_assigned: m.rides.repeatedAssigned },
    location: m.ramp,
    timeouts: m.rides.timeouts,
    create_failures: m.rides.failed,
    regions: m.regions,
    errors: m.errors,
    lost_sockets: m.closes,
    register_s: m.registerS == null ? null : round1(m.registerS),
    cpu: m.cpu,
    loadavg_before: m.loadBefore,
    loadavg_after: m.loadAfter,
    duration_s: round1(m.durationS),
  };
}

const ratio = (a, b) => (a == null || b == null || b === 0 ? null : Math.round((a / b) * 100) / 100);

/** ridewire / bare JS for each figure (location: absorbed msgs/s, higher is better there). */
export function ratios(rw, js) {
  return {
    dispatch_p50: ratio(rw.dispatch_ms.p50, js.dispatch_ms.p50),
    dispatch_p99: ratio(rw.dispatch_ms.p99, js.dispatch_ms.p99),
    create_p50: ratio(rw.create_ms.p50, js.create_ms.p50),
    accept_p50: ratio(rw.accept_ms.p50, js.accept_ms.p50),
    accept_p99: ratio(rw.accept_ms.p99, js.accept_ms.p99),
    race_p50: ratio(rw.race_ms.p50, js.race_ms.p50),
    location_absorbed: ratio(rw.location.absorbed, js.location.absorbed),
    connect_s: ratio(rw.connect_s, js.connect_s),
  };
}

const ms = (n) => (n == null ? '–' : n.toFixed(1));
const x = (n) => (n == null ? '–' : `${n.toFixed(2)}×`);
const pair = (a, b, f) => `${f(a)} / ${f(b)}`;

function locationCell(loc) {
  if (!loc || loc.rate == null) return '–';
  return `${loc.floor ? '≥ ' : ''}${loc.rate} (${loc.absorbed})`;
}

/** The table of one fleet as text (markdown, so it pastes into docs as is). */
export function table(fleet) {
  const { js, rw, ratio: r } = fleet;
  const cols = [js && 'bare JS', rw && 'ridewire', js && rw && 'ratio'].filter(Boolean);
  const rows = [
    ['dispatch, POST sent → first `ride_offer`, p50 / p99 ms', (f) => pair(f.dispatch_ms.p50, f.dispatch_ms.p99, ms), pair(r?.dispatch_p50, r?.dispatch_p99, x)],
    ['`POST /v1/rides` answered, p50 ms', (f) => ms(f.create_ms.p50), x(r?.create_p50)],
    ['accept → `ride_assigned`, p50 / p99 ms', (f) => pair(f.accept_ms.p50, f.accept_ms.p99, ms), pair(r?.accept_p50, r?.accept_p99, x)],
    ['5-way race, first `ride_assigned`, p50 ms', (f) => ms(f.race_ms.p50), x(r?.race_p50)],
    ['location rate with dispatch p99 < 100 ms, msgs/s (absorbed)', (f) => locationCell(f.location), x(r?.location_absorbed)],
    [`${fleet.fleet.toLocaleString('en-US')} drivers connected, s`, (f) => f.connect_s.toFixed(1), x(r?.connect_s)],
  ];
  const lines = [`| figure | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---').join('|')}|`];
  for (const [name, cell, rcell] of rows) {
    const safe = (f) => (f.error ? 'failed' : cell(f));
    const cells = [js && safe(js), rw && safe(rw), js && rw && rcell].filter((c) => c !== undefined && c !== null && c !== false);
    lines.push(`| ${name} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Notes under a fleet's table: anything that makes its figures suspect. */
export function notes(fleet) {
  const out = [];
  for (const [name, f] of [['bare JS', fleet.js], ['ridewire', fleet.rw]]) {
    if (!f) continue;
    const regions = Object.keys(f.regions ?? {});
    if (regions.length > 1) out.push(`${name}: the fleet landed in ${regions.length} regions (${JSON.stringify(f.regions)})`);
    if (f.error) {
      out.push(`${name}: the run failed: ${f.error}`);
      continue;
    }
    if (f.create_failures.length) out.push(`${name}: ${f.create_failures.length} POST /v1/rides failed (${f.create_failures[0]})`);
    if (f.timeouts) out.push(`${name}: ${f.timeouts} rides timed out (no offer or no assignment within 5 s)`);
    if (f.race_ms.double_wins) out.push(`${name}: ${f.race_ms.double_wins} races told more than one driver ride_assigned`);
    if (f.race_ms.repeated_assigned) out.push(`${name}: ${f.race_ms.repeated_assigned} accepted rides sent the winner ride_assigned more than once`);
    if (Object.keys(f.lost_sockets).length) out.push(`${name}: sockets closed under the benchmark, by close code: ${JSON.stringify(f.lost_sockets)}`);
    if (Object.keys(f.errors).length) out.push(`${name}: error frames received: ${JSON.stringify(f.errors)}`);
    const cpu = f.cpu ? `; CPU cores busy: ${f.cpu.ours_cores} the benchmark and its servers, ${f.cpu.others_cores} everything else` : '';
    out.push(`${name}: location ramp stopped: ${f.location.stop}; ${f.duration_s} s${cpu}`);
  }
  return out;
}

export function writeResults(root, dir, result) {
  const outDir = join(root, dir);
  mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:]/g, '-').replace(/\..*$/, 'Z');
  const file = join(outDir, `${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
