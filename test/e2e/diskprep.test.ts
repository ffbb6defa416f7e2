// `ferry diskprep` end to end: the built CLI, a staging repository made by the CLI, directory disks and a
// fake job server on 127.0.0.1 implementing the three routes diskprep calls (the contract of issue 5).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { IntegrityError } from '../../src/core/errors.js';
import { diskFileName, FILE_HEADER_BYTES, MANIFEST_NAME } from '../../src/seed/disk-format.js';
import { verifyDisk } from '../../src/seed/disk-verifier.js';
import { DiskprepScene } from './diskprep-harness.js';
import { ferry, FERRY_BIN } from './harness.js';

/** Three disks of this size hold the scene's staging location (one pack each at most, plus the small files). */
const MAX = '1700000';

async function withScene(body: (scene: DiskprepScene) => Promise<void>): Promise<void> {
  const scene = await DiskprepScene.create();
  try {
    await body(scene);
  } finally {
    await scene.cleanup();
  }
}

const diskArgs = (disks: string[]): string[] => disks.flatMap((d) => ['--disk', d]);

test('three directory disks with --max-bytes-per-disk: verified, registered, summary with the shipping address; no secret on any disk; edits are detected', { timeout: 120_000 }, () =>
  withScene(async (scene) => {
    const disks = [await scene.disk('d1'), await scene.disk('d2'), await scene.disk('d3')];
    const run = await ferry(['diskprep', '--staging', scene.staging, ...diskArgs(disks), '--max-bytes-per-disk', MAX]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^prepared: 3 disks for import job seed-e2e/m);
    assert.match(run.stdout, /ship the disks to:\n {2}Ferry Import Desk, 1 Datacenter Way, Testville\n/);
    for (const n of [1, 2, 3]) assert.match(run.stderr, new RegExp(`disk ${n} \\(.*d${n}\\) is ready: \\d+ files?, verified and registered`));
    const perDisk = await scene.assertDisks(disks);
    assert.equal(perDisk.length, 3);
    for (const paths of perDisk) for (const path of paths) assert.match(path, /^(data|index|snapshots)\//, 'only data/, index/, snapshots/ travel');

    // The job token went only in the Authorization header, never in a URL.
    assert.ok(scene.server.requests.length >= 5);
    for (const r of scene.server.requests) {
      assert.equal(r.authorization, `Bearer ${scene.jobToken}`);
      assert.ok(!r.url.includes(scene.jobToken));
    }
    const scanned = await scene.assertNoSecretsOn(disks);
    assert.ok(scanned > 3_000_000, `scanned ${scanned} bytes`);

    // --json reports the same, and a rerun changes nothing.
    const again = await ferry(['diskprep', '--staging', scene.staging, ...diskArgs(disks), '--json']);
    assert.equal(again.code, 0, again.stderr);
    const summary = JSON.parse(again.stdout) as { alreadyPrepared: boolean; disks: { index: number }[]; shippingAddress: string };
    assert.equal(summary.alreadyPrepared, true);
    assert.deepEqual(summary.disks.map((d) => d.index), [0, 1, 2]);

    // The datacenter's verification notices an edited manifest and a flipped byte in a segment.
    const job = await scene.server.service.getJob(scene.jobId);
    const manifestPath = join(disks[0]!, MANIFEST_NAME);
    const manifest = await readFile(manifestPath);
    const edited = Buffer.from(manifest);
    edited[edited.length - 40]! ^= 0x20;
    await writeFile(manifestPath, edited);
    const expectDisk1 = { jobId: scene.jobId, diskId: job.disks[0]!.id, index: 0 };
    await assert.rejects(verifyDisk(disks[0]!, scene.key(0), { ...expectDisk1, manifestSha256: job.disks[0]!.manifestSha256 }), /not the one registered/);
    await assert.rejects(verifyDisk(disks[0]!, scene.key(0), expectDisk1), (err: Error) => err instanceof IntegrityError && /does not authenticate/.test(err.message));
    await writeFile(manifestPath, manifest);

    // The largest file on disk 2 (placement depends on the pack sizes): a byte of its second segment when
    // it has one, else of its first.
    const onDisk2 = perDisk[1]!.map((_, n) => join(disks[1]!, diskFileName(n)));
    const sizes = await Promise.all(onDisk2.map(async (path) => (await stat(path)).size));
    const victim = onDisk2[sizes.indexOf(Math.max(...sizes))]!;
    const bytes = await readFile(victim);
    const segment = bytes.length > FILE_HEADER_BYTES + 1024 * 1024 + 16 + 777 ? 1 : 0;
    bytes[FILE_HEADER_BYTES + segment * (1024 * 1024 + 16) + 5]! ^= 0x01;
    await writeFile(victim, bytes);
    const v = await verifyDisk(disks[1]!, scene.key(1), { jobId: scene.jobId, diskId: job.disks[1]!.id, index: 1 });
    assert.equal(v.ok, false);
    assert.deepEqual(v.files.map((f) => [f.status, f.badSegments]), [['damaged', [segment]]]);
  }));

for (const [point, what] of [
  ['diskprep-file-copied:2', 'mid-copy, after the second file'],
  ['diskprep-sealed:2', 'after disk 2 was sealed'],
  ['diskprep-disk-put:1', 'after disk 1 was registered, before that was recorded'],
  ['diskprep-prepared:1', 'after the job was marked prepared'],
] as const) {
  test(`killed with SIGKILL ${what} (${point}): the same command resumes and ends with verified disks`, { timeout: 120_000 }, () =>
    withScene(async (scene) => {
      const disks = [await scene.disk('d1'), await scene.disk('d2'), await scene.disk('d3')];
      const args = ['diskprep', '--staging', scene.staging, ...diskArgs(disks), '--max-bytes-per-disk', MAX];
      const killed = await ferry(args, { env: { FERRY_FAILPOINT: point } });
      assert.equal(killed.code, -1, `killed by a signal: ${killed.stderr}`);
      assert.match(killed.stderr, /failpoint .* reached, killing the process/);
      const resumed = await ferry(args);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stdout, /prepared: 3 disks/);
      await scene.assertDisks(disks);
      assert.equal(scene.server.requests.filter((r) => r.method === 'POST').length, 1, 'prepared once');
    }));
}

