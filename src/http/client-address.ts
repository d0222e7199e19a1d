import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { IncomingMessage } from 'node:http';

/** Strips the IPv4-mapped IPv6 prefix Node gives IPv4 peers on dual-stack sockets. */
const plain = (address: string) => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');

function family(address: string): 'ipv4' | 'ipv6' | undefined {
  return isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
}

/**
 * The client's address: the socket's peer, unless that peer is a trusted proxy; then the nearest
 * X-Forwarded-For entry that is not itself a trusted proxy (entries further left are client-supplied).
 */
export function clientAddressResolver(trustedProxies: string[]): (request: IncomingMessage | undefined, forwardedFor: string | null) => string {
  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const [address, bits] = entry.split('/');
    const kind = family(plain(address!));
    if (!kind) throw new Error(`TRUSTED_PROXIES: "${entry}" is not an address or CIDR range`);
    if (bits === undefined) trusted.addAddress(plain(address!), kind);
    else trusted.addSubnet(plain(address!), Number(bits), kind);
  }
  const isTrusted = (address: string) => {
    const kind = family(address);
    return kind !== undefined && trusted.check(address, kind);
  };
  return (request, forwardedFor) => {
    const peer = plain(request?.socket.remoteAddress ?? 'unknown');
    if (trustedProxies.length === 0 || !isTrusted(peer) || !forwardedFor) return peer;
    const hops = forwardedFor.split(',').map((hop) => plain(hop.trim())).filter((hop) => family(hop));
    for (let index = hops.length - 1; index >= 0; index--) if (!isTrusted(hops[index]!)) return hops[index]!;
    return hops[0] ?? peer;
  };
}
