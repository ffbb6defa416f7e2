import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../core/errors.js';
import { formatS3Url, parseS3Url, s3LocationsOverlap, s3SubLocation, type S3Location } from './s3-url.js';
import { s3ConfigFromEnv } from './s3/s3-config.js';

describe('parseS3Url', () => {
  const parsed: [string, S3Location][] = [
    ['s3://backups', { bucket: 'backups', prefix: '' }],
    ['s3://backups/', { bucket: 'backups', prefix: '' }],
    ['s3://my.backups-1/tenant-a/v1', { bucket: 'my.backups-1', prefix: 'tenant-a/v1' }],
    ['S3://abc/x', { bucket: 'abc', prefix: 'x' }],
  ];
  for (const [url, expected] of parsed) {
    it(`parses ${url}`, () => {
      assert.deepEqual(parseS3Url(url), expected);
      assert.deepEqual(parseS3Url(formatS3Url(expected)), expected, 'the canonical form parses back');
    });
  }

  const refused: [string, RegExp][] = [
    ['s3://', /invalid S3 bucket ""/],
    ['s3://ab', /invalid S3 bucket/],
    ['s3://Backups', /invalid S3 bucket/],
    ['s3://-backups', /invalid S3 bucket/],
    ['s3://back..ups', /invalid S3 bucket/],
    ['s3://192.168.1.1', /invalid S3 bucket/],
    ['s3://backups/a//b', /invalid prefix/],
    ['s3://backups/../x', /invalid prefix/],
    ['s3://backups/.tmp-x', /invalid prefix/],
    ['s3://backups?X-Amz-Signature=hunter2', /must not contain credentials/],
    ['s3://AKID:hunter2@backups', /must not contain credentials/],
    ['s3://backups#hunter2', /must not contain credentials/],
    ['s3://s3.example:9000/backups', /must not contain credentials or a port/],
    ['s3:backups', /invalid s3:\/\/ location/],
  ];
  for (const [url, message] of refused) {
    it(`refuses ${url}`, () => {
      assert.throws(() => parseS3Url(url), (err: Error) => err instanceof UserError && message.test(err.message) && !err.message.includes('hunter2'));
    });
  }
});

describe('S3 locations', () => {
  it('overlap in one bucket when one prefix is the other or a whole-segment prefix of it', () => {
    const at = (bucket: string, prefix: string): S3Location => ({ bucket, prefix });
    assert.ok(s3LocationsOverlap(at('b1b', ''), at('b1b', 'x')));
    assert.ok(s3LocationsOverlap(at('b1b', 'a/b'), at('b1b', 'a')));
    assert.ok(s3LocationsOverlap(at('b1b', 'a'), at('b1b', 'a')));
    assert.ok(!s3LocationsOverlap(at('b1b', 'a'), at('b1b', 'ab')));
    assert.ok(!s3LocationsOverlap(at('b1b', 'a'), at('b2b', 'a')));
    assert.deepEqual(s3SubLocation(at('b1b', ''), 'c'), at('b1b', 'c'));
    assert.deepEqual(s3SubLocation(at('b1b', 'a'), 'c'), at('b1b', 'a/c'));
  });
});

describe('s3ConfigFromEnv', () => {
  const keys = { AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'secret' };
  it('reads the standard variables; a custom endpoint from AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL', () => {
    assert.deepEqual(s3ConfigFromEnv(keys), { accessKeyId: 'id', secretAccessKey: 'secret', sessionToken: undefined, region: 'us-east-1', endpoint: undefined });
    const config = s3ConfigFromEnv({ ...keys, AWS_SESSION_TOKEN: 't', AWS_DEFAULT_REGION: 'eu-west-1', AWS_ENDPOINT_URL: 'http://127.0.0.1:7480' });
    assert.deepEqual([config.sessionToken, config.region, config.endpoint], ['t', 'eu-west-1', 'http://127.0.0.1:7480']);
    const specific = s3ConfigFromEnv({ ...keys, AWS_REGION: 'de', AWS_DEFAULT_REGION: 'eu-west-1', AWS_ENDPOINT_URL: 'http://a', AWS_ENDPOINT_URL_S3: 'https://s3.example' });
    assert.deepEqual([specific.region, specific.endpoint], ['de', 'https://s3.example']);
  });
  it('refuses missing keys and an endpoint that is not an http(s) URL, naming the variables and no secret', () => {
    for (const env of [{}, { AWS_ACCESS_KEY_ID: 'id' }, { AWS_SECRET_ACCESS_KEY: 'hunter2' }]) {
      assert.throws(() => s3ConfigFromEnv(env), (err: Error) => err instanceof UserError && /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/.test(err.message) && !err.message.includes('hunter2'));
    }
    for (const endpoint of ['s3.example', 'ftp://s3.example', 'https://u:hunter2@s3.example']) {
      assert.throws(() => s3ConfigFromEnv({ ...keys, AWS_ENDPOINT_URL_S3: endpoint }), (err: Error) => err instanceof UserError && !err.message.includes('hunter2'));
    }
  });
});
