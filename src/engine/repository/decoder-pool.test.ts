import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { IntegrityError } from '../../core/errors.js';
import { idFromBytes } from '../../core/ids.js';
import { BlobCodec } from '../pack/blob-codec.js';
import { DecoderPool } from './decoder-pool.js';

const key = randomBytes(32);
const codec = new BlobCodec(key);
const pool = new DecoderPool(2, { encryptionKey: key });
after(() => pool.close());

function encoded(plaintext: Buffer) {
  const id = idFromBytes(randomBytes(32));
  return { id, blob: codec.encode('data', id, plaintext) };
}

describe('DecoderPool', () => {
  it('decodes compressed and raw blobs on its workers, many at once', async () => {
    const inputs = [Buffer.alloc(300_000, 'compressible '), randomBytes(200_000), randomBytes(70_000)];
    const results = await Promise.all(
      inputs.map((plaintext) => {
        const { id, blob } = encoded(plaintext);
        return pool.decode('data', id, Buffer.from(blob.sealed), blob.compression, blob.rawLength);
      }),
    );
    results.forEach((data, i) => assert.ok(data.equals(inputs[i]!)));
  });

  it('accepts a view into a larger buffer (copied, not transferred)', async () => {
    const plaintext = randomBytes(100_000);
    const { id, blob } = encoded(plaintext);
    const larger = Buffer.concat([Buffer.alloc(7), blob.sealed, Buffer.alloc(9)]);
    const view = larger.subarray(7, 7 + blob.sealed.length);
    assert.ok((await pool.decode('data', id, view, blob.compression, blob.rawLength)).equals(plaintext));
    assert.equal(larger.length, blob.sealed.length + 16, 'the caller keeps its buffer');
  });

  it('rejects a damaged blob with IntegrityError, and a blob under another id', async () => {
    const { id, blob } = encoded(randomBytes(80_000));
    const damaged = Buffer.from(blob.sealed);
    damaged[1000]! ^= 1;
    await assert.rejects(pool.decode('data', id, damaged, blob.compression, blob.rawLength), IntegrityError);
    const other = idFromBytes(randomBytes(32));
    await assert.rejects(pool.decode('data', other, Buffer.from(blob.sealed), blob.compression, blob.rawLength), IntegrityError);
    await assert.rejects(pool.decode('tree', id, Buffer.from(blob.sealed), blob.compression, blob.rawLength), IntegrityError);
  });
});
