/**
 * Tracking numbers are compared ignoring case, spaces, hyphens and dots: `1z 999 aa1-01`, `1Z999AA1.01` and
 * `1Z999AA101` are the same parcel. They are 1–64 characters of ASCII letters, digits, spaces, `-` and `.`
 * (no look-alike letters from other scripts), with at least one letter or digit.
 */
export const TRACKING_NUMBER_PATTERN = /^[A-Za-z0-9 .-]{1,64}$/;

/** True when `value` is an acceptable tracking number. */
export function isValidTrackingNumber(value: string): boolean {
  return TRACKING_NUMBER_PATTERN.test(value) && /[A-Za-z0-9]/.test(value);
}

/**
 * The form two tracking numbers are compared in (and the unique index holds): without spaces, hyphens and
 * dots, in upper case. (Migration 0006 recomputed the stored keys by this rule; a change here needs a new one.)
 */
export function trackingNumberKey(value: string): string {
  return value.replace(/[\s.-]+/g, '').toUpperCase();
}
