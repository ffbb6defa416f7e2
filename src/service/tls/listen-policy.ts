import { BlockList, isIP } from 'node:net';
import { UserError } from '../../core/errors.js';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * True when `host` can only be reached from this machine: `localhost`, 127.0.0.0/8, `::1` (also written
 * out, or as an IPv4-mapped 127.x address). Any other name or address, `0.0.0.0` and `::` included, is not.
 */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = isIP(host);
  if (family === 0) return false;
  return LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Refuses to serve plain HTTP where the network can reach it (every request carries a bearer token),
 * unless the operator said `--insecure-http` (a proxy in front terminates TLS, say). `UserError` naming
 * both ways out; nothing to refuse with TLS or on a loopback address.
 */
export function checkListenPolicy(host: string, tls: boolean, insecureHttp: boolean): void {
  if (tls || insecureHttp || isLoopbackHost(host)) return;
  throw new UserError(
    `refusing plain HTTP on ${host}, which other machines can reach: every request carries a token; ` +
      'give --tls-cert FILE --tls-key FILE, or --insecure-http when a proxy in front of the service terminates TLS',
  );
}
