#!/usr/bin/env node
// Builds the CLI (end-to-end tests drive bin/ferry), then runs every *.test.ts under src/ and test/ with
// node's test runner. Node 20 does not expand globs, so the file list is gathered here.
// Usage: npm test [-- FILTER…]   (only files whose path contains one of the filters)
//        npm run test:slow        (the *.slow.ts files instead: long tests on generated large repositories)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const slow = process.argv[2] === '--slow';
const suffix = slow ? '.slow.ts' : '.test.ts';

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith(suffix)) found.push(path);
  }
  return found;
}

const filters = process.argv.slice(slow ? 3 : 2);
const files = [...findTests('src'), ...findTests('test')]
  .filter((f) => filters.length === 0 || filters.some((filter) => f.includes(filter)))
  .sort();
if (files.length === 0) {
  console.error('no test files match');
  process.exit(1);
}

const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
