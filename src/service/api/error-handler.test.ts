import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnavailableError } from '../../core/errors.js';
import { toApiError } from './error-handler.js';

describe('toApiError', () => {
  it('answers a storage that outlived its retries with 503 UNAVAILABLE, without saying where the storage is', () => {
    const { status, body } = toApiError(new UnavailableError('saving data/ab/x in s3://secret-bucket/tenants/acme: connect ECONNREFUSED 10.0.0.7:443'));
    assert.equal(status, 503);
    assert.equal(body.code, 'UNAVAILABLE');
    assert.doesNotMatch(body.message, /secret-bucket|10\.0\.0\.7/);
  });
});
