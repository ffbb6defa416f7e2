import { pino, type Logger } from 'pino';

/** Secret-looking words in a URL path (`fry_adm_…`), replaced before a URL is logged. */
const SECRET_IN_PATH = /fry_[a-z]{3}_[A-Za-z0-9_-]*/g;

/**
 * The URL as it may be logged: the path with anything shaped like a Ferry secret masked, and the query
 * string replaced by `?…` (a query may carry a credential someone sent by mistake; the API refuses it).
 */
export function loggableUrl(url: string): string {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  return path.replace(SECRET_IN_PATH, 'fry_***') + (queryAt === -1 ? '' : '?…');
}

/** What the logs keep of a request: never its headers, never its query string. */
interface LoggableRequest {
  readonly method?: string;
  readonly url?: string;
  readonly ip?: string;
}

/**
 * The service's JSON logger (pino) writing to `destination`: requests are logged without headers or query
 * strings, and the Authorization header is redacted wherever it would appear.
 */
export function createServiceLogger(destination: NodeJS.WritableStream, level = 'info'): Logger {
  return pino(
    {
      level,
      redact: { paths: ['req.headers.authorization', 'headers.authorization', 'request.headers.authorization'], censor: '[redacted]' },
      serializers: {
        req: (req: LoggableRequest) => ({ method: req.method, url: loggableUrl(req.url ?? ''), remoteAddress: req.ip }),
      },
    },
    destination,
  );
}
