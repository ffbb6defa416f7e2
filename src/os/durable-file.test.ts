import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AlreadyExistsError } from '../core/errors.js';
import { DurableFile, nodeFileSystem, syncFolder, writeFileDurably, type DurableFileSystem } from './durable-file.js';

let dir: string;
beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'ferry-durable-'))));
afterEach(() => rm(dir, { recursive: true, force: true }));

/**
 * The real file system, recording each step (`sync <path>`, `rename <from> <to>`, `link …`, `rm …`) with
 * paths relative to the test folder; `failOn` makes the first step whose record starts with it fail.
 */
function recordingFs(failOn?: string): { fs: DurableFileSystem; steps: string[] } {
  const steps: string[] = [];
  const rel = (path: string): string => (path === dir ? '.' : path.slice(dir.length + 1).replace(/[0-9a-f]{16}$/, 'HEX'));
  const step = async <T>(record: string, run: () => Promise<T>): Promise<T> => {
    steps.push(record);
    if (failOn !== undefined && record.startsWith(failOn)) throw Object.assign(new Error(`injected failure: ${record}`), { code: 'EIO' });
    return run();
  };
  const fs: DurableFileSystem = {
    async open(path, flags, mode) {
      const handle = await step(`open ${rel(path)}`, () => nodeFileSystem.open(path, flags, mode));
      const sync = handle.sync.bind(handle);
      handle.sync = () => step(`sync ${rel(path)}`, sync);
      return handle;
    },
    rename: (from, to) => step(`rename ${rel(from)} ${rel(to)}`, () => nodeFileSystem.rename(from, to)),
    link: (from, to) => step(`link ${rel(from)} ${rel(to)}`, () => nodeFileSystem.link(from, to)),
    rm: (path) => step(`rm ${rel(path)}`, () => nodeFileSystem.rm(path)),
  };
  return { fs, steps };
}

describe('writeFileDurably', () => {
  it('writes the file with the mode asked for, and leaves no temp file', async () => {
    const path = join(dir, 'state.json');
    await writeFileDurably(path, '{"a":1}\n', { mode: 0o600 });
    assert.equal(await readFile(path, 'utf8'), '{"a":1}\n');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    await writeFileDurably(join(dir, 'label'), Buffer.from('x'), { mode: 0o640 });
    assert.equal((await stat(join(dir, 'label'))).mode & 0o777, 0o640 & ~process.umask());
    assert.deepEqual((await readdir(dir)).sort(), ['label', 'state.json']);
  });

  it('replaces an existing file by default', async () => {
    const path = join(dir, 'agent.json');
    await writeFile(path, 'old');
    await writeFileDurably(path, 'new', { mode: 0o600 });
    assert.equal(await readFile(path, 'utf8'), 'new');
    assert.deepEqual(await readdir(dir), ['agent.json']);
  });

  it('fsyncs the file, renames it into place, and only then fsyncs the folder', async () => {
    const { fs, steps } = recordingFs();
    await writeFileDurably(join(dir, 'admin.token'), 'token\n', { mode: 0o600, fs });
    assert.deepEqual(steps, [
      'open admin.token.tmp-HEX',
      'sync admin.token.tmp-HEX',
      'rename admin.token.tmp-HEX admin.token',
      'open .',
      'sync .',
    ]);
  });

  it('names the temp file with the prefix given', async () => {
    const { fs, steps } = recordingFs();
    await writeFileDurably(join(dir, 'MANIFEST'), 'm', { mode: 0o644, tempPrefix: '.ferry-tmp-', fs });
    assert.equal(steps[0], 'open .ferry-tmp-HEX');
  });

  it('with replace: false refuses an existing file, keeps it, and leaves no temp file', async () => {
    const path = join(dir, 'service.key');
    await writeFile(path, 'first');
    await assert.rejects(writeFileDurably(path, 'second', { mode: 0o600, replace: false }), (err: unknown) => {
      assert.ok(err instanceof AlreadyExistsError);
      return true;
    });
    assert.equal(await readFile(path, 'utf8'), 'first');
    assert.deepEqual(await readdir(dir), ['service.key']);
  });

  it('with replace: false links the file into place, removes the temp name, then fsyncs the folder', async () => {
    const { fs, steps } = recordingFs();
    await writeFileDurably(join(dir, 'FERRY-SEED.json'), '{}\n', { mode: 0o600, replace: false, fs });
    assert.deepEqual(steps, [
      'open FERRY-SEED.json.tmp-HEX',
      'sync FERRY-SEED.json.tmp-HEX',
      'link FERRY-SEED.json.tmp-HEX FERRY-SEED.json',
      'rm FERRY-SEED.json.tmp-HEX',
      'open .',
      'sync .',
    ]);
    assert.deepEqual(await readdir(dir), ['FERRY-SEED.json']);
    assert.equal((await stat(join(dir, 'FERRY-SEED.json'))).nlink, 1);
  });

  for (const failOn of ['sync state.json.tmp', 'rename']) {
    it(`leaves the old file and no temp file when "${failOn}" fails`, async () => {
      const path = join(dir, 'state.json');
      await writeFile(path, 'old');
      const { fs, steps } = recordingFs(failOn);
      await assert.rejects(writeFileDurably(path, 'new', { mode: 0o600, fs }), { code: 'EIO' });
      assert.equal(await readFile(path, 'utf8'), 'old');
      assert.deepEqual(await readdir(dir), ['state.json']);
      assert.ok(!steps.includes('sync .'), 'nothing was placed, so the folder is not synced');
    });
  }

  it('reports a failing folder fsync (the file is in place but not yet durable)', async () => {
    const { fs } = recordingFs('sync .');
    await assert.rejects(writeFileDurably(join(dir, 'a'), 'x', { mode: 0o600, fs }), { code: 'EIO' });
    assert.deepEqual(await readdir(dir), ['a']);
  });

  it('fails when the folder does not exist, leaving nothing', async () => {
    await assert.rejects(writeFileDurably(join(dir, 'missing', 'a'), 'x', { mode: 0o600 }), { code: 'ENOENT' });
    assert.deepEqual(await readdir(dir), []);
  });
});

