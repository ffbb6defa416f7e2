/** An absolute path in a snapshot, as raw bytes. */
export type FolderPath = Uint8Array;

/** What to do with one entry of the walk: print it, and walk into it when it is a folder. */
export interface Visit {
  readonly list: boolean;
  readonly descend: boolean;
}

/**
 * Which entries `ls SNAPSHOT FOLDER…` lists, as restic decides: without folders everything; with them,
 * each folder itself and its direct entries (a file given as a folder: itself), or with `recursive`
 * everything below. Paths are compared as bytes, whole components at a time (`/a/b` is not inside `/a/bc`).
 */
export class ListingFilter {
  private readonly folders: Buffer[];
  private readonly found: boolean[];

  constructor(
    private readonly given: readonly FolderPath[],
    private readonly recursive: boolean,
  ) {
    this.folders = given.map(normalize);
    // The root is in every snapshot, though no entry stands for it.
    this.found = this.folders.map((f) => f.length === 0);
  }

  /** Call for every entry met, parents before children; `path` is `/`-joined with no trailing slash. */
  visit(path: Buffer): Visit {
    if (this.folders.length === 0) return { list: true, descend: true };
    let list = false;
    let descend = false;
    for (const [i, folder] of this.folders.entries()) {
      if (path.equals(folder)) this.found[i] = true;
      const inFolder = within(path, folder);
      if (this.recursive ? inFolder : path.equals(folder) || parentOf(path).equals(folder)) list = true;
      if (within(folder, path) || (this.recursive && inFolder)) descend = true;
    }
    return { list, descend };
  }

  /** The folders (as given) that no entry matched, once the walk is over. */
  notFound(): FolderPath[] {
    return this.given.filter((_, i) => !this.found[i]);
  }
}

/** Repeated slashes collapsed and trailing ones dropped; `/` becomes the empty root. */
function normalize(path: FolderPath): Buffer {
  const parts = Buffer.from(path).toString('latin1').split('/').filter((p) => p !== '');
  return parts.length === 0 ? Buffer.alloc(0) : Buffer.from(`/${parts.join('/')}`, 'latin1');
}

/** True when `path` is `folder` or below it. */
function within(path: Buffer, folder: Buffer): boolean {
  if (folder.length === 0 || path.equals(folder)) return true;
  return path.length > folder.length && path[folder.length] === 0x2f && path.subarray(0, folder.length).equals(folder);
}

function parentOf(path: Buffer): Buffer {
  return path.subarray(0, path.lastIndexOf(0x2f));
}
