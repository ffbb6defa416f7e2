/**
 * The arithmetic of `ferry seed plan`: how long the first full backup takes over the network versus on
 * shipped disks, from the data's size after compression and deduplication and a few rates. Pure.
 */
export interface PlanInput {
  /** Bytes of the sources as they are. */
  readonly sourceBytes: number;
  /** Stored bytes per source byte after compression and deduplication (1 when unknown). */
  readonly storedRatio: number;
  /** The uplink, bytes per second. */
  readonly uplinkBytesPerSecond: number;
  /** Capacity of one disk, bytes. */
  readonly diskBytes: number;
  readonly shippingDays: number;
}

/** Rates assumed for the disk route (measured on the team's 2-core machine, see docs/PERFORMANCE.md). */
export const ASSUMED = {
  /** Backup into a local staging folder. */
  stagingBytesPerSecond: 150e6,
  /** diskprep, per disk, disks one after another. */
  diskprepBytesPerSecond: 150e6,
  /** Datacenter ingest into the storage account. */
  ingestBytesPerSecond: 200e6,
  /** Days a job waits at the datacenter before ingest starts. */
  receivingDays: 1,
} as const;

export interface Plan {
  readonly storedBytes: number;
  readonly onlineSeconds: number;
  readonly disks: number;
  /** Staging backup, diskprep, shipping, receiving and ingest, in that order. */
  readonly offline: { readonly stagingSeconds: number; readonly diskprepSeconds: number; readonly shippingSeconds: number; readonly ingestSeconds: number; readonly totalSeconds: number };
  readonly recommendation: 'online' | 'offline';
}

const DAY = 86_400;

export function planSeed(input: PlanInput): Plan {
  const storedBytes = Math.ceil(input.sourceBytes * input.storedRatio);
  const onlineSeconds = storedBytes / input.uplinkBytesPerSecond;
  const stagingSeconds = input.sourceBytes / ASSUMED.stagingBytesPerSecond;
  const diskprepSeconds = storedBytes / ASSUMED.diskprepBytesPerSecond;
  const shippingSeconds = (input.shippingDays + ASSUMED.receivingDays) * DAY;
  const ingestSeconds = storedBytes / ASSUMED.ingestBytesPerSecond;
  const totalSeconds = stagingSeconds + diskprepSeconds + shippingSeconds + ingestSeconds;
  return {
    storedBytes,
    onlineSeconds,
    disks: Math.max(1, Math.ceil(storedBytes / input.diskBytes)),
    offline: { stagingSeconds, diskprepSeconds, shippingSeconds, ingestSeconds, totalSeconds },
    recommendation: onlineSeconds <= totalSeconds ? 'online' : 'offline',
  };
}
