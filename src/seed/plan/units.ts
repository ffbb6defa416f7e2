/** Parsers for the sizes and rates `ferry seed plan` takes. Decimal units as disks and links are sold. */

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12, p: 1e15, pb: 1e15, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/** `500GB`, `8TB`, `2TiB`, `123456` (bytes) → bytes; RangeError saying what is accepted otherwise. */
export function parseSize(text: string): number {
  const match = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) throw new RangeError(`"${text}" is not a size: give e.g. 500GB, 8TB or 2TiB`);
  const bytes = Number(match[1]) * unit;
  if (!(bytes > 0) || !Number.isFinite(bytes)) throw new RangeError(`"${text}" is not a positive size`);
  return Math.round(bytes);
}

const RATE_UNITS: Record<string, number> = {
  'bit/s': 1 / 8, bps: 1 / 8, kbit: 1e3 / 8, kbps: 1e3 / 8, 'kbit/s': 1e3 / 8, mbit: 1e6 / 8, mbps: 1e6 / 8, 'mbit/s': 1e6 / 8,
  gbit: 1e9 / 8, gbps: 1e9 / 8, 'gbit/s': 1e9 / 8, 'b/s': 1, 'kb/s': 1e3, 'mb/s': 1e6, 'gb/s': 1e9,
};

/** A link rate: `20Mbit`, `100Mbps`, `1Gbit/s` (bits) or `5MB/s` (bytes) → bytes per second. */
export function parseRate(text: string): number {
  const match = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z/]+)\s*$/i.exec(text);
  // Bits are spelled bit/bps, bytes B/s: so the unit can be read case-insensitively.
  const unit = match ? RATE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) throw new RangeError(`"${text}" is not a rate: give e.g. 20Mbit (bits per second) or 5MB/s (bytes per second)`);
  const rate = Number(match[1]) * unit;
  if (!(rate > 0)) throw new RangeError(`"${text}" is not a positive rate`);
  return rate;
}
