import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { UserError } from '../core/errors.js';
import { openStorage } from './storage-location.js';

describe('openStorage', () => {
  const VAULT = 'https://ferry.example:8420/v1/vaults/v-1';
  // [location, options, expected location of the storage]
  const opened: [string, Parameters<typeof openStorage>[1], string][] = [
    ['/srv/repo', {}, '/srv/repo'],
    ['fs:relative/repo', {}, resolve('relative/repo')],
    [VAULT, { env: { FERRY_TOKEN: 'from-env' } }, VAULT],
    [`${VAULT}/`, { token: 'from-option' }, VAULT],
    ['http://127.0.0.1:8420/v1/vaults/v-1', { token: 'from-option', env: { FERRY_TOKEN: 'from-env' } }, 'http://127.0.0.1:8420/v1/vaults/v-1'],
    ['azure://account/container/a/b/', { env: { AZURE_STORAGE_KEY: 'a2V5' } }, 'azure://account/container/a/b'],
    ['s3://bucket.example/a/b/', { env: { AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'key' } }, 's3://bucket.example/a/b'],
  ];
  for (const [location, options, expected] of opened) {
    it(`opens ${location}`, async () => {
      const storage = await openStorage(location, options);
      assert.equal(storage.properties.location, expected);
      await storage.close();
    });
  }

  const refused: [string | undefined, Parameters<typeof openStorage>[1], RegExp][] = [
    [undefined, {}, /pass -r REPO/],
    ['fs:', {}, /path is empty/],
    [VAULT, {}, /set FERRY_TOKEN/],
    [VAULT, { env: { FERRY_TOKEN: '' } }, /set FERRY_TOKEN/],
    ['https://me:secret@ferry.example/v1/vaults/v-1', { token: 't' }, /must not contain credentials/],
    ['s3://bucket/prefix', {}, /set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/],
    ['s3://id:secret@bucket/prefix', { env: { AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'key' } }, /must not contain credentials/],
    ['s3://bucket/prefix', { env: { AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'key', AWS_ENDPOINT_URL_S3: 'https://u:secret@s3.example' } }, /without credentials/],
    ['gs://bucket/prefix', {}, /scheme "gs:" is not supported/],
    ['azure://account/container', {}, /set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY/],
    ['azure://account/container?sig=secret', { env: { AZURE_STORAGE_KEY: 'k' } }, /must not contain credentials/],
  ];
  for (const [location, options, message] of refused) {
    it(`refuses ${String(location)} with a UserError`, async () => {
      await assert.rejects(openStorage(location, options), (err: Error) => err instanceof UserError && message.test(err.message) && !err.message.includes('secret'));
    });
  }
});
