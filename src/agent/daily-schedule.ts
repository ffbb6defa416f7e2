import { UserError } from '../core/errors.js';

/** A time of day, in the machine's local time zone, at which a backup is due every day. */
export interface DailyTime {
  readonly hour: number;
  readonly minute: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Parses `HH:MM` (24-hour clock, 00:00…23:59); a `UserError` says what is accepted otherwise. */
export function parseDailyTime(text: string): DailyTime {
  const match = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(text.trim());
  if (!match) throw new UserError(`"${text}" is not a time of day: give HH:MM on a 24-hour clock, e.g. 02:30`);
  return { hour: Number(match[1]), minute: Number(match[2]) };
}

export function formatDailyTime(time: DailyTime): string {
  return `${String(time.hour).padStart(2, '0')}:${String(time.minute).padStart(2, '0')}`;
}

/**
 * The most recent slot (epoch ms) at or before `now`: today's HH:MM local time when it has passed, else
 * yesterday's. On a day where HH:MM does not exist (spring-forward) the slot moves to the next valid
 * instant, as the Date constructor does; on a day where it exists twice the first is used.
 */
export function latestSlot(now: number, time: DailyTime): number {
  const today = new Date(now);
  const slot = new Date(today.getFullYear(), today.getMonth(), today.getDate(), time.hour, time.minute).getTime();
  if (slot <= now) return slot;
  const yesterday = new Date(now - DAY_MS);
  return new Date(yesterday.getFullYear(), yesterday.getMonth(), yesterday.getDate(), time.hour, time.minute).getTime();
}

/** The first slot strictly after `now`. */
export function nextSlot(now: number, time: DailyTime): number {
  const base = new Date(latestSlot(now, time));
  // The next calendar day by date, not by adding 24 h, so 23- and 25-hour days keep the local time.
  return new Date(base.getFullYear(), base.getMonth(), base.getDate() + 1, time.hour, time.minute).getTime();
}

/**
 * The slot a backup is due for at `now`, or undefined when none is: the latest slot, unless it was
 * already run (`lastRunSlot`) or it lies before the schedule was set (`since`). So an agent that was
 * not running at the slot catches up once when it starts, and never runs the same slot twice.
 */
export function dueSlot(now: number, time: DailyTime, since: number, lastRunSlot: number | undefined): number | undefined {
  const slot = latestSlot(now, time);
  if (slot < since) return undefined;
  if (lastRunSlot !== undefined && lastRunSlot >= slot) return undefined;
  return slot;
}
