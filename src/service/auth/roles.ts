/**
 * The service's roles (DESIGN.md, "Service"): `admin` runs the service; `tenant-admin` manages one tenant;
 * `agent` is one registered machine backing up to one vault (append-only); `job` is one import job;
 * `operator` works at the datacenter. docs/service.md has the table of what each may do.
 */
export const ROLES = ['admin', 'tenant-admin', 'agent', 'job', 'operator'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

const DAY_MS = 86_400_000;

/** How long a token of each role lives when its creator names no expiry. */
export const DEFAULT_TOKEN_LIFETIME_MS: Readonly<Record<Role, number>> = {
  admin: 365 * DAY_MS,
  'tenant-admin': 90 * DAY_MS,
  agent: 365 * DAY_MS,
  job: 90 * DAY_MS,
  operator: 90 * DAY_MS,
};

/** The longest lifetime a token may be given. */
export const MAX_TOKEN_LIFETIME_MS = 5 * 365 * DAY_MS;

/** A registration code (in a vault credentials file) is valid this long. */
export const REGISTRATION_CODE_LIFETIME_MS = 48 * 3_600_000;
