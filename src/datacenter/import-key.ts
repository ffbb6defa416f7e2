/**
 * Which staging paths the import takes: content-named objects of the repository layout, i.e.
 * `data/<id[0..2]>/<id>`, `index/<id>` and `snapshots/<id>` where `<id>` is the SHA-256 of the bytes
 * (docs/repository-format.md, section 2; the service checks every saved object against its name).
 */

const CONTENT_NAMED = /^(?:data\/([0-9a-f]{2})\/([0-9a-f]{64})|(?:index|snapshots)\/([0-9a-f]{64}))$/;

/**
 * Why the import cannot take the file at `path` whose manifest SHA-256 is `sha256`, or undefined when
 * it can: the key must be content-named and its name must be that SHA-256.
 */
export function importKeyProblem(path: string, sha256: string): string | undefined {
  const match = CONTENT_NAMED.exec(path);
  if (!match) return `${path} is not a content-named object under data/, index/ or snapshots/: the import takes no other key`;
  const id = match[2] ?? match[3]!;
  if (match[1] !== undefined && match[1] !== id.slice(0, 2)) return `${path} is in the wrong data/ folder for its name`;
  if (id !== sha256) return `${path} is named for SHA-256 ${id}, but the manifest says its bytes have ${sha256}`;
  return undefined;
}
