import { BlockList, isIP } from 'node:net';
import { unmapIpv4 } from './rate-limit.ts';

/**
 * The client address of a request for rate limiting. Without TRUSTED_PROXIES it is the socket
 * address: X-Forwarded-For is whatever the client wrote. With it, when the socket belongs to a
 * trusted proxy, X-Forwarded-For is read from the right (each proxy appends the address it saw)
 * and the first address that is not a trusted proxy is the client — entries further left were
 * written by the client and are ignored. Behind an untrusted-but-real proxy every client shares
 * the proxy's address: stricter, never weaker.
 */
export function clientAddressResolver(trustedProxies: readonly string[]): (socketAddress: string | undefined, forwardedFor: string | undefined) => string {
  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const [address = '', prefix] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) trusted.addAddress(address, family);
    else trusted.addSubnet(address, Number(prefix), family);
  }
  const isTrusted = (ip: string) => {
    const family = isIP(ip);
    return family !== 0 && trusted.check(ip, family === 6 ? 'ipv6' : 'ipv4');
  };
  return (socketAddress, forwardedFor) => {
    let client = unmapIpv4(socketAddress ?? 'unknown');
    if (trustedProxies.length === 0 || !isTrusted(client) || !forwardedFor) return client;
    const hops = forwardedFor.split(',').map((h) => unmapIpv4(h.trim()));
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      // Trusted proxies write addresses; anything else ends the walk at the last good hop.
      if (!isIP(hop)) return client;
      client = hop;
      if (!isTrusted(hop)) return hop;
    }
    return client;
  };
}
