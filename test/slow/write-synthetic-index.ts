// Writes part of a synthetic index into a file-system repository (one process per core, so 20 million
// entries take seconds): node --import tsx write-synthetic-index.ts REPO KEY_HEX BLOBS FROM TO
import { writeSyntheticIndex } from '../../src/engine/testing/synthetic-index.js';
import { FsStorage } from '../../src/storage/fs/fs-storage.js';

const [repo, keyHex, blobs, from, to] = process.argv.slice(2);
await writeSyntheticIndex(new FsStorage(repo!), Buffer.from(keyHex!, 'hex'), { blobs: Number(blobs), compress: true }, Number(from), Number(to));
