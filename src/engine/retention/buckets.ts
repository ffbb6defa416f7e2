/**
 * The calendar buckets of the `--keep-hourly` … `--keep-yearly` rules. Every bucket is computed from the
 * snapshot's time in UTC, whatever the time zone of the machine running `forget`, so the same repository
 * gives the same decisions everywhere; a snapshot taken at 23:30 local time east of Greenwich may
 * therefore count for the previous or next day.
 */
export type BucketKind = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly';

/** The bucket rules in the order their reasons are listed. */
export const BUCKET_KINDS: readonly BucketKind[] = ['hourly', 'daily', 'weekly', 'monthly', 'yearly'];

/**
 * The bucket `time` falls into, as a label that is also its identity: `2026-11-20T14` (hourly),
 * `2026-11-20` (daily), `2026-W47` (weekly, ISO 8601 week-numbering year and week), `2026-11` (monthly),
 * `2026` (yearly). Two times share a bucket exactly when their labels are equal. Pure.
 */
export function bucketOf(kind: BucketKind, time: Date): string {
  const year = pad(time.getUTCFullYear(), 4);
  const month = `${year}-${pad(time.getUTCMonth() + 1, 2)}`;
  const day = `${month}-${pad(time.getUTCDate(), 2)}`;
  switch (kind) {
    case 'hourly':
      return `${day}T${pad(time.getUTCHours(), 2)}`;
    case 'daily':
      return day;
    case 'weekly': {
      const week = isoWeek(time);
      return `${pad(week.year, 4)}-W${pad(week.week, 2)}`;
    }
    case 'monthly':
      return month;
    case 'yearly':
      return year;
  }
}

/**
 * The ISO 8601 week of `time` in UTC: weeks start on Monday and week 1 is the one holding the year's
 * first Thursday, so 2025-12-31 is in 2026-W01 and 2027-01-01 in 2026-W53. Pure.
 */
export function isoWeek(time: Date): { year: number; week: number } {
  const day = (time.getUTCDay() + 6) % 7; // Monday = 0
  // The Thursday of the same week decides the week-numbering year.
  const thursday = utcMidnight(time.getUTCFullYear(), time.getUTCMonth(), time.getUTCDate() - day + 3);
  const year = new Date(thursday).getUTCFullYear();
  const week = 1 + Math.floor((thursday - utcMidnight(year, 0, 1)) / (7 * 86_400_000));
  return { year, week };
}

/** Like `Date.UTC`, without its mapping of the years 0–99 to 1900–1999. */
function utcMidnight(year: number, month: number, day: number): number {
  return new Date(0).setUTCFullYear(year, month, day);
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}
