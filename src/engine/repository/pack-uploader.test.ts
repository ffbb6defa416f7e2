import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { Id } from '../../core/ids.js';
import { MemoryStorage } from '../../storage/memory-storage.js';
import type { SaveOptions } from '../../storage/storage.js';
import { Compression } from '../compress/zstd.js';
import { MasterIndex } from '../index/master-index.js';
import { PackUploader } from './pack-uploader.js';

/** A store that takes a while to save, and notes the buffer each pack came in. */
class SlowStorage extends MemoryStorage {
  readonly buffers = new Set<ArrayBufferLike>();
  override async save(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options?: SaveOptions): Promise<void> {
    if (data instanceof Uint8Array) this.buffers.add(data.buffer);
    await sleep(5);
    return super.save(key, data, options);
  }
}

describe('PackUploader', () => {
  it('seals blobs in place (addSealed) and reuses the buffers of its saved data packs: two buffers (one filling while one is saved, or two being saved), however many producers', async () => {
    const storage = new SlowStorage();
    const uploader = new PackUploader(storage, randomBytes(32), new MasterIndex(), 256 * 1024, () => undefined);
    // Four producers at once, as a backup's file reads are: each waits for room before it encodes a blob.
    const producer = async (first: number): Promise<void> => {
      for (let i = first; i < 40; i += 4) {
        const id = createHash('sha256').update(`blob ${i}`).digest('hex') as Id;
        assert.ok(uploader.reserve(id));
        const body = randomBytes(64 * 1024);
        for (let wait = uploader.roomFor('data', body.length); wait; wait = uploader.roomFor('data', body.length)) await wait;
        await uploader.addSealed({ type: 'data', id, compression: Compression.None, rawLength: body.length, length: body.length }, (target, offset) => body.copy(target, offset));
      }
    };
    await Promise.all([0, 1, 2, 3].map(producer));
    await uploader.flush();
    const keys: string[] = [];
    await storage.list('data/', (info) => void keys.push(info.key));
    assert.ok(keys.length >= 9, `${keys.length} packs of ~256 KiB for 40 blobs of 64 KiB`);
    assert.ok(storage.buffers.size <= 2, `${storage.buffers.size} pack buffers for ${keys.length} packs`);
    // A buffer reused too early would have changed a pack while it was being saved: every pack is still its name's bytes.
    for (const key of keys) assert.equal(createHash('sha256').update(await storage.load(key)).digest('hex'), key.split('/').pop());
  });
});
