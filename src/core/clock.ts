/** The time source. Engine and service code take a Clock instead of calling Date.now(). */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
