#!/usr/bin/env node
// Builds the CLI (end-to-end tests drive bin/ferry), then runs every *.test.ts under src/ and test/ with
// node's test runner. Node 20 does not expand globs, so the file list is gathered here.
//
// The tests run compiled: src/ and test/ are transpiled file by file with esbuild (what tsx does on the fly,
// the same transform) into .test-build/, where every other entry of the repository is a link to the real one
// (bin/, build/, node_modules/, docs/, …), so paths relative to a module work as in the source tree. Loading
// a test's modules through tsx cost each test process 0.3–2 CPU-s and every worker thread a loader of its
// own. A failure's stack points into .test-build/; run the file from source for TypeScript lines:
// `node --import tsx --test path/to/x.test.ts`.
// Usage: npm test [-- FILTER…]   (only files whose path contains one of the filters)
//        npm run test:slow        (the *.slow.ts files instead: long tests on generated large repositories)
//
// The service's database tests run twice: on SQLite, then on PostgreSQL when FERRY_TEST_POSTGRES_URL names a
// server (scripts/test-postgres.sh start DIR prints one; in CI, CI=true, it must be set). The second pass takes
// the test files that open their database through src/service/testing/ (openTestDatabase or
// startServiceFixture), in a database made for the pass and dropped after it.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { build as esbuild } from 'esbuild';
import pg from 'pg';

const slow = process.argv[2] === '--slow';
const suffix = slow ? '.slow.ts' : '.test.ts';

/** The files under `dir` whose names end with `ending`. */
function findFiles(dir, ending) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findFiles(path, ending));
    else if (name.endsWith(ending)) found.push(path);
  }
  return found;
}

const findTests = (dir) => findFiles(dir, suffix);

/** Where the tests run from (see the top of this file). */
const TEST_BUILD = '.test-build';
const COMPILED = ['src', 'test'];

/** Transpiles src/ and test/ into TEST_BUILD and links every other entry of the repository there. */
async function buildTests() {
  for (const dir of COMPILED) rmSync(join(TEST_BUILD, dir), { recursive: true, force: true });
  const entryPoints = COMPILED.flatMap((dir) => findFiles(dir, '.ts'));
  await esbuild({ entryPoints, outdir: TEST_BUILD, outbase: '.', format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' });
  for (const name of readdirSync('.')) {
    if (COMPILED.includes(name) || name === '.git' || name === TEST_BUILD) continue;
    const link = join(TEST_BUILD, name);
    if (!existsSync(link) && !isLink(link)) symlinkSync(join('..', name), link);
  }
}

function isLink(path) {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The compiled form of a test file. */
const compiled = (file) => join(TEST_BUILD, file.replace(/\.ts$/, '.js'));

/**
 * Test files run at once: one more than the cores, since most end-to-end files spend much of their time
 * waiting on the processes and servers they start. FERRY_TEST_CONCURRENCY overrides it.
 */
const CONCURRENCY = Number(process.env.FERRY_TEST_CONCURRENCY ?? availableParallelism() + 1);

/**
 * The environment of the test processes and of everything they start. Without NODE_EXTRA_CA_CERTS: a machine
 * behind a TLS-inspecting proxy sets it for npm, and every Node process then parses the whole CA bundle at
 * start (~0.1 CPU-s, a third of a short ferry command; the suite starts about 1,500 Node processes). The tests
 * reach nothing but 127.0.0.1, and the TLS tests bring their own CA.
 */
const testEnvironment = { ...process.env };
delete testEnvironment.NODE_EXTRA_CA_CERTS;

/** Runs the test files in a node:test process with `env` added; returns its exit status. */
function runTests(files, env = {}) {
  const run = spawnSync(process.execPath, ['--test', `--test-concurrency=${CONCURRENCY}`, ...files.map(compiled)], {
    stdio: 'inherit',
    env: { ...testEnvironment, ...env },
  });
  return run.status ?? 1;
}

/** True when the test file opens its service database through the shared factory (so it can run on PostgreSQL). */
function usesServiceDatabase(file) {
  return /\b(openTestDatabase|startServiceFixture)\(/.test(readFileSync(file, 'utf8'));
}

/** Runs `files` on a fresh database of the PostgreSQL server at `serverUrl`, dropped afterwards. */
async function runOnPostgres(files, serverUrl) {
  const database = `ferry_tests_${process.pid}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    // Byte-order text, as the service requires (src/service/db/postgres-database.ts).
    await admin.query(`CREATE DATABASE ${database} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
    const url = new URL(serverUrl);
    url.pathname = `/${database}`;
    const started = Date.now();
    const status = runTests(files, { FERRY_TEST_DATABASE: 'postgres', FERRY_TEST_POSTGRES_URL: url.toString() });
    console.log(`# PostgreSQL pass: ${files.length} files in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return status;
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
}

/**
 * Test files that take a minute or more (measured on 2 cores, 2026-12-07): they start first, so the suite
 * does not end with one of them running alone (sorted by name, the crash tests started a fifth of the way
 * in and the S3 tests three quarters). The others follow by name. A stale entry only changes the order.
 */
const LONG_FIRST = [
  'test/crash/failpoints.test.ts',
  'test/e2e/azure.test.ts',
  'test/e2e/s3.test.ts',
  'test/e2e/adoption.test.ts',
  'test/crash/kill-backup.test.ts',
  'test/e2e/ingest.test.ts',
  'test/bench-smoke.test.ts',
  'src/service/api/vault-objects.test.ts',
  'test/fixtures/fidelity-tree.test.ts',
];
const startRank = (file) => (LONG_FIRST.includes(file) ? LONG_FIRST.indexOf(file) : LONG_FIRST.length);

const filters = process.argv.slice(slow ? 3 : 2);
const files = [...findTests('src'), ...findTests('test')]
  .filter((f) => filters.length === 0 || filters.some((filter) => f.includes(filter)))
  .sort()
  .sort((a, b) => startRank(a) - startRank(b));
if (files.length === 0) {
  console.error('no test files match');
  process.exit(1);
}

// Build mode: an up-to-date dist/ (npm ci's prepare built it; CI runs npm test, then test:slow) costs ~1 CPU-s
// to confirm instead of ~30 s for a full compile.
const build = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b', 'tsconfig.build.json'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
await buildTests();

let status = runTests(files);

const databaseFiles = files.filter(usesServiceDatabase);
const postgresUrl = process.env.FERRY_TEST_POSTGRES_URL;
if (databaseFiles.length > 0) {
  if (postgresUrl) {
    const pgStatus = await runOnPostgres(databaseFiles, postgresUrl);
    if (status === 0) status = pgStatus;
  } else if (process.env.CI === 'true') {
    console.error('FERRY_TEST_POSTGRES_URL is not set: the service tests must also run on PostgreSQL in CI (.ci/run starts it)');
    status = 1;
  } else {
    console.log(`# PostgreSQL pass skipped (${databaseFiles.length} files): set FERRY_TEST_POSTGRES_URL (scripts/test-postgres.sh start DIR prints it)`);
  }
}
process.exit(status);
