import { UserError } from './errors.js';

/** What a whole-number tuning variable allows; `what` completes "is not …", `zero` says what 0 means when allowed. */
export interface EnvIntegerRange {
  readonly min: number;
  readonly max: number;
  /** E.g. "a number of encoder workers", "a size in MiB". */
  readonly what: string;
  /** What the minimum means when it is special, e.g. "off" for 0: shown as "from 0 (off) to 256". */
  readonly minMeans?: string;
}

/**
 * A tuning variable (`FERRY_*`) holding a whole number from `range.min` to `range.max`: undefined when it
 * is unset or empty (the caller's default), else its value. Anything else is a one-line `UserError`
 * naming the variable, the value and what is allowed, so a typo never silently falls back to the
 * default (the CLI exits 1 with it).
 */
export function envInteger(env: NodeJS.ProcessEnv, name: string, range: EnvIntegerRange): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = /^[0-9]{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
  if (value >= range.min && value <= range.max) return value;
  const shown = raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
  const from = range.minMeans === undefined ? `${range.min}` : `${range.min} (${range.minMeans})`;
  throw new UserError(`${name}=${shown} is not ${range.what}: set it to a whole number from ${from} to ${range.max}, or unset it`);
}

/**
 * A tuning variable holding one of `choices`: undefined when unset or empty, else the choice; anything
 * else is a one-line `UserError` naming the variable, the value and the choices.
 */
export function envChoice<T extends string>(env: NodeJS.ProcessEnv, name: string, choices: readonly T[], what: string): T | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if ((choices as readonly string[]).includes(raw)) return raw as T;
  const shown = raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
  const allowed = choices.length === 2 ? `${choices[0]} or ${choices[1]}` : `one of ${choices.join(', ')}`;
  throw new UserError(`${name}=${shown} is not ${what}: set it to ${allowed}, or unset it`);
}
