// The Miniflare harness the e2e tests share: the built Worker (build/index.js + its wasm) in real
// workerd, with the Durable Objects and D1 databases of wrangler.toml, in memory, D1 migrations
// applied. Build first (scripts/build, or scripts/test which does everything).
//
//   import { before, after, test } from 'node:test';
//   import { startWorker, token, api } from './helpers.mjs';
//   let worker;
//   before(async () => { worker = await startWorker(); });
//   after(() => worker?.close());
//   test('...', async () => {
//     const res = await api(worker, 'GET', '/v1/rides', { token: token('passenger', 'p-1') });
//   });
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Miniflare, Log, LogLevel } from 'miniflare';
import { readWranglerConfig, ROOT } from '../../scripts/lib/worker-config.mjs';
import { splitSqlStatements } from '../../scripts/lib/sql.mjs';
import { signJwt, nowSeconds } from '../../scripts/lib/jwt.mjs';

export { ROOT, signJwt, nowSeconds };

/** The JWT secret the test Worker runs with (never the .dev.vars one). */
export const TEST_JWT_SECRET = 'test-only-jwt-secret-9f2c4e1a7b3d5f60';
/** The webhook signing secret the test Worker runs with. */
export const TEST_WEBHOOK_SECRET = 'test-only-webhook-secret-51d0';

/**
 * Starts the built Worker in Miniflare.
 * @param {object} [opts]
 * @param {Record<string, unknown>} [opts.vars] bindings overriding wrangler.toml [vars] and the test secrets
 * @param {Record<string, {simple: {limit: number, period: number}}>} [opts.ratelimits] rate limiting bindings
 *   overriding wrangler.toml's [[ratelimits]] (same shape as Miniflare's `ratelimits` option)
 * @param {object} [opts.miniflare] extra Miniflare worker options, merged last (escape hatch)
 * @param {string} [opts.root] project root (default: this repo); for testing the harness itself
 * @param {boolean} [opts.migrate] apply the D1 migrations (default true; a cold start bench times them apart)
 * @param {boolean} [opts.assets] serve wrangler.toml's [assets] (the console) before the Worker (default false)
 * @returns {Promise<{mf: Miniflare, url: URL, fetch: (path: string, init?: RequestInit) => Promise<Response>,
 *   wsUrl: (path: string) => string, db: D1Database, dbs: Record<string, D1Database>, close: () => Promise<void>}>}
 */
export async function startWorker({ vars = {}, ratelimits = {}, miniflare = {}, root = ROOT, migrate = true, assets = false } = {}) {
  const config = readWranglerConfig(root);
  const scriptPath = resolve(root, config.main);
  if (!existsSync(scriptPath)) {
    throw new Error(`${scriptPath} does not exist: build the Worker first (scripts/build)`);
  }
  if (!config.compatibilityDate) throw new Error('wrangler.toml has no compatibility_date');

  // SQLite-backed unless a migration declared the class with `new_classes` (the KV backend).
  const kvClasses = new Set((config.toml.migrations ?? []).flatMap((m) => m.new_classes ?? []));
  const durableObjects = {};
  for (const { name, className, scriptName } of config.durableObjects) {
    durableObjects[name] = { className, useSQLite: !kvClasses.has(className), ...(scriptName ? { scriptName } : {}) };
  }
  const d1 = config.d1Databases.length ? config.d1Databases : [{ binding: 'DB', migrationsDir: 'migrations' }];

  const logLevel = process.env.MINIFLARE_LOG?.toUpperCase();
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: 0, // any free port: test files never collide with each other or with scripts/dev
    ...(logLevel && logLevel in LogLevel ? { log: new Log(LogLevel[logLevel]) } : {}),
    // All state in memory: every startWorker() begins empty.
    d1Persist: false,
    durableObjectsPersist: false,
    kvPersist: false,
    r2Persist: false,
    cachePersist: false,
    modules: true,
    scriptPath,
    // Module names are paths relative to modulesRoot, which defaults to the process cwd: a cwd
    // that is not an ancestor of build/ makes workerd fail ("can't use '..' to break out").
    modulesRoot: dirname(scriptPath),
    // worker-build emits `import wasm from "./index_bg.wasm"` (it rewrites wasm-bindgen's
    // `import source`), i.e. a compiled WebAssembly.Module, as wrangler's default rules load it.
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
    compatibilityDate: config.compatibilityDate,
    compatibilityFlags: config.compatibilityFlags,
    d1Databases: d1.map((d) => d.binding),
    // R2 buckets of wrangler.toml (proof images), in memory like the rest.
    r2Buckets: (config.toml.r2_buckets ?? []).map((b) => b.binding),
    durableObjects,
    // wrangler.toml's [assets] (the dispatcher console), served before the Worker as on Cloudflare;
    // only when asked for: with assets, this Miniflare's rate limiting bindings stop limiting
    // (tests/e2e/abuse.test.mjs fails), so the tests of the limits run without them.
    ...(assets && config.assets && existsSync(resolve(root, config.assets.directory))
      ? {
        assets: {
          directory: resolve(root, config.assets.directory),
          routerConfig: { has_user_worker: true },
          assetConfig: {
            ...(config.assets.htmlHandling ? { html_handling: config.assets.htmlHandling } : {}),
            ...(config.assets.notFoundHandling ? { not_found_handling: config.assets.notFoundHandling } : {}),
          },
        },
      }
      : {}),
    // The per-client limits of wrangler.toml, counted in memory like every other binding here.
    ratelimits: { ...config.ratelimits, ...ratelimits },
    bindings: {
      ...config.vars,
      JWT_SECRET: TEST_JWT_SECRET,
      WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      ...vars,
    },
    ...miniflare,
  });

  let url;
  const dbs = {};
  try {
    url = await mf.ready;
    for (const { binding, migrationsDir } of d1) {
      dbs[binding] = await mf.getD1Database(binding);
      if (migrate) await applyMigrations(dbs[binding], join(root, migrationsDir));
    }
  } catch (e) {
    await mf.dispose().catch(() => {});
    throw e;
  }

  let closed = false;
  return {
    mf,
    url,
    db: dbs.DB ?? dbs[d1[0].binding],
    dbs,
    fetch: (path, init) => fetch(new URL(path, url), init),
    /** ws:// URL of a path on the Worker, for `new WebSocket(worker.wsUrl('/v1/...'))` from `ws`. */
    wsUrl: (path) => {
      const u = new URL(path, url);
      u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
      return u.href;
    },
    async close() {
      if (closed) return;
      closed = true;
      await mf.dispose();
    },
  };
}