describe('DurableFile', () => {
  it('makes the temp file at create, and abort removes it without touching the target', async () => {
    const path = join(dir, 'credentials.json');
    await writeFile(path, 'old');
    const file = await DurableFile.create(path, { mode: 0o600 });
    assert.equal((await readdir(dir)).length, 2);
    await file.handle.writeFile('half');
    await file.abort();
    await file.abort();
    assert.deepEqual(await readdir(dir), ['credentials.json']);
    assert.equal(await readFile(path, 'utf8'), 'old');
  });

  it('adopts a temp file made by other means and commits it with the same steps', async () => {
    const temp = join(dir, '.tmp-copy');
    await writeFile(temp, 'copied');
    const { fs, steps } = recordingFs();
    await (await DurableFile.adopt(join(dir, 'obj'), temp, { fs })).commit();
    assert.deepEqual(steps, ['open .tmp-copy', 'sync .tmp-copy', 'rename .tmp-copy obj', 'open .', 'sync .']);
    assert.deepEqual(await readdir(dir), ['obj']);
  });

  it('runs the commit hooks between the steps', async () => {
    const { fs, steps } = recordingFs();
    const file = await DurableFile.create(join(dir, 'obj'), { mode: 0o600, fs });
    await file.commit({ afterSync: () => steps.push('afterSync'), afterPlace: () => steps.push('afterPlace') });
    assert.deepEqual(steps.slice(1), ['sync obj.tmp-HEX', 'afterSync', 'rename obj.tmp-HEX obj', 'afterPlace', 'open .', 'sync .']);
  });
});

describe('syncFolder', () => {
  it('tolerates a file system that cannot fsync a folder', async () => {
    for (const code of ['EINVAL', 'ENOTSUP']) {
      const fs: DurableFileSystem = {
        ...nodeFileSystem,
        async open(path, flags, mode) {
          const handle = await nodeFileSystem.open(path, flags, mode);
          handle.sync = () => Promise.reject(Object.assign(new Error(code), { code }));
          return handle;
        },
      };
      await syncFolder(dir, fs);
    }
  });
});
