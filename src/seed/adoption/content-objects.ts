import { isId, type Id } from '../../core/ids.js';
import type { Storage } from '../../storage/storage.js';

/**
 * The repository objects an import carries, named as docs/repository-format.md (section 2) fixes them:
 * `data/<id[0..2]>/<id>` (packs), `index/<id>`, `snapshots/<id>`. The seed layer sees storage only
 * through the Storage interface, so it spells the layout out here rather than using storage/layout.ts.
 */
export const ADOPTED_KINDS = ['pack', 'index', 'snapshot'] as const;
export type AdoptedKind = (typeof ADOPTED_KINDS)[number];

const FOLDER: Record<AdoptedKind, string> = { pack: 'data/', index: 'index/', snapshot: 'snapshots/' };

/** The object key of a pack, index file or snapshot. */
export function contentKey(kind: AdoptedKind, id: Id): string {
  return kind === 'pack' ? `data/${id.slice(0, 2)}/${id}` : `${FOLDER[kind]}${id}`;
}

/** The id in `key` when it names an object of `kind`, else undefined (temporary files, strays, other kinds). */
export function idOfContentKey(kind: AdoptedKind, key: string): Id | undefined {
  if (!key.startsWith(FOLDER[kind])) return undefined;
  const rest = key.slice(FOLDER[kind].length);
  const name = kind === 'pack' ? rest.slice(3) : rest;
  if (kind === 'pack' && rest.slice(0, 3) !== `${name.slice(0, 2)}/`) return undefined;
  return isId(name) ? name : undefined;
}

/**
 * Every content-named object of `kind` in `storage` (key → size); strays (temporary files, foreign names)
 * are left out, as the service refuses them in an import.
 */
export async function listContentObjects(storage: Storage, kind: AdoptedKind): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  await storage.list(FOLDER[kind], (info) => {
    if (idOfContentKey(kind, info.key) !== undefined) found.set(info.key, info.size);
  });
  return found;
}
