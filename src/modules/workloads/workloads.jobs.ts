import { periodicJob, type BackgroundJob } from '../../infra/jobs.js';
import type { Logger } from '../../infra/logger.js';
import type { ClusterViewsService } from '../cluster/cluster-views.service.js';
import type { ClusterSettings } from '../cluster/settings.js';
import type { DeploymentService } from './deployment.service.js';
import type { SchedulerService } from './scheduler.service.js';
import type { SessionControlLoop } from './session-control-loop.js';

/**
 * The scheduler pass over pending sessions, the session control loop (failed nodes, max runtime),
 * the deployment reconciler and the dashboard views' refresh. Every instance runs them; per-tenant advisory locks let one instance do each tenant's work.
 */
export function createWorkloadJobs(
  services: { scheduler: SchedulerService; sessionControl: SessionControlLoop; deployments: DeploymentService; clusterViews: ClusterViewsService },
  settings: ClusterSettings,
  log: Logger,
): BackgroundJob[] {
  return [
    periodicJob('workloads.scheduler-pass', settings.schedulerPassIntervalMs, async () => void (await services.scheduler.runPass()), log),
    periodicJob('workloads.session-control-loop', settings.schedulerPassIntervalMs, async () => void (await services.sessionControl.runPass()), log),
    periodicJob('workloads.deployment-reconciler', settings.deploymentReconcileIntervalMs, async () => void (await services.deployments.runReconciler()), log),
    periodicJob('cluster.views-refresh', settings.clusterViewsRefreshIntervalMs, () => services.clusterViews.refreshIfNoOtherInstanceIs(), log),
  ];
}
