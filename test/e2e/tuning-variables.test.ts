import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ferry, makeTempDir, type TempDir } from './harness.js';

/**
 * The FERRY_* tuning variables: a bad value is one line naming the variable, the value and what is
 * allowed, exit 1, before the repository is even looked at (each case points at a repository that does
 * not exist, which would otherwise be exit 10) or the service's data folder made. One process per case.
 */
describe('tuning variables: a bad value is a one-line usage error, never silently ignored', () => {
  let tmp: TempDir;
  let missing: string;

  before(async () => {
    tmp = await makeTempDir();
    missing = join(tmp.path, 'no-repository');
  });
  after(() => tmp.cleanup());

  const cases: { variable: string; value: string; args: () => string[]; allowed: RegExp }[] = [
    { variable: 'FERRY_RESTORE_WRITERS', value: 'two', args: () => ['restore', 'latest', '--target', join(tmp.path, 'out'), '-r', missing], allowed: /whole number from 1 to 64/ },
    { variable: 'FERRY_RESTORE_WRITE_BEHIND', value: '4M', args: () => ['restore', 'latest', '--target', join(tmp.path, 'out'), '-r', missing], allowed: /from 0 \(off\) to 256/ },
    { variable: 'FERRY_RESTORE_CREATE', value: 'writers', args: () => ['restore', 'latest', '--target', join(tmp.path, 'out'), '-r', missing], allowed: /main or writer/ },
    { variable: 'FERRY_PROGRESS_FPS', value: 'fast', args: () => ['backup', '-r', missing, tmp.path], allowed: /positive number/ },
    { variable: 'FERRY_LOG_LEVEL', value: 'loud', args: () => ['serve', '--data-dir', join(tmp.path, 'out')], allowed: /one of fatal, error, warn, info, debug, trace, silent/ },
  ];
  for (const { variable, value, args, allowed } of cases) {
    it(`${variable}=${value}`, async () => {
      const result = await ferry(args(), { env: { [variable]: value } });
      assert.equal(result.code, 1, result.stderr);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.ok(lines[0]!.startsWith(`ferry: ${variable}=${value} is not `), lines[0]);
      assert.match(lines[0]!, allowed);
      await assert.rejects(access(join(tmp.path, 'out')), 'nothing restored, no data folder made');
    });
  }
});
