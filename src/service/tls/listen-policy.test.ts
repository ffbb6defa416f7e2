import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../core/errors.js';
import { checkListenPolicy, isLoopbackHost } from './listen-policy.js';

describe('listen policy: plain HTTP only where no other machine can reach it', () => {
  it('knows loopback from everything else', () => {
    const cases: [string, boolean][] = [
      ['127.0.0.1', true],
      ['127.8.9.10', true],
      ['::1', true],
      ['0:0:0:0:0:0:0:1', true],
      ['::ffff:127.0.0.1', true],
      ['localhost', true],
      ['LOCALHOST', true],
      ['0.0.0.0', false],
      ['::', false],
      ['10.0.0.1', false],
      ['192.168.1.20', false],
      ['128.0.0.1', false],
      ['::2', false],
      ['fe80::1', false],
      ['::ffff:10.0.0.1', false],
      ['backup.example.com', false],
      ['localhost.example.com', false],
      ['127.1', false], // a name to us: the system resolves it, we cannot vouch for it
    ];
    for (const [host, loopback] of cases) assert.equal(isLoopbackHost(host), loopback, host);
  });

  it('refuses plain HTTP off loopback unless --insecure-http, never with TLS', () => {
    assert.throws(() => checkListenPolicy('0.0.0.0', false, false), (err) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /^refusing plain HTTP on 0\.0\.0\.0, .*give --tls-cert FILE --tls-key FILE, or --insecure-http/);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
    assert.doesNotThrow(() => checkListenPolicy('0.0.0.0', false, true));
    assert.doesNotThrow(() => checkListenPolicy('0.0.0.0', true, false));
    assert.doesNotThrow(() => checkListenPolicy('127.0.0.1', false, false));
    assert.doesNotThrow(() => checkListenPolicy('::1', false, false));
  });
});
