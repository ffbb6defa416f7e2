import { shortId, type Id } from '../../core/ids.js';
import { folderOf, idOfKey, objectKey } from '../../storage/layout.js';
import type { BlobLocation } from '../index/master-index.js';
import { MasterIndex } from '../index/master-index.js';
import { BlobCodec } from '../pack/blob-codec.js';
import type { BlobType, PackedBlob } from '../pack/pack-format.js';
import type { Repository } from '../repository/repository.js';

/**
 * Decides whether a blob a snapshot needs is still there, the way `ferry check` does: it must be in
 * the index, in a pack that exists with the size the index expects. With `readData` the data packs are
 * also downloaded (each once) and every blob the index places in them is decoded and authenticated.
 * Every blob found bad is remembered, so {@link soundIndex} can leave it out.
 */
export class BlobHealth {
  private readonly stored: ReadonlyMap<Id, number>;
  private readonly codec: BlobCodec;
  private readonly bad = new Set<Id>();
  private readonly packVerdicts = new Map<Id, Promise<ReadonlyMap<Id, string>>>();
  private byPack: Map<Id, BlobLocation[]> | undefined;

  private constructor(
    private readonly repo: Repository,
    stored: ReadonlyMap<Id, number>,
    private readonly readData: boolean,
  ) {
    this.stored = stored;
    this.codec = new BlobCodec(repo.key.encryptionKey);
  }

  /** Lists the packs in storage once; `repo.index` must be loaded. */
  static async create(repo: Repository, readData: boolean): Promise<BlobHealth> {
    const stored = new Map<Id, number>();
    await repo.storage.list(folderOf('pack'), (info) => {
      const id = idOfKey('pack', info.key);
      if (id) stored.set(id, info.size);
    });
    return new BlobHealth(repo, stored, readData);
  }

  /** What is wrong with the pack (missing, or not the size its index entries add up to), or undefined. */
  packProblem(packId: Id): string | undefined {
    const size = this.stored.get(packId);
    if (size === undefined) return `pack ${shortId(packId)} is missing`;
    const expected = this.repo.index.packs().get(packId);
    if (expected !== undefined && size !== expected) return `pack ${shortId(packId)} has ${size} bytes, the index says ${expected}`;
    return undefined;
  }

  /** Why the blob cannot be read, or undefined when it is usable. Never throws for damage. */
  async problem(type: BlobType, id: Id): Promise<string | undefined> {
    const found = await this.diagnose(type, id);
    if (found) this.bad.add(id);
    return found;
  }

  /** Records a blob found bad elsewhere (a tree that did not load or decode). */
  markBad(id: Id): void {
    this.bad.add(id);
  }

  /** Indexed packs that are missing or of the wrong size, sorted. */
  badIndexedPacks(): Id[] {
    return [...this.repo.index.packs().keys()].filter((id) => this.packProblem(id) !== undefined).sort();
  }

  /** Packs in storage that no index file names. */
  unindexedPacks(): number {
    let count = 0;
    for (const id of this.stored.keys()) if (!this.repo.index.hasPack(id)) count++;
    return count;
  }

  /**
   * A copy of the index without the blobs known to be bad and without packs that are missing or of
   * the wrong size, so a writer built on it stores such blobs again instead of deduplicating against them.
   */
  soundIndex(): MasterIndex {
    const byPack = new Map<Id, PackedBlob[]>();
    for (const location of this.repo.index.entries()) {
      if (this.bad.has(location.id) || this.packProblem(location.packId)) continue;
      const list = byPack.get(location.packId) ?? [];
      list.push(location);
      byPack.set(location.packId, list);
    }
    const index = new MasterIndex();
    for (const [packId, blobs] of byPack) index.addPack(packId, blobs);
    return index;
  }

  private async diagnose(type: BlobType, id: Id): Promise<string | undefined> {
    const location = this.repo.index.find(type, id);
    if (!location) return `${type} blob ${shortId(id)} is not in the index`;
    const packProblem = this.packProblem(location.packId);
    if (packProblem) return packProblem;
    if (!this.readData || type !== 'data') return undefined;
    let verdicts = this.packVerdicts.get(location.packId);
    if (!verdicts) {
      verdicts = this.verifyPack(location.packId);
      this.packVerdicts.set(location.packId, verdicts);
    }
    return (await verdicts).get(id);
  }

  /** Downloads a pack and decodes every blob the index places in it; returns the failures by blob id. */
  private async verifyPack(packId: Id): Promise<ReadonlyMap<Id, string>> {
    const blobs = this.locationsIn(packId);
    const failures = new Map<Id, string>();
    let bytes: Buffer;
    try {
      bytes = await this.repo.storage.load(objectKey('pack', packId));
    } catch (err) {
      for (const blob of blobs) failures.set(blob.id, `pack ${shortId(packId)} cannot be read: ${(err as Error).message}`);
      return failures;
    }
    for (const blob of blobs) {
      try {
        if (blob.offset + blob.length > bytes.length) throw new Error('it lies beyond the end of the pack');
        this.codec.decode(blob.type, blob.id, bytes.subarray(blob.offset, blob.offset + blob.length), blob.compression, blob.rawLength);
      } catch (err) {
        failures.set(blob.id, `${blob.type} blob ${shortId(blob.id)} in pack ${shortId(packId)} is damaged: ${(err as Error).message}`);
      }
    }
    return failures;
  }

  private locationsIn(packId: Id): BlobLocation[] {
    if (!this.byPack) {
      this.byPack = new Map();
      for (const location of this.repo.index.entries()) {
        const list = this.byPack.get(location.packId) ?? [];
        list.push(location);
        this.byPack.set(location.packId, list);
      }
    }
    return this.byPack.get(packId) ?? [];
  }
}
