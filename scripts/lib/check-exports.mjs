// Checks that build/index.js exports every Durable Object class named in wrangler.toml.
// A DO class the build does not export is dropped silently by the runtime, so this runs in CI.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, readWranglerConfig, durableObjectClassNames, exportedNames } from './worker-config.mjs';

export function missingDurableObjectExports(root = ROOT) {
  const config = readWranglerConfig(root);
  const entry = join(root, config.main);
  if (!existsSync(entry)) throw new Error(`${config.main} does not exist: run scripts/build`);
  const classes = durableObjectClassNames(config.toml);
  const exported = exportedNames(readFileSync(entry, 'utf8'));
  return { entry: config.main, classes, exported, missing: classes.filter((c) => !exported.includes(c)) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const { entry, classes, exported, missing } = missingDurableObjectExports();
    if (classes.length === 0) {
      console.log('check-exports: wrangler.toml names no Durable Object class_name; nothing to check');
    } else if (missing.length) {
      console.error(`check-exports: ${entry} does not export ${missing.join(', ')} (wrangler.toml class_name)`);
      console.error(`check-exports: it exports: ${exported.join(', ') || '(nothing found)'}${exported.star ? ' and export * from ...' : ''}`);
      process.exit(1);
    } else {
      console.log(`check-exports: ${entry} exports every Durable Object class: ${classes.join(', ')}`);
    }
  } catch (e) {
    console.error(`check-exports: ${e.message}`);
    process.exit(1);
  }
}
