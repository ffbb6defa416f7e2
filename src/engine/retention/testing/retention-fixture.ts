import type { Id } from '../../../core/ids.js';
import type { SnapshotRecord } from '../../repository/repository.js';
import type { Snapshot } from '../../snapshot/snapshot.js';

/** A snapshot record for retention tests; its id spells `name` in hex, so failures can name it back. */
export function fixtureSnapshot(name: string, time: string, hostname: string, paths: readonly string[], tags: readonly string[] = []): SnapshotRecord {
  const snapshot: Snapshot = {
    version: 1,
    time,
    tree: '0'.repeat(64) as Id,
    paths,
    hostname,
    username: 'test',
    uid: 0,
    gid: 0,
    tags,
    excludes: [],
    skipped: [],
  };
  return { id: idFor(name), snapshot };
}

export function idFor(name: string): Id {
  return Buffer.from(name, 'utf8').toString('hex').padEnd(64, '0') as Id;
}

export function nameOf(id: Id): string {
  return Buffer.from(id.replace(/(00)+$/, ''), 'hex').toString('utf8');
}

/** "Now" for the fixture: the day after its newest snapshot. */
export const FIXTURE_NOW = new Date('2026-11-21T00:00:00Z');

/**
 * Thirty snapshots over two years in four default groups (host + sorted paths):
 * `w*` web:/srv (20, dense in November 2026, crossing month, year and ISO-week-year boundaries),
 * `e*` web:/etc (3), `d*` db:/etc,/var/lib/db (4, paths listed in both orders), `l*` laptop:/home (3).
 * ISO weeks (checked with GNU date): 2025-06-30 and 2025-07-01 are 2025-W27; 2025-12-31 and 2026-01-01
 * are 2026-W01; 2026-10-31/11-01 W44, 11-02..08 W45, 11-09..15 W46, 11-16..22 W47.
 */
export const FIXTURE: readonly SnapshotRecord[] = [
  fixtureSnapshot('w01', '2025-01-15T10:00:00Z', 'web', ['/srv']),
  fixtureSnapshot('w02', '2025-03-01T10:00:00Z', 'web', ['/srv']),
  fixtureSnapshot('w03', '2025-06-30T23:30:00Z', 'web', ['/srv']),
  fixtureSnapshot('w04', '2025-07-01T00:30:00Z', 'web', ['/srv']),
  fixtureSnapshot('w05', '2025-12-31T23:00:00Z', 'web', ['/srv']),
  fixtureSnapshot('w06', '2026-01-01T01:00:00Z', 'web', ['/srv']),
  fixtureSnapshot('w07', '2026-06-15T08:00:00Z', 'web', ['/srv'], ['nightly']),
  fixtureSnapshot('w08', '2026-09-01T12:00:00Z', 'web', ['/srv']),
  fixtureSnapshot('w09', '2026-10-31T22:00:00Z', 'web', ['/srv']),
  fixtureSnapshot('w10', '2026-11-02T09:00:00Z', 'web', ['/srv']),
  fixtureSnapshot('w11', '2026-11-08T20:00:00Z', 'web', ['/srv']),
  fixtureSnapshot('w12', '2026-11-09T06:00:00Z', 'web', ['/srv']),
  fixtureSnapshot('w13', '2026-11-14T12:00:00Z', 'web', ['/srv'], ['important']),
  fixtureSnapshot('w14', '2026-11-16T03:00:00Z', 'web', ['/srv']),
  fixtureSnapshot('w15', '2026-11-18T12:00:00Z', 'web', ['/srv']),
  fixtureSnapshot('w16', '2026-11-19T23:59:00Z', 'web', ['/srv']),
  fixtureSnapshot('w17', '2026-11-20T00:01:00Z', 'web', ['/srv']),
  fixtureSnapshot('w18', '2026-11-20T10:00:00Z', 'web', ['/srv'], ['nightly']),
  fixtureSnapshot('w19', '2026-11-20T10:30:00Z', 'web', ['/srv']),
  fixtureSnapshot('w20', '2026-11-20T11:00:00Z', 'web', ['/srv']),
  fixtureSnapshot('e1', '2026-01-10T00:00:00Z', 'web', ['/etc']),
  fixtureSnapshot('e2', '2026-11-01T00:00:00Z', 'web', ['/etc']),
  fixtureSnapshot('e3', '2026-11-20T05:00:00Z', 'web', ['/etc']),
  fixtureSnapshot('d1', '2025-05-05T02:00:00Z', 'db', ['/var/lib/db', '/etc'], ['nightly']),
  fixtureSnapshot('d2', '2026-02-02T02:00:00Z', 'db', ['/etc', '/var/lib/db']),
  fixtureSnapshot('d3', '2026-11-10T02:00:00Z', 'db', ['/var/lib/db', '/etc'], ['nightly', 'db']),
  fixtureSnapshot('d4', '2026-11-19T04:00:00Z', 'db', ['/etc', '/var/lib/db']),
  fixtureSnapshot('l1', '2025-08-08T12:00:00Z', 'laptop', ['/home'], ['manual']),
  fixtureSnapshot('l2', '2026-08-08T12:00:00Z', 'laptop', ['/home']),
  fixtureSnapshot('l3', '2026-11-20T09:00:00Z', 'laptop', ['/home']),
];
