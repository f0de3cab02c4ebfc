// Every Durable Object class in wrangler.toml must be exported by the built build/index.js: the
// runtime silently drops a class_name the Worker module does not export. Reads text only; nothing
// from the build is imported (it needs cloudflare:workers and a .wasm that Node cannot load).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, readWranglerConfig, durableObjectClassNames, exportedNames } from '../../scripts/lib/worker-config.mjs';

const config = readWranglerConfig();
const entry = join(ROOT, config.main);

test('wrangler.toml binds at least one Durable Object class', () => {
  assert.ok(durableObjectClassNames(config.toml).length > 0, 'no [[durable_objects.bindings]] class_name found');
});

test('the build exports a default handler and every Durable Object class in wrangler.toml', () => {
  assert.ok(existsSync(entry), `${config.main} is missing: run scripts/build`);
  const exported = exportedNames(readFileSync(entry, 'utf8'));
  assert.ok(exported.includes('default'), `${config.main} has no default export; it exports: ${exported.join(', ')}`);
  for (const className of durableObjectClassNames(config.toml)) {
    assert.ok(exported.includes(className),
      `wrangler.toml class_name "${className}" is not exported by ${config.main}; it exports: ${exported.join(', ')}`);
  }
});
