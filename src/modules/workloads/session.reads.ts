import { globalId, json, list, readModel, scalar, time, type ReadModel } from '../shared/compiled-read.js';

/** How a session's allocations are read in one statement (see compiled-read); `node` falls back. */
export const sessionAllocationReads: ReadModel = readModel({
  typename: 'SessionAllocation',
  table: 'session_allocations',
  cursor: ['id'],
  columns: {
    id: scalar('allocation_id'),
    tenantId: scalar('tenant_id'),
    sessionId: scalar('session_id'),
    nodeId: scalar('node_id'),
    resourceType: scalar('resource_type'),
    allocatedAmount: scalar('allocated_amount'),
    unit: scalar('unit'),
    allocationTime: time('allocation_time'),
    deallocationTime: time('deallocation_time'),
    status: scalar('status'),
  },
  fields: {},
});

/** How sessions are read in one statement; fields not listed here (user, scheduledNode, storageVolumes) fall back. */
export const sessionReads: ReadModel = readModel({
  typename: 'Session',
  table: 'sessions',
  cursor: ['id'],
  columns: {
    id: scalar('session_id'),
    seq: scalar('seq'),
    tenantId: scalar('tenant_id'),
    userId: scalar('user_id'),
    sessionName: scalar('session_name'),
    sessionType: scalar('session_type'),
    application: scalar('application'),
    containerImage: scalar('container_image'),
    command: scalar('command'),
    status: scalar('status'),
    priority: scalar('priority'),
    maxRuntimeMinutes: scalar('max_runtime_minutes'),
    cpuRequest: scalar('cpu_request'),
    cpuLimit: scalar('cpu_limit'),
    memoryRequestGb: scalar('memory_request_gb'),
    memoryLimitGb: scalar('memory_limit_gb'),
    gpuRequest: scalar('gpu_request'),
    gpuType: scalar('gpu_type'),
    storageRequestGb: scalar('storage_request_gb'),
    networkPolicy: scalar('network_policy'),
    environmentVariables: json('environment_variables'),
    resourceConstraints: json('resource_constraints'),
    placementPreferences: json('placement_preferences'),
    schedulingNotes: json('scheduling_notes'),
    scheduledNodeId: scalar('scheduled_node_id'),
    startTime: time('start_time'),
    endTime: time('end_time'),
    createdAt: time('created_at'),
    updatedAt: time('updated_at'),
  },
  fields: {
    id: globalId('Session', ['id']),
    allocations: list(() => sessionAllocationReads, 'sessionId', 'id', [{ allocationTime: 'asc' }, { resourceType: 'asc' }]),
  },
});
