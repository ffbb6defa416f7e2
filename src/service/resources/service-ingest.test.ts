import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ForbiddenError, UserError } from '../../core/errors.js';
import { NoIngestRootError, resolveIngestDisks } from './service-ingest.js';

describe("the disks of an ingest on the service's host", () => {
  let dir: string;
  let root: string;
  before(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'ferry-ingest-root-')));
    root = join(dir, 'disks');
    await mkdir(join(root, 'sdb1'), { recursive: true });
    await mkdir(join(root, '..dotted'));
    await mkdir(join(dir, 'elsewhere'));
    await writeFile(join(root, 'a-file'), 'not a disk');
    await symlink(join(dir, 'elsewhere'), join(root, 'link-out'));
    await symlink(join(root, 'sdb1'), join(dir, 'link-in'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('takes folders under the root (a name starting with two dots too), the root itself, and answers their real paths', async () => {
    assert.deepEqual(await resolveIngestDisks(root, [join(root, 'sdb1'), join(root, '..dotted'), root, join(root, 'sdb1', '..', 'sdb1')]), [
      join(root, 'sdb1'),
      join(root, '..dotted'),
      root,
      join(root, 'sdb1'),
    ]);
  });

  it('refuses a path outside the root before looking at it, and a link inside the root that leads out', async () => {
    await assert.rejects(resolveIngestDisks(root, ['/no/such/path']), (err: unknown) => err instanceof ForbiddenError && /not under the service's ingest root/.test(err.message));
    await assert.rejects(resolveIngestDisks(root, [join(dir, 'elsewhere')]), ForbiddenError);
    await assert.rejects(resolveIngestDisks(root, [join(root, '..', 'elsewhere')]), ForbiddenError);
    await assert.rejects(resolveIngestDisks(root, [join(root, 'link-out')]), ForbiddenError);
    // A link outside the root is refused by where it stands, even where it leads inside.
    await assert.rejects(resolveIngestDisks(root, [join(dir, 'link-in')]), ForbiddenError);
  });

  it('says what is wrong with a missing path or a file under the root, and with no root at all', async () => {
    await assert.rejects(resolveIngestDisks(root, [join(root, 'sdc1')]), (err: unknown) => err instanceof UserError && /does not exist on the service's host/.test(err.message));
    await assert.rejects(resolveIngestDisks(root, [join(root, 'a-file')]), (err: unknown) => err instanceof UserError && /is not a folder/.test(err.message));
    await assert.rejects(resolveIngestDisks(null, [join(root, 'sdb1')]), (err: unknown) => err instanceof NoIngestRootError && err.code === 'NO_INGEST_ROOT' && /--ingest-root DIR/.test(err.message));
  });
});
