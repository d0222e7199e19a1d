import type { NetworkTopology, NodeNetworkInterface, Prisma, PrismaClient } from '../../generated/prisma/client.js';
import { ConflictError, NotFoundError } from '../shared/errors.js';
import { parseContainedAddress, parseCreateTopology, parseUpdateTopology } from './network.validation.js';

/** A topology with its cidr subnet, which Prisma cannot read, filled in from SQL. */
export type TopologyWithSubnet = NetworkTopology & { subnet: string };
/** An interface with its macaddr, which Prisma cannot read, filled in from SQL. */
export type InterfaceWithMac = NodeNetworkInterface & { macAddress: string };

/** A topology list filter: its conditions composed with and / or / not. */
export interface TopologyFilterTree {
  [field: string]: unknown;
  containsAddress?: unknown;
  and?: TopologyFilterTree[] | null;
  or?: TopologyFilterTree[] | null;
  not?: TopologyFilterTree | null;
}

/** What a filter's `containsAddress` becomes once resolved: the topologies whose subnet holds the address. */
export interface ContainedAddress {
  topologyIds: string[];
}

/** Network topologies and node interfaces; cidr and macaddr columns go through parameterised SQL. */
export class NetworkService {
  constructor(private readonly prisma: PrismaClient) {}

  async createTopology(tenantId: string, rawInput: unknown): Promise<TopologyWithSubnet> {
    const input = parseCreateTopology(rawInput);
    const id = await this.prisma.$transaction(async (tx) => {
      await this.assertNoClash(tx, tenantId, null, input.topologyName, input.subnet);
      const [row] = await tx.$queryRaw<{ id: string }[]>`
        INSERT INTO network_topologies
          (tenant_id, topology_name, network_type, subnet, vlan_id, bandwidth_mbps, latency_ms, mtu, qos_policies, security_policies)
        VALUES (${tenantId}::uuid, ${input.topologyName}, ${input.networkType}, ${input.subnet}::cidr, ${input.vlanId ?? null}::int,
                ${input.bandwidthMbps}::int, ${input.latencyMs ?? null}::numeric, ${input.mtu}::int,
                ${JSON.stringify(input.qosPolicies)}::jsonb, ${JSON.stringify(input.securityPolicies)}::jsonb)
        RETURNING topology_id::text AS id`;
      return row!.id;
    });
    return this.topology(tenantId, id);
  }

  async updateTopology(tenantId: string, id: string, rawInput: unknown): Promise<TopologyWithSubnet> {
    const input = parseUpdateTopology(rawInput);
    await this.prisma.$transaction(async (tx) => {
      const existing = await tx.networkTopology.findFirst({ where: { id, tenantId }, select: { id: true } });
      if (!existing) throw new NotFoundError('NetworkTopology', id);
      await this.assertNoClash(tx, tenantId, id, input.topologyName, input.subnet);
      const { subnet, qosPolicies, securityPolicies, ...columns } = input;
      await tx.networkTopology.update({
        where: { id },
        data: {
          ...columns,
          ...(qosPolicies ? { qosPolicies: qosPolicies as Prisma.InputJsonObject } : {}),
          ...(securityPolicies ? { securityPolicies: securityPolicies as Prisma.InputJsonObject } : {}),
        },
      });
      if (subnet) await tx.$executeRaw`UPDATE network_topologies SET subnet = ${subnet}::cidr WHERE topology_id = ${id}::uuid AND tenant_id = ${tenantId}::uuid`;
    });
    return this.topology(tenantId, id);
  }

  /** Deletes a topology; its interfaces stay on their nodes, detached (the foreign key sets null). */
  async deleteTopology(tenantId: string, id: string): Promise<string> {
    const { count } = await this.prisma.networkTopology.deleteMany({ where: { id, tenantId } });
    if (count === 0) throw new NotFoundError('NetworkTopology', id);
    return id;
  }

  async topology(tenantId: string, id: string): Promise<TopologyWithSubnet> {
    const row = await this.prisma.networkTopology.findFirst({ where: { id, tenantId } });
    if (!row) throw new NotFoundError('NetworkTopology', id);
    const [withSubnet] = await this.withSubnets(tenantId, [row]);
    return withSubnet!;
  }

