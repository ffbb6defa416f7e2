/**
 * File system paths as raw bytes. File names may hold any byte but `/` and NUL, including bytes that
 * are not UTF-8, so the engine keeps paths as Buffers and hands them to node:fs as they are.
 */
const SLASH = Buffer.from('/');

export function bytePath(path: string): Buffer {
  return Buffer.from(path, 'utf8');
}

/** `dir/name`, without doubling the slash when `dir` is `/`. */
export function joinBytePath(dir: Buffer, name: Buffer): Buffer {
  return dir.length > 0 && dir[dir.length - 1] === 0x2f ? Buffer.concat([dir, name]) : Buffer.concat([dir, SLASH, name]);
}

/** A printable form for messages; bytes that are not UTF-8 show as escapes. */
export function displayPath(path: Buffer): string {
  const text = path.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(path)) return text;
  let out = '';
  for (const byte of path) out += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  return out;
}
