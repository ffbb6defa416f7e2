import { bytePath } from '../fs/byte-path.js';

/**
 * The backup paths as a tree of path components, so the snapshot holds each under its absolute name
 * and shared ancestors appear once. A path below another backup path is covered by it and dropped.
 */
export class PathTrie {
  isTarget = false;
  private readonly kids = new Map<string, PathTrie>();

  constructor(absolutePaths: readonly string[] = []) {
    for (const path of absolutePaths) this.add(path.split('/').filter((part) => part.length > 0));
  }

  private add(parts: string[]): void {
    if (this.isTarget) return;
    const [first, ...rest] = parts;
    if (first === undefined) {
      this.isTarget = true;
      this.kids.clear();
      return;
    }
    let kid = this.kids.get(first);
    if (!kid) {
      kid = new PathTrie();
      this.kids.set(first, kid);
    }
    kid.add(rest);
  }

  /** Children in byte order of their names. */
  children(): [Buffer, PathTrie][] {
    return [...this.kids].map(([name, kid]): [Buffer, PathTrie] => [bytePath(name), kid]).sort((a, b) => Buffer.compare(a[0], b[0]));
  }
}
