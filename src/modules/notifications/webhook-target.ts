import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** A webhook URL that may not be called: the reason names the rule, never the URL's secret parts. */
export class TargetRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetRefusedError';
  }
}

export interface ResolvedTarget {
  url: URL;
  /** The checked address to connect to, so a second DNS answer cannot redirect the request (rebinding). */
  address: string;
  family: 4 | 6;
}

export type HostLookup = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemLookup: HostLookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

type Range = { bytes: number[]; bits: number };

const v4 = (cidr: string): Range => {
  const [address, bits] = cidr.split('/') as [string, string];
  return { bytes: address.split('.').map(Number), bits: Number(bits) };
};

const v6 = (cidr: string): Range => {
  const [address, bits] = cidr.split('/') as [string, string];
  return { bytes: ipv6Bytes(address)!, bits: Number(bits) };
};

/** Not reachable on the public internet: this host, private networks, link-local, shared, reserved and documentation ranges. */
const NON_PUBLIC_V4: Range[] = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
].map(v4);

const NON_PUBLIC_V6: Range[] = ['::/128', '::1/128', '100::/64', '2001:db8::/32', 'fc00::/7', 'fe80::/10', 'fec0::/10', 'ff00::/8'].map(v6);

/** IPv6 ranges that carry an IPv4 address in their last 32 bits; that address decides. */
const EMBEDS_V4: Range[] = ['::ffff:0:0/96', '::/96', '64:ff9b::/96', '64:ff9b:1::/48'].map(v6);
const SIX_TO_FOUR = v6('2002::/16');

function inRange(bytes: number[], range: Range): boolean {
  if (bytes.length !== range.bytes.length) return false;
  let bits = range.bits;
  for (let i = 0; bits > 0; i += 1, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== (range.bytes[i]! & mask)) return false;
  }
  return true;
}

/** The 16 bytes of an IPv6 address (with an optional dotted IPv4 tail), or null when it is not one. */
export function ipv6Bytes(address: string): number[] | null {
  let text = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (isIP(text) !== 6) return null;
  // A dotted IPv4 tail is the last two 16-bit words.
  text = text.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_all, a: string, b: string, c: string, d: string) =>
    `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`,
  );
  const words = (part: string) => (part === '' ? [] : part.split(':').map((word) => Number.parseInt(word, 16)));
  let all: number[];
  if (text.includes('::')) {
    const [left, right] = text.split('::') as [string, string];
    const leftWords = words(left);
    const rightWords = words(right);
    all = [...leftWords, ...new Array<number>(8 - leftWords.length - rightWords.length).fill(0), ...rightWords];
  } else {
    all = words(text);
  }
  if (all.length !== 8) return null;
  return all.flatMap((word) => [word >> 8, word & 0xff]);
}

/** Whether an address is reachable on the public internet, looking through IPv4-mapped and translated forms. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address.replace(/%.*$/, ''));
  if (family === 4) {
    const bytes = address.split('.').map(Number);
    return !NON_PUBLIC_V4.some((range) => inRange(bytes, range));
  }
  if (family !== 6) return false;
  const bytes = ipv6Bytes(address);
  if (!bytes) return false;
  const embedded = EMBEDS_V4.find((range) => inRange(bytes, range));
  if (embedded) return isPublicAddress(bytes.slice(12, 16).join('.'));
  if (inRange(bytes, SIX_TO_FOUR)) return isPublicAddress(bytes.slice(2, 6).join('.'));
  return !NON_PUBLIC_V6.some((range) => inRange(bytes, range));
}

/** Parses a webhook URL: http or https, a host, no credentials in it. */
export function parseTargetUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetRefusedError('is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TargetRefusedError('must use http or https');
  if (url.username || url.password) throw new TargetRefusedError('must not carry credentials; the channel secret signs requests instead');
  if (!url.hostname) throw new TargetRefusedError('names no host');
  return url;
}

/**
 * Resolves the URL's host and checks every address it has; unless private targets are allowed,
 * one non-public address refuses the whole target, so no DNS answer can steer a request inside.
 */
export async function resolveTarget(raw: string, options: { allowPrivateTargets: boolean; lookup?: HostLookup }): Promise<ResolvedTarget> {
  const url = parseTargetUrl(raw);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: { address: string; family: number }[];
  if (isIP(host) !== 0) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await (options.lookup ?? systemLookup)(host);
    } catch (error) {
      throw new TargetRefusedError(`host does not resolve (${(error as NodeJS.ErrnoException).code ?? 'lookup failed'})`);
    }
    if (addresses.length === 0) throw new TargetRefusedError('host does not resolve');
  }
  if (!options.allowPrivateTargets) {
    const internal = addresses.find((entry) => !isPublicAddress(entry.address));
    if (internal) throw new TargetRefusedError('resolves to a loopback, private, link-local or reserved address, which this server does not call');
  }
  const first = addresses[0]!;
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** The URL as an admin may see it: query values and the token segment of Slack and Discord URLs hidden. */
export function redactTargetUrl(raw: string, channelType: string): string {
  try {
    const url = new URL(raw);
    for (const key of [...url.searchParams.keys()]) url.searchParams.set(key, '***');
    if (channelType === 'slack' || channelType === 'discord') {
      const segments = url.pathname.split('/');
      if (segments.length > 2) segments[segments.length - 1] = '***';
      url.pathname = segments.join('/');
    }
    return url.toString().replace(/%2A%2A%2A/g, '***');
  } catch {
    return '***';
  }
}
