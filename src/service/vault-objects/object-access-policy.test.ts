import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  claimedSha256,
  decideObjectAccess,
  isLockKey,
  planUpload,
  type ObjectAccess,
  type ObjectOperation,
} from './object-access-policy.js';

const ID = 'ab'.repeat(32);
const KEYS = {
  config: 'config',
  pack: `data/ab/${ID}`,
  index: `index/${ID}`,
  snapshot: `snapshots/${ID}`,
  keySlot: `keys/${ID}`,
  lock: `locks/${ID}`,
  stray: 'notes/readme',
  packOutsideFanout: `data/cd/${ID}`,
  upperCaseId: `snapshots/${ID.toUpperCase()}`,
  deeper: `index/${ID}/x`,
} as const;
type KeyName = keyof typeof KEYS;

const OPERATIONS: readonly ObjectOperation[] = ['read', 'stat', 'list', 'create', 'overwrite', 'remove'];

describe('claimedSha256', () => {
  const cases: [KeyName, string | undefined][] = [
    ['config', undefined],
    ['pack', ID],
    ['index', ID],
    ['snapshot', ID],
    ['keySlot', ID],
    ['lock', ID],
    ['stray', undefined],
    ['packOutsideFanout', undefined],
    ['upperCaseId', undefined],
    ['deeper', undefined],
  ];
  for (const [name, expected] of cases) {
    it(`${name} → ${expected === undefined ? 'no claim' : 'its id'}`, () => assert.equal(claimedSha256(KEYS[name]), expected));
  }
  it('only locks/<id> is a lock key', () => {
    assert.deepEqual(
      (Object.keys(KEYS) as KeyName[]).filter((name) => isLockKey(KEYS[name])),
      ['lock'],
    );
  });
});

describe('decideObjectAccess', () => {
  it('full access may do everything to every key', () => {
    for (const key of Object.values(KEYS)) {
      for (const operation of OPERATIONS) {
        assert.deepEqual(decideObjectAccess({ access: 'full', operation, key }), { allowed: true }, `${operation} ${key}`);
      }
    }
  });

  // [operation, key, machineId, lockOwner, allowed, words the reason must contain]
  type Row = [ObjectOperation, KeyName, string | undefined, string | undefined, boolean, string?];
  const agentRows: Row[] = [
    ...(['read', 'stat', 'list'] as const).flatMap((operation) =>
      (Object.keys(KEYS) as KeyName[]).map((name): Row => [operation, name, 'm1', undefined, true]),
    ),
    ['create', 'config', 'm1', undefined, true],
    ['create', 'pack', 'm1', undefined, true],
    ['create', 'index', 'm1', undefined, true],
    ['create', 'snapshot', 'm1', undefined, true],
    ['create', 'keySlot', 'm1', undefined, true],
    ['create', 'lock', 'm1', undefined, true],
    ['create', 'lock', undefined, undefined, false, 'no machine'],
    ['create', 'stray', 'm1', undefined, false, 'repository layout'],
    ['create', 'packOutsideFanout', 'm1', undefined, false, 'repository layout'],
    ['create', 'upperCaseId', 'm1', undefined, false, 'repository layout'],
    ['create', 'deeper', 'm1', undefined, false, 'repository layout'],
    ['overwrite', 'config', 'm1', undefined, false, 'the config'],
    ['overwrite', 'pack', 'm1', undefined, false, 'packs'],
    ['overwrite', 'index', 'm1', undefined, false, 'index files'],
    ['overwrite', 'snapshot', 'm1', undefined, false, 'snapshots'],
    ['overwrite', 'keySlot', 'm1', undefined, false, 'key slots'],
    ['overwrite', 'lock', 'm1', 'm1', false, 'locks'],
    ['overwrite', 'stray', 'm1', undefined, false, 'notes/readme'],
    ['remove', 'config', 'm1', undefined, false, 'tenant-admin'],
    ['remove', 'pack', 'm1', undefined, false, 'packs'],
    ['remove', 'index', 'm1', undefined, false, 'index files'],
    ['remove', 'snapshot', 'm1', undefined, false, 'snapshots'],
    ['remove', 'keySlot', 'm1', undefined, false, 'key slots'],
    ['remove', 'stray', 'm1', undefined, false, 'append-only'],
    ['remove', 'lock', 'm1', 'm1', true],
    ['remove', 'lock', 'm1', 'm2', false, 'another machine'],
    ['remove', 'lock', 'm1', undefined, false, 'not created by this machine'],
    ['remove', 'lock', undefined, undefined, false, 'not created by this machine'],
    ['remove', 'deeper', 'm1', undefined, false, 'the object "index/'],
  ];
  for (const [operation, name, machineId, lockOwner, allowed, words] of agentRows) {
    const facts = `${machineId ?? 'no machine'}${lockOwner === undefined ? '' : `, lock of ${lockOwner}`}`;
    it(`append-only ${operation} ${name} (${facts}) → ${allowed ? 'allowed' : 'refused'}`, () => {
      const decision = decideObjectAccess({ access: 'append-only', operation, key: KEYS[name], machineId, lockOwner });
      assert.equal(decision.allowed, allowed);
      if (!decision.allowed) assert.match(decision.reason, new RegExp(words ?? '.'));
    });
  }
});

describe('planUpload', () => {
  // [access, key, exists, machineId, action]
  const rows: [ObjectAccess, KeyName, boolean, string | undefined, 'store' | 'verify-existing' | 'refuse'][] = [
    ['full', 'config', true, undefined, 'store'],
    ['full', 'pack', true, undefined, 'store'],
    ['full', 'stray', false, undefined, 'store'],
    ['full', 'stray', true, undefined, 'store'],
    ['append-only', 'config', false, 'm1', 'store'],
    ['append-only', 'config', true, 'm1', 'verify-existing'],
    ['append-only', 'pack', false, 'm1', 'store'],
    ['append-only', 'pack', true, 'm1', 'verify-existing'],
    ['append-only', 'index', true, 'm1', 'verify-existing'],
    ['append-only', 'snapshot', true, 'm1', 'verify-existing'],
    ['append-only', 'keySlot', true, 'm1', 'verify-existing'],
    ['append-only', 'lock', false, 'm1', 'store'],
    ['append-only', 'lock', true, 'm1', 'verify-existing'],
    ['append-only', 'lock', false, undefined, 'refuse'],
    ['append-only', 'stray', false, 'm1', 'refuse'],
    ['append-only', 'stray', true, 'm1', 'refuse'],
  ];
  for (const [access, name, exists, machineId, action] of rows) {
    it(`${access} upload of ${exists ? 'an existing' : 'a new'} ${name} → ${action}`, () => {
      assert.equal(planUpload(access, KEYS[name], exists, machineId).action, action);
    });
  }
});
