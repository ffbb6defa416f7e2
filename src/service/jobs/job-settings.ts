/** The service settings the import job rules read (`ferry serve` options; docs/service.md, "Import jobs"). */
export interface ImportJobSettings {
  /** How long after the disks are prepared carrier and tracking number may be entered (`--tracking-deadline`). */
  readonly trackingDeadlineMs: number;
  /** Where disks are shipped to (`--shipping-address`); diskprep prints it. */
  readonly shippingAddress: string;
  /** At most this many disks per job (indexes 0 … max-1). */
  readonly maxDisksPerJob: number;
  /** At most this many bytes on one disk. */
  readonly maxDiskBytes: number;
  /** Disks not ingested this long after the job was received are marked `NeverReceived` by the sweep (`--never-received-after`). */
  readonly neverReceivedMs: number;
}

const DAY_MS = 86_400_000;

export const DEFAULT_IMPORT_JOB_SETTINGS: ImportJobSettings = {
  trackingDeadlineMs: 14 * DAY_MS,
  shippingAddress: 'No shipping address is configured on this service: ask its operator where to send the disks (they set it with `ferry serve --shipping-address`).',
  maxDisksPerJob: 10,
  maxDiskBytes: 10 * 1000 ** 4,
  neverReceivedMs: 14 * DAY_MS,
};

/** The defaults with `overrides` applied; a `RangeError` for a setting that makes no sense. */
export function importJobSettings(overrides: Partial<ImportJobSettings> = {}): ImportJobSettings {
  const settings = { ...DEFAULT_IMPORT_JOB_SETTINGS, ...overrides };
  if (!(Number.isSafeInteger(settings.trackingDeadlineMs) && settings.trackingDeadlineMs > 0)) throw new RangeError('the tracking deadline must be a positive number of milliseconds');
  if (!(Number.isSafeInteger(settings.maxDisksPerJob) && settings.maxDisksPerJob >= 1)) throw new RangeError('at least one disk per job must be allowed');
  if (!(Number.isSafeInteger(settings.maxDiskBytes) && settings.maxDiskBytes >= 1)) throw new RangeError('the disk size limit must be a positive number of bytes');
  if (!(Number.isSafeInteger(settings.neverReceivedMs) && settings.neverReceivedMs > 0)) throw new RangeError('the never-received period must be a positive number of milliseconds');
  if (settings.shippingAddress.trim() === '') throw new RangeError('the shipping address may not be empty');
  return settings;
}
