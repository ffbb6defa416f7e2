/**
 * Measures FastCdc throughput with the default parameters on random (incompressible) data and on
 * generated English-like text. Not part of the test suite; run it by hand after touching the hot path:
 *
 *   node --import tsx src/engine/chunker/bench-chunker.ts [MiB=256] [rounds=5]
 *
 * "MB/s" counts input bytes (1 MB = 10^6 bytes); "scanned" counts only the bytes the gear hash actually
 * visits, since the first minSize bytes of every chunk are skipped.
 */
import { randomFillSync } from 'node:crypto';
import { chunkBuffer, DEFAULT_CHUNKER_PARAMS, FastCdc } from './fastcdc.js';
import { gearTableFromSecret } from './gear-table.js';

const sizeMiB = Number(process.argv[2] ?? 256);
const rounds = Number(process.argv[3] ?? 5);
const size = sizeMiB * 1024 * 1024;

function randomData(): Buffer {
  const buf = Buffer.allocUnsafe(size);
  randomFillSync(buf);
  return buf;
}

// A fixed-seed word salad: compressible, low-entropy input whose boundaries come from repeated words.
function textData(): Buffer {
  const words = ('the of and to in is that for it as with was on be by this are from or at an which not have ' +
    'backup chunk repository snapshot restore archive storage deduplicate encrypted index pack tree key ' +
    'offline seeding disk manifest ingest adoption throughput latency boundary window gear hash mask')
    .split(' ')
    .map((w) => Buffer.from(w));
  const buf = Buffer.allocUnsafe(size);
  let seed = 0x9e3779b9;
  let pos = 0;
  while (pos < size) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    const word = words[(seed >>> 0) % words.length]!;
    pos += word.copy(buf, pos);
    if (pos < size) buf[pos++] = (seed & 0xf00) === 0 ? 0x0a : 0x20;
  }
  return buf;
}

function measure(name: string, data: Buffer, cdc: FastCdc): void {
  const rates: number[] = [];
  let chunks = 0;
  let scanned = 0;
  for (let round = 0; round < rounds; round++) {
    chunks = 0;
    scanned = 0;
    const t0 = process.hrtime.bigint();
    for (const [, length] of chunkBuffer(cdc, data)) {
      chunks++;
      scanned += Math.max(0, length - cdc.minSize);
    }
    rates.push(data.length / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e6);
  }
  const sorted = [...rates].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  console.log(
    `${name.padEnd(7)} ${sizeMiB} MiB: median ${median.toFixed(0)} MB/s, best ${sorted.at(-1)!.toFixed(0)} MB/s ` +
      `(scanned ${((median * scanned) / data.length).toFixed(0)} MB/s), ${chunks} chunks, ` +
      `avg ${(data.length / chunks / 1024).toFixed(0)} KiB; rounds: ${rates.map((r) => r.toFixed(0)).join(' ')}`,
  );
}

const cdc = new FastCdc(DEFAULT_CHUNKER_PARAMS, gearTableFromSecret(Buffer.from('ferry bench secret')));
measure('random', randomData(), cdc);
measure('text', textData(), cdc);
