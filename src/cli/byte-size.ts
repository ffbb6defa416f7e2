const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * A byte count as people write it: `123456`, `500GB`, `2TB` (decimal, as disks are sold) or `512MiB`,
 * `2TiB` (binary). RangeError saying what is accepted otherwise.
 */
export function parseByteSize(text: string): number {
  const match = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) throw new RangeError(`"${text}" is not a size: give bytes, or e.g. 500GB, 2TB, 512MiB`);
  const bytes = Math.floor(Number(match[1]) * unit);
  if (!(bytes > 0) || !Number.isSafeInteger(bytes)) throw new RangeError(`"${text}" is not a positive size`);
  return bytes;
}
