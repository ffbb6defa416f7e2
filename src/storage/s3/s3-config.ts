import { UserError } from '../../core/errors.js';

/** How the S3 back end reaches its store, as read from the environment (never from a location). */
export interface S3Config {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** `AWS_SESSION_TOKEN`, for temporary credentials. */
  readonly sessionToken: string | undefined;
  readonly region: string;
  /** A custom endpoint (Ceph radosgw, MinIO, another provider); undefined for AWS itself. */
  readonly endpoint: string | undefined;
}

/** The region when the environment names none: AWS's default, and what S3-compatible stores accept. */
export const DEFAULT_REGION = 'us-east-1';

/**
 * The S3 settings from the SDK's standard variables: `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`
 * (with `AWS_SESSION_TOKEN`), `AWS_REGION` (else `AWS_DEFAULT_REGION`, else us-east-1), and the endpoint
 * from `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`. A `UserError` naming the variables when the keys are
 * missing or the endpoint is not an http(s) URL (the message repeats no secret).
 */
export function s3ConfigFromEnv(env: NodeJS.ProcessEnv): S3Config {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new UserError('no credentials for S3: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL_S3 for a store other than AWS)');
  }
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  if (endpoint !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(endpoint);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '') {
      throw new UserError('AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL) must be an http:// or https:// URL without credentials, such as https://s3.example.net');
    }
  }
  return {
    accessKeyId,
    secretAccessKey,
    sessionToken: env.AWS_SESSION_TOKEN || undefined,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || DEFAULT_REGION,
    endpoint,
  };
}
