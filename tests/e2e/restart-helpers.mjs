// Workers whose state lives on disk, so that a test can stop the server and start it again on the
// same storage: D1 and the Durable Objects' storage (alarms included) survive, while open sockets
// and everything in memory are gone, with no close event, as after a workerd restart or a deploy.
//
//   import { startPersistentWorker, stateDir, removeStateDir } from './restart-helpers.mjs';
//   const dir = stateDir();
//   let worker = await startPersistentWorker(dir, { vars: { HEARTBEAT_S: '1' } });
//   ...                                  // open sockets, make rides
//   await worker.close();                // the "crash": sockets vanish, storage stays
//   worker = await startPersistentWorker(dir, { vars: { HEARTBEAT_S: '1' } });
//   ...                                  // what survived?
//   await worker.close(); removeStateDir(dir);
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startWorker } from './helpers.mjs';
import { readWranglerConfig } from '../../scripts/lib/worker-config.mjs';

/** A new empty directory for one persistent worker's state. */
export function stateDir(prefix = 'ridewire-state-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Deletes a directory made by stateDir() (after the worker on it is closed). */
export function removeStateDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts the built Worker in Miniflare with D1 and the Durable Objects persisted under `dir`. The
 * first start on a directory applies every D1 migration; a restart applies only those added since
 * (startWorker applies whatever its root's migrations directory holds, so it is given a root
 * under `dir` whose migrations directory holds just the pending ones, and the real build).
 * @param {string} dir from stateDir(); the same dir on every restart
 * @param {object} [opts] as startWorker's: `vars`, `miniflare` (merged after the persistence options)
 * @returns {Promise<object>} the worker, as startWorker returns it
 */
export async function startPersistentWorker(dir, { vars = {}, miniflare = {} } = {}) {
  const config = readWranglerConfig(ROOT);
  const root = join(dir, 'root');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  cpSync(join(ROOT, 'wrangler.toml'), join(root, 'wrangler.toml'));
  symlinkSync(join(ROOT, 'build'), join(root, 'build'), 'dir');
  const appliedFile = join(dir, 'applied-migrations.json');
  const applied = new Set(existsSync(appliedFile) ? JSON.parse(readFileSync(appliedFile, 'utf8')) : []);
  const pending = {};
  for (const { binding, migrationsDir } of config.d1Databases) {
    const from = join(ROOT, migrationsDir);
    const to = join(root, migrationsDir);
    mkdirSync(to, { recursive: true });
    pending[binding] = existsSync(from) ? readdirSync(from).filter((f) => f.endsWith('.sql') && !applied.has(`${binding}/${f}`)) : [];
    for (const file of pending[binding]) cpSync(join(from, file), join(to, file));
  }
  const worker = await startWorker({
    vars,
    root,
    miniflare: {
      d1Persist: join(dir, 'd1'),
      durableObjectsPersist: join(dir, 'do'),
      ...miniflare,
    },
  });
  for (const [binding, files] of Object.entries(pending)) for (const f of files) applied.add(`${binding}/${f}`);
  writeFileSync(appliedFile, JSON.stringify([...applied].sort()));
  return worker;
}
