import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CHUNKER_PARAMS } from '../chunker/fastcdc.js';
import { DEFAULT_COMPRESSION_LEVEL } from '../compress/zstd.js';
import { assertIntegrityError } from '../testing/arbitraries.js';
import { DEFAULT_LARGE_FILE_CHUNKING, DEFAULT_PACK_SIZE, newConfig, REPOSITORY_VERSION, validateConfig, type ConfigOptions } from './config.js';

const SMALL_CHUNKS = { minSize: 256, avgSize: 1024, maxSize: 8192 };
const VALID = { version: 1, id: 'e'.repeat(64), chunker: SMALL_CHUNKS, compressionLevel: 3, packSize: 4 * 1024 * 1024 };

describe('newConfig', () => {
  it('uses the defaults and a random 32-byte id', () => {
    const config = newConfig();
    assert.equal(config.version, REPOSITORY_VERSION);
    assert.match(config.id, /^[0-9a-f]{64}$/);
    assert.deepEqual(config.chunker, DEFAULT_CHUNKER_PARAMS);
    assert.equal(config.compressionLevel, DEFAULT_COMPRESSION_LEVEL);
    assert.equal(config.packSize, DEFAULT_PACK_SIZE);
    assert.deepEqual(config.largeFiles, DEFAULT_LARGE_FILE_CHUNKING);
    assert.notEqual(newConfig().id, config.id);
  });

  const accepted: [string, ConfigOptions][] = [
    ['small chunks', { chunker: SMALL_CHUNKS }],
    ['compression level 1', { compressionLevel: 1 }],
    ['compression level 19', { compressionLevel: 19 }],
    ['the smallest pack size, 64 KiB', { packSize: 64 * 1024 }],
    ['the largest pack size, 512 MiB', { packSize: 512 * 1024 * 1024 }],
    ['large-file chunking from 1 byte', { largeFiles: { minFileSize: 1, chunker: SMALL_CHUNKS } }],
  ];
  for (const [name, options] of accepted) {
    it(`accepts ${name}`, () => {
      const config = newConfig(options);
      for (const [key, value] of Object.entries(options)) assert.deepEqual(config[key as keyof ConfigOptions], value);
      assert.deepEqual(validateConfig(JSON.parse(JSON.stringify(config))), config);
    });
  }

  const refused: [string, ConfigOptions][] = [
    ['compression level 0', { compressionLevel: 0 }],
    ['compression level 20', { compressionLevel: 20 }],
    ['a fractional compression level', { compressionLevel: 2.5 }],
    ['a pack size below 64 KiB', { packSize: 64 * 1024 - 1 }],
    ['a pack size above 512 MiB', { packSize: 512 * 1024 * 1024 + 1 }],
    ['a fractional pack size', { packSize: 1e6 + 0.5 }],
    ['invalid chunker parameters', { chunker: { minSize: 1024, avgSize: 1000, maxSize: 8192 } }],
    ['invalid large-file chunker parameters', { largeFiles: { minFileSize: 1, chunker: { minSize: 8, avgSize: 16, maxSize: 32 } } }],
    ['large-file chunking from 0 bytes', { largeFiles: { minFileSize: 0, chunker: SMALL_CHUNKS } }],
  ];
  for (const [name, options] of refused) {
    it(`refuses ${name}`, () => assertIntegrityError(() => newConfig(options)));
  }

  it('leaves large-file chunking out when asked to (largeFiles: null)', () => {
    const config = newConfig({ largeFiles: null });
    assert.equal('largeFiles' in config, false);
    assert.deepEqual(validateConfig(JSON.parse(JSON.stringify(config))), config);
  });
});

describe('validateConfig', () => {
  it('accepts a valid config, returning it', () => assert.equal(validateConfig(VALID), VALID));

  const invalid: [string, unknown][] = [
    ['undefined', undefined],
    ['null', null],
    ['a string', 'config'],
    ['version 0', { ...VALID, version: 0 }],
    ['version 2', { ...VALID, version: 2 }],
    ['version "1"', { ...VALID, version: '1' }],
    ['no id', { ...VALID, id: undefined }],
    ['a short id', { ...VALID, id: 'e'.repeat(63) }],
    ['an uppercase id', { ...VALID, id: 'E'.repeat(64) }],
    ['an id that is not a string', { ...VALID, id: 5 }],
    ['no chunker', { ...VALID, chunker: undefined }],
    ['chunker sizes out of order', { ...VALID, chunker: { minSize: 8192, avgSize: 1024, maxSize: 256 } }],
    ['chunker sizes as strings', { ...VALID, chunker: { minSize: '256', avgSize: '1024', maxSize: '8192' } }],
    ['large-file chunking null', { ...VALID, largeFiles: null }],
    ['large-file chunking without a chunker', { ...VALID, largeFiles: { minFileSize: 1 } }],
    ['large-file chunking from a fractional size', { ...VALID, largeFiles: { minFileSize: 1.5, chunker: SMALL_CHUNKS } }],
    ['no compression level', { ...VALID, compressionLevel: undefined }],
    ['compression level 0', { ...VALID, compressionLevel: 0 }],
    ['compression level 20', { ...VALID, compressionLevel: 20 }],
    ['no pack size', { ...VALID, packSize: undefined }],
    ['a pack size as a string', { ...VALID, packSize: '4194304' }],
    ['a pack size below 64 KiB', { ...VALID, packSize: 1024 }],
    ['a pack size above 512 MiB', { ...VALID, packSize: 2 ** 30 }],
  ];
  for (const [name, value] of invalid) {
    it(`refuses ${name}`, () => assertIntegrityError(() => validateConfig(value)));
  }
});
