import { isId, type Id } from '../core/ids.js';

/** The kinds of object a repository keeps, and the folder each lives in. */
export type ObjectKind = 'config' | 'key' | 'lock' | 'snapshot' | 'index' | 'pack';

const FOLDERS: Record<Exclude<ObjectKind, 'config'>, string> = {
  key: 'keys',
  lock: 'locks',
  snapshot: 'snapshots',
  index: 'index',
  pack: 'data',
};

export const CONFIG_KEY = 'config';

/** The folder prefix (with trailing `/`) under which objects of `kind` are listed. */
export function folderOf(kind: Exclude<ObjectKind, 'config'>): string {
  return `${FOLDERS[kind]}/`;
}

/** The object key of a repository object: `data/ab/abcd…` for packs, `<folder>/<id>` otherwise. */
export function objectKey(kind: Exclude<ObjectKind, 'config'>, id: Id): string {
  if (kind === 'pack') return `data/${id.slice(0, 2)}/${id}`;
  return `${FOLDERS[kind]}/${id}`;
}

/** The id in an object key of `kind`, or undefined when the key is not such an object (temp files, strays). */
export function idOfKey(kind: Exclude<ObjectKind, 'config'>, key: string): Id | undefined {
  const prefix = folderOf(kind);
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length);
  const name = kind === 'pack' ? rest.slice(3) : rest;
  if (kind === 'pack' && rest.slice(0, 3) !== `${name.slice(0, 2)}/`) return undefined;
  return isId(name) ? name : undefined;
}
