import { isIP } from 'node:net';
import { z } from 'zod';
import { ValidationError } from '../shared/errors.js';
import { parseInput } from '../shared/validation.js';

export const NETWORK_TYPES = ['ethernet', 'infiniband', 'roce', 'omni_path'] as const;
export const INTERFACE_TYPES = ['management', 'data', 'storage', 'cluster'] as const;
export const INTERFACE_STATUSES = ['up', 'down', 'unknown'] as const;

export type NetworkType = (typeof NETWORK_TYPES)[number];
export type InterfaceType = (typeof INTERFACE_TYPES)[number];

const name = (max: number) => z.string().trim().min(1).max(max);
const jsonObject = z.record(z.string(), z.unknown()).default({});

function ipv4Bits(address: string): bigint {
  return address.split('.').reduce((bits, octet) => (bits << 8n) | BigInt(Number(octet)), 0n);
}

function ipv6Bits(address: string): bigint {
  const [head = '', tail] = address.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  let left = groups(head);
  let right = tail === undefined ? [] : groups(tail);
  const expandV4 = (parts: string[]) => {
    const last = parts.at(-1);
    if (last?.includes('.')) {
      const v4 = ipv4Bits(last);
      return [...parts.slice(0, -1), (v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16)];
    }
    return parts;
  };
  left = expandV4(left);
  right = expandV4(right);
  const missing = 8 - left.length - right.length;
  const all = [...left, ...Array<string>(Math.max(missing, 0)).fill('0'), ...right];
  return all.reduce((bits, group) => (bits << 16n) | BigInt(parseInt(group || '0', 16)), 0n);
}

/** Why a CIDR string is not one PostgreSQL's cidr type accepts, or null when it is. */
export function cidrProblem(value: string): string | null {
  const [address, prefixText, ...rest] = value.split('/');
  if (!address || prefixText === undefined || rest.length > 0 || !/^\d{1,3}$/.test(prefixText)) return 'must be a network in CIDR notation, e.g. 10.0.0.0/24';
  const family = isIP(address);
  if (family === 0) return 'must start with an IPv4 or IPv6 address';
  const width = family === 4 ? 32 : 128;
  const prefix = Number(prefixText);
  if (prefix > width) return `prefix length must be at most ${width}`;
  const bits = family === 4 ? ipv4Bits(address) : ipv6Bits(address);
  const hostMask = (1n << BigInt(width - prefix)) - 1n;
  if ((bits & hostMask) !== 0n) return 'has bits set to the right of the prefix (give the network address)';
  return null;
}

export const cidr = z
  .string()
  .trim()
  .superRefine((value, ctx) => {
    const problem = cidrProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const macAddress = z
  .string()
  .trim()
  .regex(/^[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}$/, 'must be a MAC address such as 08:00:2b:01:02:03')
  .transform((value) => value.toLowerCase().replaceAll('-', ':'));

export const ipAddress = z
  .string()
  .trim()
  .refine((value) => isIP(value) !== 0, 'must be an IPv4 or IPv6 address');

export const networkInterfaceInput = z.object({
  interfaceName: name(50),
  macAddress,
  ipAddress: ipAddress.optional(),
  interfaceType: z.enum(INTERFACE_TYPES),
  speedMbps: z.number().int().positive().max(10_000_000),
  duplex: z.enum(['full', 'half']).default('full'),
  status: z.enum(INTERFACE_STATUSES).default('up'),
  driver: name(100).optional(),
  firmwareVersion: name(100).optional(),
  pciSlot: name(20).optional(),
  numaNode: z.number().int().min(0).max(1024).optional(),
  topologyId: z.uuid().optional(),
});

export type NetworkInterfaceInput = z.output<typeof networkInterfaceInput>;

const topologyFields = {
  topologyName: name(255),
  networkType: z.enum(NETWORK_TYPES),
  subnet: cidr,
  vlanId: z.number().int().min(1).max(4094).optional(),
  bandwidthMbps: z.number().int().positive().max(10_000_000),
  latencyMs: z.number().finite().min(0).max(9999).optional(),
  mtu: z.number().int().min(576).max(65_535).default(1500),
  qosPolicies: jsonObject,
  securityPolicies: jsonObject,
};

const createTopologyInput = z.object(topologyFields);

const updateTopologyInput = z.object({
  topologyName: topologyFields.topologyName.optional(),
  networkType: topologyFields.networkType.optional(),
  subnet: cidr.optional(),
  vlanId: z.number().int().min(1).max(4094).nullable().optional(),
  bandwidthMbps: topologyFields.bandwidthMbps.optional(),
  latencyMs: z.number().finite().min(0).max(9999).nullable().optional(),
  mtu: z.number().int().min(576).max(65_535).optional(),
  qosPolicies: z.record(z.string(), z.unknown()).optional(),
  securityPolicies: z.record(z.string(), z.unknown()).optional(),
});

export type CreateTopologyInput = z.output<typeof createTopologyInput>;
export type UpdateTopologyInput = z.output<typeof updateTopologyInput>;

export const parseCreateTopology = (input: unknown) => parseInput(createTopologyInput, input);
export const parseUpdateTopology = (input: unknown) => parseInput(updateTopologyInput, input);
/** The address a topology filter's `containsAddress` asks about; refused naming where it was given. */
export function parseContainedAddress(value: unknown, path: string): string {
  const result = ipAddress.safeParse(value);
  if (!result.success) throw new ValidationError(result.error.issues.map((issue) => ({ path, message: issue.message })));
  return result.data;
}
export const parseNetworkInterface = (input: unknown) => parseInput(networkInterfaceInput, input);
