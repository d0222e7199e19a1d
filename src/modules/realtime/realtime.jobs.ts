import { periodicJob, type BackgroundJob } from '../../infra/jobs.js';
import type { Logger } from '../../infra/logger.js';
import type { RealtimeService } from './realtime.service.js';

/**
 * The liveness sweeper (one instance at a time sweeps), the cluster:state refresher, and the
 * write-behind of heartbeats to nodes.last_heartbeat, which also writes what is pending when it stops.
 */
export function createRealtimeJobs(realtime: RealtimeService, log: Logger): BackgroundJob[] {
  const { settings } = realtime;
  const heartbeatFlush = periodicJob('realtime.heartbeat-flush', settings.heartbeatFlushIntervalMs, async () => void (await realtime.heartbeats.flush()), log);
  return [
    periodicJob('realtime.liveness-sweeper', settings.livenessSweepIntervalMs, async () => void (await realtime.sweeper.sweep()), log),
    periodicJob('realtime.cluster-state', settings.clusterStateIntervalMs, async () => void (await realtime.clusterState.refreshChanged()), log),
    {
      name: heartbeatFlush.name,
      servesRequests: true,
      start: heartbeatFlush.start,
      async stop() {
        await heartbeatFlush.stop();
        await heartbeatFlush.runNow();
      },
    },
  ];
}
