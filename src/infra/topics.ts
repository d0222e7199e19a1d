/** Every pub/sub topic and the payload it carries. Topics are named constants, never ad-hoc strings. */

export const Topic = {
  NodeRegistered: 'cluster.node.registered',
  NodeStatusChanged: 'cluster.node.status_changed',
  NodeDeregistered: 'cluster.node.deregistered',
  SessionStateChanged: 'workloads.session.state_changed',
  DeploymentChanged: 'workloads.deployment.changed',
  MetricsIngested: 'telemetry.metrics.ingested',
  SystemEventRecorded: 'telemetry.system_event.recorded',
  NodeHeartbeatsRecorded: 'cluster.node.heartbeats_recorded',
  ClusterStateChanged: 'cluster.state.changed',
  PrincipalRevoked: 'identity.principal.revoked',
  ConversationMessageAdded: 'ai.conversation.message_added',
  NotificationDeliveryChanged: 'notifications.delivery.changed',
} as const;

export interface TopicPayloads {
  [Topic.NodeRegistered]: NodeRegistryEvent;
  [Topic.NodeStatusChanged]: NodeStatusChangedEvent;
  [Topic.NodeDeregistered]: NodeRegistryEvent;
  [Topic.SessionStateChanged]: SessionStateChangedEvent;
  [Topic.DeploymentChanged]: DeploymentChangedEvent;
  [Topic.MetricsIngested]: MetricsIngestedEvent;
  [Topic.SystemEventRecorded]: SystemEventRecordedEvent;
  [Topic.NodeHeartbeatsRecorded]: NodeHeartbeatsRecordedEvent;
  [Topic.ClusterStateChanged]: ClusterStateChangedEvent;
  [Topic.PrincipalRevoked]: PrincipalRevokedEvent;
  [Topic.ConversationMessageAdded]: ConversationMessageAddedEvent;
  [Topic.NotificationDeliveryChanged]: NotificationDeliveryChangedEvent;
}

export type TopicName = keyof TopicPayloads;

/** A node joined the registry (first registration of its machine) or left it. `at` is ISO-8601. */
export interface NodeRegistryEvent {
  tenantId: string;
  nodeId: string;
  hostname: string;
  at: string;
}

/** A node moved between active, inactive, draining, failed and maintenance. `at` is ISO-8601. */
export interface NodeStatusChangedEvent {
  tenantId: string;
  nodeId: string;
  previousStatus: string;
  status: string;
  at: string;
}

/** A compute session changed state; `allocations` are what it holds (or just released) on `nodeId`. */
export interface SessionStateChangedEvent {
  tenantId: string;
  sessionId: string;
  userId: string;
  /** null when the session was just created */
  previousStatus: string | null;
  status: string;
  nodeId: string | null;
  allocations: { resourceType: string; amount: number; unit: string }[];
  reason: string | null;
  at: string;
}

export const DEPLOYMENT_CHANGES = ['created', 'scaled', 'replica_added', 'replica_removed', 'replica_failed', 'status_changed', 'deleted'] as const;
export type DeploymentChange = (typeof DEPLOYMENT_CHANGES)[number];

/** A deployment was created, scaled, gained or lost a replica, changed status, or was deleted. */
export interface DeploymentChangedEvent {
  tenantId: string;
  deploymentId: string;
  change: DeploymentChange;
  status: string;
  desiredReplicas: number;
  currentReplicas: number;
  nodeId: string | null;
  at: string;
}

/** One accepted metric point: of a node, of a compute session, or (system snapshots) of a node. `time` is ISO-8601. */
export interface MetricPoint {
  nodeId: string | null;
  sessionId: string | null;
  metricType: string;
  value: number;
  time: string;
  /** e.g. percent, bytes; optional so publishers that do not know it may omit it */
  unit?: string | null;
}

/** The points one ingest call accepted, published once per call so a large batch costs one message. */
export interface MetricsIngestedEvent {
  tenantId: string;
  points: MetricPoint[];
}

/** A system event was recorded. `at` is ISO-8601. */
export interface SystemEventRecordedEvent {
  tenantId: string;
  eventId: string;
  eventType: string;
  severity: string;
  nodeId: string | null;
  sessionId: string | null;
  at: string;
}

/** How a node agent reports itself alive: healthy, degraded (alive, reduced) or unhealthy (take it out). */
/** System event severities, most severe first. */
export const SEVERITIES = ['critical', 'error', 'warning', 'info', 'debug'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const HEARTBEAT_STATUSES = ['healthy', 'degraded', 'unhealthy'] as const;
export type HeartbeatHealth = (typeof HEARTBEAT_STATUSES)[number];

/** One heartbeat of a node; `load` is its utilisation from 0 to 1, `at` ISO-8601 (server time). */
export interface NodeHeartbeat {
  nodeId: string;
  status: HeartbeatHealth;
  load: number;
  at: string;
}

/** The heartbeats one call accepted, published once per call so an agent's batch costs one message. */
export interface NodeHeartbeatsRecordedEvent {
  tenantId: string;
  heartbeats: NodeHeartbeat[];
}

/** The seed's cluster:state summary of one tenant. `clusterLoad` is the mean load of live nodes (null: none). */
export interface ClusterStateChangedEvent {
  tenantId: string;
  totalNodes: number;
  activeNodes: number;
  /** sessions scheduled, running or paused */
  totalSessions: number;
  clusterLoad: number | null;
  at: string;
}

/**
 * Credentials stopped being valid before they expire: a sign-in family (logout), an API key
 * (revocation) or every credential of a user (deactivation). Every instance closes matching sockets.
 */
export interface PrincipalRevokedEvent {
  tenantId: string;
  reason: 'logout' | 'api_key_revoked' | 'user_deactivated' | 'role_changed';
  sessionFamilyId?: string | null;
  apiKeyId?: string | null;
  /** set alone: every credential of this user, including API keys they created */
  userId?: string | null;
  at: string;
}

/** A message was appended to a conversation. `at` is ISO-8601. */
export interface ConversationMessageAddedEvent {
  tenantId: string;
  conversationId: string;
  messageId: string;
  role: string;
  at: string;
}

/** The outcome of one attempt to send a notification delivery: delivered, failed (retried later) or dead. */
export interface NotificationDeliveryChangedEvent {
  tenantId: string;
  deliveryId: string;
  configId: string;
  eventId: string;
  eventType: string;
  status: 'delivered' | 'failed' | 'dead';
  /** the attempt that ended, counted from 1 */
  attempt: number;
  responseCode: number | null;
  error: string | null;
  /** when the next attempt is due; null once delivered or dead */
  nextAttemptAt: string | null;
  at: string;
}
