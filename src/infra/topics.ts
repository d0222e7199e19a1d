/** Every pub/sub topic and the payload it carries. Topics are named constants, never ad-hoc strings. */

export const Topic = {
  NodeRegistered: 'cluster.node.registered',
} as const;

export interface TopicPayloads {
  [Topic.NodeRegistered]: { tenantId: string; nodeId: string };
}

export type TopicName = keyof TopicPayloads;
