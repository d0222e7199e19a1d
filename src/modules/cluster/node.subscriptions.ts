import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { principalOf } from '../../context.js';
import { HEARTBEAT_STATUSES, type NodeHeartbeat, type NodeStatusChangedEvent } from '../../infra/topics.js';
import { subscriptionErrors } from '../shared/graphql-errors.js';
import { enumValues } from '../shared/graphql.js';
import { ClusterNodeRef, NodeStatusEnum } from './node.schema.js';

export const nodeGlobalId = (nodeId: string) => encodeGlobalID('ClusterNode', nodeId);

export const HeartbeatStatusEnum = builder.enumType('HeartbeatStatus', {
  description: 'How a node agent reports itself: UNHEALTHY takes the node out (failed); a later healthy heartbeat brings it back',
  values: enumValues(HEARTBEAT_STATUSES),
});

export const NodeHeartbeatRef = builder.objectRef<NodeHeartbeat>('NodeHeartbeat').implement({
  description: 'One heartbeat of a node, as node:heartbeat:{node_id} holds it',
  fields: (t) => ({
    nodeId: t.id({ description: 'The ClusterNode id', resolve: (beat) => nodeGlobalId(beat.nodeId) }),
    status: t.field({ type: HeartbeatStatusEnum, resolve: (beat) => beat.status }),
    load: t.exposeFloat('load', { description: 'Utilisation from 0 to 1' }),
    at: t.field({ type: 'DateTime', description: 'When the server received it', resolve: (beat) => new Date(beat.at) }),
  }),
});

const NodeStatusChangeRef = builder.objectRef<NodeStatusChangedEvent>('NodeStatusChange').implement({
  description: 'A node moved between ACTIVE, INACTIVE, DRAINING, FAILED and MAINTENANCE',
  fields: (t) => ({
    nodeId: t.id({ description: 'The ClusterNode id', resolve: (event) => nodeGlobalId(event.nodeId) }),
    previousStatus: t.field({ type: NodeStatusEnum, resolve: (event) => event.previousStatus as never }),
    status: t.field({ type: NodeStatusEnum, resolve: (event) => event.status as never }),
    at: t.field({ type: 'DateTime', resolve: (event) => new Date(event.at) }),
  }),
});

builder.subscriptionFields((t) => ({
  nodeHeartbeat: t.field({
    type: NodeHeartbeatRef,
    description: "Each heartbeat of one node, or of all the tenant's nodes",
    authScopes: { permission: 'cluster:read' },
    args: { nodeId: t.arg.globalID({ required: false, for: ClusterNodeRef }) },
    subscribe: (_root, args, ctx) => subscriptionErrors(() => ctx.services.realtime.feeds.nodeHeartbeats(principalOf(ctx), args.nodeId?.id ?? null)),
    resolve: (beat) => beat,
  }),
  nodeStatusChanged: t.field({
    type: NodeStatusChangeRef,
    description: "Status transitions of one node, or of all the tenant's nodes",
    authScopes: { permission: 'cluster:read' },
    args: { nodeId: t.arg.globalID({ required: false, for: ClusterNodeRef }) },
    subscribe: (_root, args, ctx) => subscriptionErrors(() => ctx.services.realtime.feeds.nodeStatusChanges(principalOf(ctx), args.nodeId?.id ?? null)),
    resolve: (event) => event,
  }),
}));
