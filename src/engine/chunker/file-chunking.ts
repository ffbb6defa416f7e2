import { FastCdc, type ChunkerParams } from './fastcdc.js';

/** Picks the chunker for a file by its size: one parameter set for most files, another for large ones. */
export class FileChunking {
  private readonly normal: FastCdc;
  private readonly large: FastCdc | undefined;

  /**
   * @param gear the repository's gear table (gearTableFromSecret); shared by both chunkers.
   * @param largeFiles when given, files of at least `minFileSize` bytes use its parameters.
   * @throws RangeError on invalid parameters.
   */
  constructor(
    params: ChunkerParams,
    gear: Uint32Array,
    private readonly largeFiles?: { readonly minFileSize: number; readonly chunker: ChunkerParams },
  ) {
    this.normal = new FastCdc(params, gear);
    this.large = largeFiles ? new FastCdc(largeFiles.chunker, gear) : undefined;
  }

  /** The chunker for a file of `size` bytes (its size when the backup looked at it). */
  forFileSize(size: number): FastCdc {
    return this.large && size >= this.largeFiles!.minFileSize ? this.large : this.normal;
  }
}