/**
 * Applies every *.sql in `dir`, in name order (as `wrangler d1 migrations apply` does), one file per
 * D1 batch (a batch is a transaction, so a file applies whole or not at all). Returns the file names.
 */
export async function applyMigrations(db, dir) {
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  for (const file of files) {
    const statements = splitSqlStatements(readFileSync(join(dir, file), 'utf8'));
    if (statements.length === 0) continue;
    try {
      await db.batch(statements.map((s) => db.prepare(s)));
    } catch (e) {
      throw new Error(`applying migration ${file}: ${e.message}`, { cause: e });
    }
  }
  return files;
}

/**
 * A valid JWT (HS256, TEST_JWT_SECRET) for `role` and `sub`.
 * @param {string} role passenger | driver | partner | dispatcher (anything else, to test rejection)
 * @param {string} sub
 * @param {{ttl?: number, name?: string, [claim: string]: unknown}} [opts] ttl in seconds (default 3600,
 *   negative for an expired token); any other field is a claim and overrides the defaults (iat, exp, ...)
 */
export function token(role, sub, { ttl = 3600, name, ...extraClaims } = {}) {
  const iat = nowSeconds();
  const claims = { sub, role, iat, exp: iat + ttl };
  if (name !== undefined) claims.name = name;
  return signJwt({ ...claims, ...extraClaims }, TEST_JWT_SECRET);
}

/**
 * One HTTP request to the Worker.
 * @param {{fetch: Function}} worker from startWorker()
 * @param {string} method
 * @param {string} path e.g. '/v1/rides?status=requested'
 * @param {{token?: string, body?: unknown, headers?: Record<string, string>}} [opts]
 *   body: an object is sent as JSON; a string (or Buffer, FormData, ...) is sent as is
 * @returns {Promise<{status: number, body: any, text: string, headers: Headers}>} body is the parsed
 *   JSON, or null when the response is empty or not JSON (then `text` has it)
 */
export async function api(worker, method, path, { token: jwt, body, headers = {} } = {}) {
  const h = new Headers(headers);
  if (jwt !== undefined && !h.has('authorization')) h.set('authorization', `Bearer ${jwt}`);
  let payload;
  if (body !== undefined) {
    if (typeof body === 'string' || body instanceof Uint8Array || body instanceof ArrayBuffer ||
        (typeof FormData !== 'undefined' && body instanceof FormData)) {
      payload = body;
    } else {
      payload = JSON.stringify(body);
      if (!h.has('content-type')) h.set('content-type', 'application/json');
    }
  }
  const res = await worker.fetch(path, { method, headers: h, body: payload });
  const text = await res.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

/**
 * How long until every region's stats row shows a change: a region reports
 * at most once a second (REPORT_MIN_MS), plus a margin.
 */
export const STATS_SETTLE_MS = 1_300;

/**
 * Registers driver `id` (`PUT /v1/drivers/{id}` by the dispatcher token `by`) and checks it was
 * taken: a sedan, named `Driver {id}` and registered as `id` unless `name` or `registration` say
 * otherwise.
 */
export async function registerDriver(worker, id, { by, phone, name = `Driver ${id}`, registration = id }) {
  const put = await api(worker, 'PUT', `/v1/drivers/${id}`, {
    token: by,
    body: { name, phone, vehicle: { type: 'sedan', registration } },
  });
  if (put.status !== 200) throw new Error(`registering ${id}: ${put.status} ${put.text}`);
}

/** Polls `read` until `ok(value)` or `ms` pass; returns the last value read. */
export async function until(read, ok, ms = 8000) {
  const start = Date.now();
  let value = await read();
  while (!ok(value) && Date.now() - start < ms) {
    await new Promise((r) => setTimeout(r, 100));
    value = await read();
  }
  return value;
}
