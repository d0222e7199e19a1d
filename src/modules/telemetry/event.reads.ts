import { fromColumn, globalId, json, readModel, scalar, time, type ReadModel } from '../shared/compiled-read.js';

/** How system events are read in one statement (see compiled-read); sourceNode and session fall back. */
export const systemEventReads: ReadModel = readModel({
  typename: 'SystemEvent',
  table: 'system_events',
  cursor: ['id', 'timestamp'],
  columns: {
    id: scalar('event_id'),
    timestamp: time('timestamp'),
    seq: scalar('seq'),
    tenantId: scalar('tenant_id'),
    eventType: scalar('event_type'),
    severity: scalar('severity'),
    sourceComponent: scalar('source_component'),
    sourceNodeId: scalar('source_node_id'),
    sessionId: scalar('session_id'),
    userId: scalar('user_id'),
    message: scalar('message'),
    details: json('details'),
    resolvedAt: time('resolved_at'),
    resolvedById: scalar('resolved_by'),
  },
  fields: {
    id: globalId('SystemEvent', ['id', 'timestamp']),
    eventId: fromColumn('id'),
    userId: globalId('User', ['userId']),
    resolvedByUserId: globalId('User', ['resolvedById']),
  },
});
