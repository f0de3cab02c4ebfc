// Starting and stopping the Workers under test, on free localhost ports, with throwaway state (local
// D1 with the migrations applied, Durable Object storage):
// - startMiniflare (the default): workerd through Miniflare, as the e2e tests run it: what `wrangler
//   dev` runs, without its dev proxy in front (the proxy costs about 6 file descriptors a socket, so
//   under this machine's hard limit of 20,000 open files `wrangler dev` carries only ~3,300 sockets).
// - startWrangler (--wrangler-dev): `wrangler dev` itself, killed with its whole process group
//   (wrangler and workerd) on close, on exit, on Ctrl-C and on errors.
import { spawn } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker } from '../../../tests/e2e/helpers.mjs';
import { sleep } from './util.mjs';

const running = new Set(); // child processes (each the leader of its own process group)

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

// Whatever happens, nothing we started outlives us.
process.on('exit', () => {
  for (const child of running) killGroup(child, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping the servers\n`);
    process.exit(130);
  });
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Runs a command to completion (output to `log`), failing after `timeoutMs`. */
export function run(cmd, args, { cwd, env = process.env, log, timeoutMs = 600_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let out = '';
    const take = (chunk) => {
      out += chunk;
      if (log) log.write(chunk);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${out.slice(-3000)}`));
    });
  });
}

/**
 * Starts `wrangler dev` in `cwd` on a free port with a fresh state directory.
 * @param {object} o
 * @param {string} o.label    for messages
 * @param {string} o.cwd      the Worker's directory (its wrangler.toml)
 * @param {string} o.wrangler path of the wrangler binary
 * @param {Record<string,string>} [o.vars]  --var overrides (secrets too)
 * @param {Record<string,string>} [o.env]   extra environment for wrangler (and its [build] command)
 * @param {boolean} [o.copy]  run from a temporary copy of cwd (for read-only directories)
 * @returns {Promise<{url: string, label: string, logFile: string, close: () => Promise<void>}>}
 */
export async function startWrangler({ label, cwd, wrangler, vars = {}, env = {}, copy = false, onProgress = () => {} }) {
  const dir = mkdtempSync(join(tmpdir(), `ridewire-bench-${label.replace(/\W+/g, '-')}-`));
  let workDir = cwd;
  if (copy) {
    workDir = join(dir, 'worker');
    cpSync(cwd, workDir, { recursive: true, filter: (src) => !/[/\\](node_modules|\.wrangler)$/.test(src) });
  }
  const state = join(dir, 'state');
  const logFile = join(dir, 'wrangler.log');
  const log = createWriteStream(logFile);
  const fullEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false', ...env };

  onProgress(`${label}: applying D1 migrations`);
  await run(wrangler, ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', state], {
    cwd: workDir, env: { ...fullEnv, CI: '1' }, log, timeoutMs: 120_000,
  });

  const port = await freePort();
  const inspector = await freePort();
  const args = ['dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector),
    '--persist-to', state, '--show-interactive-dev-session=false', '--log-level', 'warn'];
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
  const child = spawn(wrangler, args, { cwd: workDir, env: fullEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = signal ?? `exit ${code}`;
    running.delete(child);
  });

  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    if (exited === null) {
      killGroup(child, 'SIGTERM');
      for (let i = 0; i < 50 && exited === null; i++) await sleep(100);
      if (exited === null) killGroup(child, 'SIGKILL');
      for (let i = 0; i < 20 && exited === null; i++) await sleep(100);
    }
    log.end();
    if (!process.env.BENCH_KEEP_STATE) rmSync(dir, { recursive: true, force: true });
  };

  // Ready when /health answers 200 (wrangler first runs the [build] command, then starts workerd).
  const deadline = Date.now() + 180_000;
  for (let attempt = 0; ; attempt++) {
    if (exited !== null) {
      const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-3000) : '';
      await close();
      throw new Error(`${label}: wrangler dev stopped (${exited}) before it was ready:\n${tail}`);
    }
    if (Date.now() > deadline) {
      const tail = readFileSync(logFile, 'utf8').slice(-3000);
      await close();
      throw new Error(`${label}: wrangler dev not ready within 180 s:\n${tail}`);
    }
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      await res.text();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    onProgress(`${label}: waiting for wrangler dev on ${url} (${attempt}s)`);
    await sleep(1000);
  }
  return { url, label, logFile, close };
}

/**
 * Starts the Worker of `root` (its wrangler.toml: main, Durable Objects, D1 and migrations, vars) in
 * workerd through Miniflare, all state in memory.
 * @returns {Promise<{url: string, label: string, close: () => Promise<void>}>}
 */
export async function startMiniflare({ label, root, vars = {}, onProgress = () => {} }) {
  onProgress(`${label}: starting workerd`);
  // One dispatcher registers the whole fleet and one passenger creates every ride: the limits per
  // client (PROTOCOL.md "Input and abuse") are lifted, the limiter still runs on every request.
  const lifted = { simple: { limit: 1_000_000, period: 10 } };
  const ratelimits = { REQUEST_LIMITER: lifted, RIDE_CREATION_LIMITER: lifted, PARTNER_RIDE_CREATION_LIMITER: lifted };
  const worker = await startWorker({ root, vars, ratelimits });
  return { url: worker.url.origin, label, close: () => worker.close() };
}
