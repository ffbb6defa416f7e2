import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../core/errors.js';
import { azureLocationsOverlap, azureSubLocation, formatAzureUrl, parseAzureUrl, type AzureLocation } from './azure-url.js';
import { azureCredentialsFromEnv, connectionStringAccount } from './azure/azure-credentials.js';

describe('parseAzureUrl', () => {
  const parsed: [string, AzureLocation][] = [
    ['azure://acct/backups', { account: 'acct', container: 'backups', prefix: '' }],
    ['azure://acct/backups/', { account: 'acct', container: 'backups', prefix: '' }],
    ['azure://acct/backups/tenant-a/v1', { account: 'acct', container: 'backups', prefix: 'tenant-a/v1' }],
    ['AZURE://devstoreaccount1/c-1/x', { account: 'devstoreaccount1', container: 'c-1', prefix: 'x' }],
  ];
  for (const [url, expected] of parsed) {
    it(`parses ${url}`, () => {
      assert.deepEqual(parseAzureUrl(url), expected);
      assert.deepEqual(parseAzureUrl(formatAzureUrl(expected)), expected, 'the canonical form parses back');
    });
  }

  const refused: [string, RegExp][] = [
    ['azure://acct', /invalid Azure container ""/],
    ['azure://Acct/backups', /storage account name/],
    ['azure://ab/backups', /storage account name/],
    ['azure://acct/Back', /invalid Azure container/],
    ['azure://acct/a--b', /invalid Azure container/],
    ['azure://acct/backups/a//b', /invalid prefix/],
    ['azure://acct/backups/../x', /invalid prefix/],
    ['azure://acct/backups/.tmp-x', /invalid prefix/],
    ['azure://acct/backups?sv=2020&sig=SECRET', /must not contain credentials/],
    ['azure://name:SECRET@acct/backups', /must not contain credentials/],
    ['azure://acct/backups#SECRET', /must not contain credentials/],
    ['azure:acct/backups', /invalid azure:\/\/ location/],
  ];
  for (const [url, message] of refused) {
    it(`refuses ${url}`, () => {
      assert.throws(() => parseAzureUrl(url), (err: Error) => err instanceof UserError && message.test(err.message) && !err.message.includes('SECRET'));
    });
  }

  it('overlap: same container and a whole-segment prefix', () => {
    const at = (prefix: string, container = 'c01', account = 'acct'): AzureLocation => ({ account, container, prefix });
    assert.ok(azureLocationsOverlap(at(''), at('a')));
    assert.ok(azureLocationsOverlap(at('a'), at('a/b')));
    assert.ok(azureLocationsOverlap(at('a/b'), at('a/b')));
    assert.ok(!azureLocationsOverlap(at('a'), at('ab')));
    assert.ok(!azureLocationsOverlap(at('a'), at('a', 'c02')));
    assert.ok(!azureLocationsOverlap(at('a'), at('a', 'c01', 'other')));
    assert.deepEqual(azureSubLocation(at(''), 'vault-1'), at('vault-1'));
    assert.deepEqual(azureSubLocation(at('t'), 'vault-1'), at('t/vault-1'));
  });
});

describe('azureCredentialsFromEnv', () => {
  const cs = 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=S3CRET;EndpointSuffix=core.windows.net';
  it('prefers the connection string, then the key', () => {
    assert.deepEqual(azureCredentialsFromEnv({ AZURE_STORAGE_CONNECTION_STRING: cs, AZURE_STORAGE_KEY: 'k' }, 'acct'), { kind: 'connection-string', connectionString: cs, account: 'acct' });
    assert.deepEqual(azureCredentialsFromEnv({ AZURE_STORAGE_KEY: 'k' }, 'acct'), { kind: 'key', key: 'k' });
  });
  it('refuses no credentials and a connection string of another account, naming no secret', () => {
    assert.throws(() => azureCredentialsFromEnv({}, 'acct'), (err: Error) => err instanceof UserError && /AZURE_STORAGE_KEY/.test(err.message));
    assert.throws(() => azureCredentialsFromEnv({ AZURE_STORAGE_CONNECTION_STRING: cs }, 'other'), (err: Error) => err instanceof UserError && !err.message.includes('S3CRET'));
  });
  it('finds the account of SAS connection strings by their endpoint', () => {
    assert.equal(connectionStringAccount('BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=x'), 'acct');
    assert.equal(connectionStringAccount('BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;SharedAccessSignature=sv=x'), 'devstoreaccount1');
    assert.equal(connectionStringAccount('SharedAccessSignature=sv=x'), undefined);
  });
});