test('killed with SIGKILL in the middle of writing a file (diskprep-segments-written:1): the partial file is replaced on resume', { timeout: 120_000 }, async () => {
  const scene = await DiskprepScene.create([6_000_000]);
  try {
    const disk = await scene.disk('d1');
    const killed = await ferry(['diskprep', '--staging', scene.staging, '--disk', disk], { env: { FERRY_FAILPOINT: 'diskprep-segments-written:1' } });
    assert.equal(killed.code, -1, killed.stderr);
    // The kill came after the first 4 MiB batch of segments: a file is on the disk, unfinished and unjournalled.
    assert.ok((await readFile(join(disk, diskFileName(0)))).length > 0);
    await assert.rejects(readFile(join(disk, MANIFEST_NAME)), { code: 'ENOENT' });
    assert.equal(await readFile(join(scene.staging, 'diskprep', 'journal.jsonl'), 'utf8').catch(() => ''), '');
    const resumed = await ferry(['diskprep', '--staging', scene.staging, '--disk', disk]);
    assert.equal(resumed.code, 0, resumed.stderr);
    await scene.assertDisks([disk]);
  } finally {
    await scene.cleanup();
  }
});

test('on a terminal: a non-empty disk needs the typed word, and full disks ask for the next one', { timeout: 120_000 }, () =>
  withScene(async (scene) => {
    const [d1, d2, d3] = [await scene.disk('d1'), await scene.disk('d2'), await scene.disk('d3')];
    await writeFile(join(d1, 'old-backup.tar'), 'old');
    const command = [process.execPath, FERRY_BIN, 'diskprep', '--staging', scene.staging, '--disk', d1, '--max-bytes-per-disk', MAX].map(shellQuote).join(' ');
    // util-linux script(1) runs the command on a pseudo-terminal and forwards our writes as typed input.
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'dumb' } });
    let output = '';
    const answered: string[] = [];
    const answer = (prompt: RegExp, occurrence: number, text: string): void => {
      const key = `${prompt.source}#${occurrence}`;
      if (answered.includes(key) || (output.match(new RegExp(prompt.source, 'g'))?.length ?? 0) < occurrence) return;
      answered.push(key);
      child.stdin.write(`${text}\r`);
    };
    child.stdout.on('data', (data: Buffer) => {
      output += data.toString();
      answer(/Type "erase" to delete everything on it/, 1, 'erase');
      answer(/Attach another disk and type the folder it is mounted at/, 1, d2);
      answer(/Attach another disk and type the folder it is mounted at/, 2, d3);
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, output);
    assert.match(output, /The disk .*d1 is not empty: it holds old-backup\.tar\./);
    assert.match(output, /Disk 1 is full: \d+ files? \(.*\) are left\./);
    assert.match(output, /Disk 2 is full: 1 file \(.*\) is left\./);
    assert.equal(answered.length, 3);
    await scene.assertDisks([d1, d2, d3]);
  }));

