import { UserError } from '../../core/errors.js';

/**
 * A calendar duration for `--keep-within`: whole years, months, days and hours, as restic counts them.
 * Weeks are stored as 7 days. `text` is the normalized spelling shown in reasons ("within 1y6m").
 */
export interface RetentionDuration {
  readonly years: number;
  readonly months: number;
  readonly days: number;
  readonly hours: number;
  readonly text: string;
}

const UNITS = ['y', 'm', 'w', 'd', 'h'] as const;
type Unit = (typeof UNITS)[number];

/**
 * Parses a duration such as `7d`, `2w`, `36h` or `1y6m`: one or more `<whole number><unit>` with the units
 * `y` (years), `m` (months), `w` (weeks), `d` (days), `h` (hours), each at most once, in any order,
 * lower case, no spaces. Pure. Throws `UserError` saying what is accepted on anything else.
 */
export function parseDuration(text: string): RetentionDuration {
  const invalid = (): UserError =>
    new UserError(`invalid duration "${text}": use whole numbers with the units y, m, w, d, h, e.g. 7d, 2w, 36h or 1y6m`);
  if (text.length === 0) throw invalid();
  const amounts = new Map<Unit, number>();
  const token = /(\d+)([a-z])/y;
  let end = 0;
  for (let match = token.exec(text); match; match = token.exec(text)) {
    const unit = match[2] ?? '';
    const amount = Number(match[1]);
    if (!isUnit(unit) || amounts.has(unit) || !Number.isSafeInteger(amount)) throw invalid();
    amounts.set(unit, amount);
    end = token.lastIndex;
  }
  if (end !== text.length) throw invalid();
  return {
    years: amounts.get('y') ?? 0,
    months: amounts.get('m') ?? 0,
    days: (amounts.get('w') ?? 0) * 7 + (amounts.get('d') ?? 0),
    hours: amounts.get('h') ?? 0,
    text: UNITS.filter((u) => amounts.has(u)).map((u) => `${amounts.get(u)}${u}`).join(''),
  };
}

/** True when the duration spans no time at all (`0d`): such a `--keep-within` keeps nothing. */
export function isZeroDuration(d: RetentionDuration): boolean {
  return d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0;
}

/**
 * `from` minus `d`, in UTC calendar arithmetic: years, months and days are subtracted as calendar fields,
 * then hours. A day that does not exist in the target month overflows into the next one, as Go's
 * `AddDate` (and so restic) does: 2026-03-31 minus 1m is 2026-03-03. Pure.
 */
export function subtractDuration(from: Date, d: RetentionDuration): Date {
  const shifted = new Date(from.getTime());
  shifted.setUTCFullYear(from.getUTCFullYear() - d.years, from.getUTCMonth() - d.months, from.getUTCDate() - d.days);
  return new Date(shifted.getTime() - d.hours * 3_600_000);
}

function isUnit(value: string): value is Unit {
  return (UNITS as readonly string[]).includes(value);
}
