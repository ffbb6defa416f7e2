/**
 * The native addon (native/ferry_fs.c, built by `npm ci` into build/Release/ferry_fs.node) for the calls in
 * src/os that are optimizations only: where it does not load, they fall back to node:fs.
 */
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's calls used from src/os (src/engine/os/posix-extras.ts describes the rest). */
export interface OsAddon {
  /** `hash` (from sha256New) is updated with the bytes on the thread pool before they are written. */
  pwriteDirect: (fd: number, bytes: Uint8Array, position: number, hash?: NativeSha256) => Promise<number>;
  alignmentOf: (bytes: Uint8Array) => number;
  /** Absent in addons built before them. */
  sha256New?: () => NativeSha256;
  sha256Digest?: (hash: NativeSha256) => Buffer;
  /** See cached-read.ts: bytes copied from the page cache, or -1 when the first one is not there. Absent in older addons. */
  preadCached?: (fd: number, target: Uint8Array, offset: number, length: number, position: number) => number;
  /** Updates `hash` with the bytes on the thread pool; one update at a time per state, awaited, in order. */
  sha256Update?: (hash: NativeSha256, bytes: Uint8Array) => Promise<void>;
}

/** A SHA-256 state held by the addon (an opaque external). */
export type NativeSha256 = { readonly __nativeSha256: unique symbol };

// Two levels below the package root, as src/os/native-addon.ts (tsx) and as dist/os/native-addon.js (tsc).
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where `npm ci` builds the addon (binding.gyp at the package root). */
export const ADDON_PATH = join(PACKAGE_ROOT, 'build', 'Release', 'ferry_fs.node');

let addon: OsAddon | null | undefined;

/** The addon, or null when it cannot be loaded or was built before these calls (loaded once). */
export function optionalAddon(): OsAddon | null {
  if (addon !== undefined) return addon;
  try {
    const loaded = createRequire(import.meta.url)(ADDON_PATH) as Partial<OsAddon>;
    addon = typeof loaded.pwriteDirect === 'function' ? (loaded as OsAddon) : null;
  } catch {
    addon = null;
  }
  return addon;
}