  /**
   * The topology filter with every `containsAddress`, at any depth, replaced by the tenant's topologies
   * whose subnet holds that address: Prisma cannot compare cidr values, so SQL finds them first. Parts
   * nested deeper than `maxDepth` are left as they are, for the list to refuse before any query runs.
   */
  async resolveContainedAddresses<F extends TopologyFilterTree>(
    tenantId: string,
    filter: F | null | undefined,
    maxDepth: number,
    path = 'filter',
    depth = 1,
  ): Promise<F | null | undefined> {
    if (!filter || depth > maxDepth) return filter;
    const resolved: TopologyFilterTree = { ...filter };
    if (filter.containsAddress !== null && filter.containsAddress !== undefined) {
      const address = parseContainedAddress(filter.containsAddress, `${path}.containsAddress`);
      resolved.containsAddress = { topologyIds: await this.topologiesContaining(tenantId, address) } satisfies ContainedAddress;
    }
    const parts = async (list: TopologyFilterTree[], name: string) => {
      const out: TopologyFilterTree[] = [];
      for (const [index, part] of list.entries()) out.push((await this.resolveContainedAddresses(tenantId, part, maxDepth, `${path}.${name}.${index}`, depth + 1))!);
      return out;
    };
    if (filter.and) resolved.and = await parts(filter.and, 'and');
    if (filter.or) resolved.or = await parts(filter.or, 'or');
    if (filter.not) resolved.not = await this.resolveContainedAddresses(tenantId, filter.not, maxDepth, `${path}.not`, depth + 1);
    return resolved as F;
  }

  private async topologiesContaining(tenantId: string, address: string): Promise<string[]> {
    const rows = await this.prisma.$queryRaw<{ id: string }[]>`
      SELECT topology_id::text AS id FROM network_topologies
      WHERE tenant_id = ${tenantId}::uuid AND subnet >>= ${address}::inet`;
    return rows.map((row) => row.id);
  }

  /** Fills in subnets for a page of topologies with one query. */
  async withSubnets<T extends NetworkTopology>(tenantId: string, rows: T[]): Promise<(T & { subnet: string })[]> {
    if (rows.length === 0) return [];
    const subnets = await this.prisma.$queryRaw<{ id: string; subnet: string }[]>`
      SELECT topology_id::text AS id, subnet::text AS subnet FROM network_topologies
      WHERE tenant_id = ${tenantId}::uuid AND topology_id = ANY(${rows.map((row) => row.id)}::uuid[])`;
    const byId = new Map(subnets.map((row) => [row.id, row.subnet]));
    return rows.map((row) => Object.assign(row, { subnet: byId.get(row.id) ?? '' }));
  }

  /** Fills in MAC addresses for a page of interfaces with one query. */
  async withMacAddresses<T extends NodeNetworkInterface>(tenantId: string, rows: T[]): Promise<(T & { macAddress: string })[]> {
    if (rows.length === 0) return [];
    const macs = await this.prisma.$queryRaw<{ id: string; mac: string }[]>`
      SELECT interface_id::text AS id, mac_address::text AS mac FROM node_network_interfaces
      WHERE tenant_id = ${tenantId}::uuid AND interface_id = ANY(${rows.map((row) => row.id)}::uuid[])`;
    const byId = new Map(macs.map((row) => [row.id, row.mac]));
    return rows.map((row) => Object.assign(row, { macAddress: byId.get(row.id) ?? '' }));
  }

  /** One subnet or MAC address for a row that was loaded without it (e.g. through a relation). */
  async subnetOf(tenantId: string, id: string): Promise<string> {
    const [row] = await this.prisma.$queryRaw<{ subnet: string }[]>`
      SELECT subnet::text AS subnet FROM network_topologies WHERE topology_id = ${id}::uuid AND tenant_id = ${tenantId}::uuid`;
    return row?.subnet ?? '';
  }

  async macAddressOf(tenantId: string, id: string): Promise<string> {
    const [row] = await this.prisma.$queryRaw<{ mac: string }[]>`
      SELECT mac_address::text AS mac FROM node_network_interfaces WHERE interface_id = ${id}::uuid AND tenant_id = ${tenantId}::uuid`;
    return row?.mac ?? '';
  }

  /** A topology's name is unique in its tenant and its subnet overlaps no other of the tenant's. */
  private async assertNoClash(tx: Prisma.TransactionClient, tenantId: string, id: string | null, name: string | undefined, subnet: string | undefined) {
    if (name) {
      const sameName = await tx.networkTopology.findFirst({ where: { tenantId, topologyName: name, ...(id ? { NOT: { id } } : {}) }, select: { id: true } });
      if (sameName) throw new ConflictError(`a network topology named ${name} exists`, 'topologyName');
    }
    if (subnet) {
      const [overlap] = await tx.$queryRaw<{ name: string; subnet: string }[]>`
        SELECT topology_name AS name, subnet::text AS subnet FROM network_topologies
        WHERE tenant_id = ${tenantId}::uuid AND subnet && ${subnet}::cidr AND topology_id IS DISTINCT FROM ${id}::uuid
        LIMIT 1`;
      if (overlap) throw new ConflictError(`subnet ${subnet} overlaps ${overlap.subnet} of ${overlap.name}`, 'subnet');
    }
  }
}
