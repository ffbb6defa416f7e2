/**
 * The service's roles (DESIGN.md, "Service"): `admin` runs the service; `tenant-admin` manages one tenant;
 * `agent` is one registered machine backing up to one vault (append-only); `job` is one import job;
 * `operator` works at the datacenter. docs/service.md has the table of what each may do.
 */
export const ROLES = ['admin', 'tenant-admin', 'agent', 'job', 'operator'] as const;
export type Role = (typeof ROLES)[number];

/** The roles `POST /v1/tokens` creates; agent tokens come from registration and job tokens with import jobs. */
export const CREATABLE_ROLES = ['admin', 'tenant-admin', 'operator'] as const satisfies readonly Role[];
export type CreatableRole = (typeof CREATABLE_ROLES)[number];

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

/**
 * The agent token lifetime a service uses (`ferry serve --agent-token-lifetime`): `configured`, or the
 * role's default. `RangeError` outside (0, MAX_TOKEN_LIFETIME_MS].
 */
export function agentTokenLifetime(configured?: number): number {
  const lifetime = configured ?? DEFAULT_TOKEN_LIFETIME_MS.agent;
  if (!(Number.isSafeInteger(lifetime) && lifetime > 0 && lifetime <= MAX_TOKEN_LIFETIME_MS)) {
    throw new RangeError(`the agent token lifetime must be more than 0 and at most ${MAX_TOKEN_LIFETIME_MS / DAY_MS} days`);
  }
  return lifetime;
}

/**
 * An agent renews its token once this fraction of the token's lifetime is left (the last third): long
 * before it expires, so an agent that runs only now and then, or cannot reach the service for a while,
 * still renews in time, and rarely (every 8 months with the default lifetime of 365 days).
 */
export const AGENT_TOKEN_RENEWAL_FRACTION = 1 / 3;

/** A registration code (in a vault credentials file) is valid this long. */
export const REGISTRATION_CODE_LIFETIME_MS = 48 * 3_600_000;
