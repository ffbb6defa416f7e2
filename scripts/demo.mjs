#!/usr/bin/env node
// `npm run demo`: backs up a generated sample folder into a new repository, changes a few files, backs
// up again (incrementally), restores the latest snapshot and verifies it byte for byte against the source.
// Everything happens in a temporary directory that is removed at the end (pass --keep to keep it).
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, lstatSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

const keep = process.argv.includes('--keep');
const ferryBin = resolve(import.meta.dirname, '../bin/ferry');
const work = mkdtempSync(join(tmpdir(), 'ferry-demo-'));
const repo = join(work, 'repository');
const source = join(work, 'sample');
const target = join(work, 'restored');
const env = { ...process.env, FERRY_PASSWORD: 'demo password, not for real use' };

const step = (text) => console.log(`\n== ${text}`);
const ferry = (...args) => {
  console.log(`$ ferry ${args.join(' ')}`);
  const result = spawnSync(process.execPath, [ferryBin, ...args], { env, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`demo failed: ferry ${args[0]} exited ${result.status}`);
    process.exit(1);
  }
};

step(`Generating a sample folder in ${source}`);
mkdirSync(join(source, 'projects', 'website'), { recursive: true });
mkdirSync(join(source, 'photos'), { recursive: true });
mkdirSync(join(source, 'empty-folder'));
for (let i = 0; i < 300; i++) writeFileSync(join(source, 'projects', 'website', `page-${i}.html`), `<h1>Page ${i}</h1>\n`.repeat(50 + i));
for (let i = 0; i < 6; i++) writeFileSync(join(source, 'photos', `photo-${i}.jpg`), randomBytes(2 * 1024 * 1024));
writeFileSync(join(source, 'database.db'), Buffer.alloc(24 * 1024 * 1024, 7));
writeFileSync(join(source, 'photos', 'photo-0-copy.jpg'), readFileSync(join(source, 'photos', 'photo-0.jpg')));
symlinkSync('projects/website/page-1.html', join(source, 'home.html'));
writeFileSync(join(source, 'server.log'), 'boot\n');

step('Creating an encrypted repository');
ferry('init', '-r', repo);
step('First backup: everything is new (the copy of photo-0 is stored once)');
ferry('backup', '-r', repo, source);
step('A day of work: a log grows, a page is edited, a photo is added');
appendFileSync(join(source, 'server.log'), 'request\n'.repeat(1000));
writeFileSync(join(source, 'projects', 'website', 'page-7.html'), '<h1>Edited</h1>\n');
writeFileSync(join(source, 'photos', 'new.jpg'), randomBytes(1024 * 1024));
step('Second backup: unchanged files are skipped without reading them');
ferry('backup', '-r', repo, source);
ferry('snapshots', '-r', repo);
step('Verifying every pack');
ferry('check', '-r', repo, '--read-data');
step(`Restoring the latest snapshot to ${target}`);
ferry('restore', '-r', repo, 'latest', '--target', target);

step('Comparing the restored tree with the source');
const digest = (dir) => {
  const out = new Map();
  const walk = (path) => {
    const st = lstatSync(path);
    const key = relative(dir, path);
    if (st.isDirectory()) {
      out.set(key, `dir ${st.mode}`);
      for (const name of readdirSync(path)) walk(join(path, name));
    } else if (st.isSymbolicLink()) {
      out.set(key, 'link');
    } else {
      out.set(key, `${st.mode} ${st.mtimeMs} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`);
    }
  };
  walk(dir);
  return out;
};
const expected = digest(source);
const actual = digest(join(target, source));
const differences = [...expected].filter(([path, value]) => actual.get(path) !== value).map(([path]) => path);
if (differences.length > 0 || actual.size !== expected.size) {
  console.error(`demo failed: the restore differs from the source: ${differences.slice(0, 5).join(', ')}`);
  process.exit(1);
}
console.log(`restore verified: ${expected.size} entries identical (content, mode, mtime)`);
if (keep) console.log(`\nkept ${work}`);
else rmSync(work, { recursive: true, force: true });
console.log('\ndemo finished');