test('off a terminal: out of disks names what is left and the command that resumes', { timeout: 120_000 }, () =>
  withScene(async (scene) => {
    const d1 = await scene.disk('d1');
    const first = await ferry(['diskprep', '--staging', scene.staging, '--disk', d1, '--max-bytes-per-disk', MAX]);
    assert.equal(first.code, 1);
    const resume = /resume with: (ferry diskprep .*)$/m.exec(first.stderr)?.[1];
    assert.match(first.stderr, /ferry: the disks given are full: \d+ files \(\d+ bytes\) of the staging location are not on a disk yet/);
    assert.equal(resume, `ferry diskprep --staging ${scene.staging} --disk NEW-DISK --max-bytes-per-disk ${MAX}`);
    const [d2, d3] = [await scene.disk('d2'), await scene.disk('d3')];
    const args = resume.replace('--disk NEW-DISK', `--disk ${d2} --disk ${d3}`).split(' ').slice(1);
    const second = await ferry(args);
    assert.equal(second.code, 0, second.stderr);
    await scene.assertDisks([d1, d2, d3]);
  }));

test('refused: a non-empty disk without --yes off a terminal, a disk inside the staging location; --yes erases', { timeout: 120_000 }, () =>
  withScene(async (scene) => {
    const used = await scene.disk('used');
    await writeFile(join(used, 'keep-me.txt'), 'mine');
    const refused = await ferry(['diskprep', '--staging', scene.staging, '--disk', used]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /ferry: the disk .*used is not empty \(it holds keep-me\.txt\): give an empty disk, or confirm that everything on it may be deleted \(--yes\)/);
    assert.equal(await readFile(join(used, 'keep-me.txt'), 'utf8'), 'mine');

    const inside = join(scene.staging, 'data', 'disk');
    await mkdir(inside);
    const nested = await ferry(['diskprep', '--staging', scene.staging, '--disk', inside]);
    assert.equal(nested.code, 1);
    assert.match(nested.stderr, /ferry: the disk .* is inside the staging location/);
    const around = await ferry(['diskprep', '--staging', scene.staging, '--disk', scene.dir.path]);
    assert.match(around.stderr, /contains the staging location/);
    assert.equal(scene.server.requests.filter((r) => r.method !== 'GET').length, 0);

    const ok = await ferry(['diskprep', '--staging', scene.staging, '--disk', used, '--yes']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /erasing .*used: it holds keep-me\.txt \(--yes\)/);
    await assert.rejects(readFile(join(used, 'keep-me.txt')), { code: 'ENOENT' });
    await scene.assertDisks([used]);
  }));

test('a staging location without FERRY-SEED.json, and a bad --max-bytes-per-disk, are clear errors', { timeout: 60_000 }, async () => {
  const scene = await DiskprepScene.create([1000]);
  try {
    const d1 = await scene.disk('d1');
    const bad = await ferry(['diskprep', '--staging', scene.staging, '--disk', d1, '--max-bytes-per-disk', 'lots']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /"lots" is not a size/);
    const noSeed = await ferry(['diskprep', '--staging', d1, '--disk', await scene.disk('d2')]);
    assert.equal(noSeed.code, 1);
    assert.match(noSeed.stderr, /has no FERRY-SEED\.json: is it a staging location made by `ferry seed start`\?/);
  } finally {
    await scene.cleanup();
  }
});

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
