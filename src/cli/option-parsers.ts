/**
 * commander option parsers: each turns the text of one option into its value, or throws commander's
 * `InvalidArgumentError` saying what is accepted. They stay apart from the commands (commands/) so that
 * building the command line (program/) loads nothing but this.
 */
import { InvalidArgumentError } from 'commander';
import { parseDatabaseUrl, type DatabaseLocation } from '../service/db/database-location.js';
import { parseSize } from '../seed/plan/units.js';

/** Where `ferry serve` listens unless told. */
export const DEFAULT_LISTEN = '127.0.0.1:8420';

/** Parses `HOST:PORT` (an IPv6 host in brackets: `[::1]:8420`); port 0 means any free port. */
export function parseListen(value: string): { host: string; port: number } {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (match === null || !(port >= 0 && port <= 65535)) {
    throw new InvalidArgumentError('expected HOST:PORT, e.g. 127.0.0.1:8420, 0.0.0.0:8420 or [::1]:8420');
  }
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** Parses a duration `<whole number><s|m|h|d|w>` (e.g. `14d`, `36h`, `30s`) into milliseconds, at most 10 years. */
export function parseDuration(value: string): number {
  const match = /^([1-9][0-9]{0,8})([smhdw])$/.exec(value);
  const ms = match === null ? NaN : Number(match[1]) * UNIT_MS[match[2]!]!;
  if (!(ms <= 3650 * 86_400_000)) throw new InvalidArgumentError('expected a whole number and a unit s, m, h, d or w (at most 10 years), e.g. 14d, 36h, 30s');
  return ms;
}

/**
 * Parses a background worker's period or lease (`--worker-lease`, `--adoption-poll`, `--sweep-interval`):
 * `<whole number><ms|s|m|h>`, from 50 ms to 1 day. Milliseconds are for test suites that must not wait.
 */
export function parseWorkerPeriod(value: string): number {
  const match = /^([1-9][0-9]{0,8})(ms|s|m|h)$/.exec(value);
  const ms = match === null ? NaN : Number(match[1]) * (match[2] === 'ms' ? 1 : UNIT_MS[match[2]!]!);
  if (!(ms >= 50 && ms <= 86_400_000)) throw new InvalidArgumentError('expected a whole number and a unit ms, s, m or h, from 50ms to 24h, e.g. 60s, 500ms');
  return ms;
}

/** Parses `--agent-token-lifetime`: a duration (see {@link parseDuration}) of at most 5 years. */
export function parseAgentTokenLifetime(value: string): number {
  const ms = parseDuration(value);
  if (ms > 5 * 365 * 86_400_000) throw new InvalidArgumentError('an agent token lives at most 5 years (1825d)');
  return ms;
}

/** commander parser of a --keep-* count: a whole number, or -1 / "unlimited". */
export function parseCount(value: string): number {
  if (value === 'unlimited') return -1;
  if (!/^(-1|0|[1-9][0-9]{0,8})$/.test(value)) throw new InvalidArgumentError('give a whole number, or -1 (or "unlimited") to keep all');
  return Number(value);
}

/** `ferry init --compression-level`: a zstd level of 1 to 19. */
export function parseCompressionLevel(value: string): number {
  if (!/^[1-9][0-9]?$/.test(value) || Number(value) > 19) throw new InvalidArgumentError('give a zstd level from 1 (fastest) to 19 (smallest)');
  return Number(value);
}

/** A schedule's --keep-* count: a whole number; "all" is no rule at all, which the service also insists on. */
export function parseScheduleCount(value: string): number {
  const count = parseCount(value);
  if (count < 0) throw new InvalidArgumentError('give a whole number of 0 or more; to keep every scheduled snapshot, leave the rule out');
  return count;
}

/** `--limit` of `ferry audit list`: 1 to 999999. */
export function parseLimit(value: string): number {
  if (!/^[1-9][0-9]{0,5}$/.test(value)) throw new InvalidArgumentError('expected a whole number from 1 to 999999');
  return Number(value);
}

/** `--since`: an ISO-8601 time with its offset, or an age `<n><m|h|d|w>` before `now`; answers ISO-8601 UTC. */
export function parseSince(value: string, now: number): string {
  const age = /^([1-9][0-9]{0,5})([mhdw])$/.exec(value);
  if (age !== null) return new Date(now - Number(age[1]) * AGE_UNITS_MS[age[2]!]!).toISOString();
  const time = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) || Number.isNaN(time)) {
    throw new InvalidArgumentError(`expected an ISO time such as 2026-11-25T00:00:00Z, or an age such as 12h, 7d or 2w`);
  }
  return new Date(time).toISOString();
}

const AGE_UNITS_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** Parses a token lifetime `<whole number><h|d|w|y>` into seconds (a year is 365 days). */
export function parseLifetime(value: string): number {
  const match = /^([1-9][0-9]{0,5})([hdwy])$/.exec(value);
  if (match === null) throw new InvalidArgumentError('expected a whole number and a unit h, d, w or y, e.g. 12h, 30d, 8w, 1y');
  return Number(match[1]) * UNIT_SECONDS[match[2]!]!;
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { h: 3600, d: 86_400, w: 7 * 86_400, y: 365 * 86_400 };

/** `--workers` of `ferry datacenter ingest`: 0 to 64. */
export function parseWorkers(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new InvalidArgumentError('expected a whole number from 0 to 64');
  return n;
}

/** A size such as 500GB, 2TB or 512MiB, in bytes. */
export function parseMaxBytes(value: string): number {
  try {
    return parseSize(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** A commander parser that turns a RangeError into commander's own "invalid argument" message. */
export function parsed<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

/** A whole number of days, 0 to 999 (throws a RangeError: wrap it in {@link parsed}). */
export function parseDays(text: string): number {
  if (!/^[0-9]{1,3}$/.test(text)) throw new RangeError(`"${text}" is not a number of days`);
  return Number(text);
}

/** `serve --database URL`: a PostgreSQL location (see parseDatabaseUrl). */
export function parseDatabaseOption(value: string): DatabaseLocation {
  try {
    return parseDatabaseUrl(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}
