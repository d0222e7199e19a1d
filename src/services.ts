import type { Config } from './config.js';
import type { Database } from './infra/db.js';
import type { BackgroundJob } from './infra/jobs.js';
import type { Logger } from './infra/logger.js';
import type { PubSub } from './infra/pubsub.js';
import { ClusterViewsService } from './modules/cluster/cluster-views.service.js';
import { NetworkService } from './modules/cluster/network.service.js';
import { NodeService } from './modules/cluster/node.service.js';
import { RegionService } from './modules/cluster/region.service.js';
import type { ClusterSettings } from './modules/cluster/settings.js';
import { StorageService } from './modules/cluster/storage.service.js';
import { DeploymentService } from './modules/workloads/deployment.service.js';
import { SchedulerService } from './modules/workloads/scheduler.service.js';
import { ComputeSessionService } from './modules/workloads/compute-session.service.js';
import { createWorkloadJobs } from './modules/workloads/workloads.jobs.js';
import { IdentityAdminService } from './modules/identity/admin.service.js';
import { OperatorService } from './modules/identity/operator.service.js';
import { ApiKeyService } from './modules/identity/api-key.service.js';
import { Authenticator } from './modules/identity/authentication.js';
import { RateLimiter } from './modules/identity/rate-limit.js';
import { SecurityLog } from './modules/identity/security-log.js';
import { SignInSessionService } from './modules/identity/sign-in-session.service.js';
import type { TokenService } from './modules/identity/tokens.js';
import { createBillingJobs } from './modules/billing/billing.jobs.js';
import { BillingService } from './modules/billing/billing.service.js';
import { UsageService } from './modules/billing/usage.service.js';
import { NotificationConfigService } from './modules/notifications/notification-config.service.js';
import { createNotificationJobs } from './modules/notifications/notification.jobs.js';
import { NotificationService } from './modules/notifications/notification.service.js';
import type { NotificationSettings } from './modules/notifications/notification.settings.js';
import { createAiJobs } from './modules/ai/ai.jobs.js';
import { ConversationService } from './modules/ai/conversation.service.js';
import { DocumentService } from './modules/ai/document.service.js';
import { ModelCatalogService } from './modules/ai/model.service.js';
import { ResponseCacheService } from './modules/ai/response-cache.service.js';
import { SystemEventService } from './modules/telemetry/event.service.js';
import { LlmMetricsService } from './modules/telemetry/llm-metrics.service.js';
import { TelemetryMaintenanceService } from './modules/telemetry/maintenance.service.js';
import { MetricsService } from './modules/telemetry/metrics.service.js';
import { createTelemetryJobs } from './modules/telemetry/telemetry.jobs.js';
import { ToolAnalyticsService } from './modules/tools/tool.service.js';
import { createRealtimeJobs } from './modules/realtime/realtime.jobs.js';
import { RealtimeService } from './modules/realtime/realtime.service.js';

/** What services are built from. `db.prisma` is tenant-scoped; `db.system` is for cross-tenant work. */
export interface ServiceDeps {
  config: Config;
  db: Database;
  pubsub: PubSub;
  log: Logger;
  tokens: TokenService;
}

export interface Services {
  authenticator: Authenticator;
  rateLimiter: RateLimiter;
  signInSessions: SignInSessionService;
  apiKeys: ApiKeyService;
  identityAdmin: IdentityAdminService;
  operator: OperatorService;
  nodes: NodeService;
  regions: RegionService;
  clusterSettings: ClusterSettings;
  network: NetworkService;
  storage: StorageService;
  clusterViews: ClusterViewsService;
  scheduler: SchedulerService;
  computeSessions: ComputeSessionService;
  deployments: DeploymentService;
  usage: UsageService;
  billing: BillingService;
  notificationSettings: NotificationSettings;
  notificationConfigs: NotificationConfigService;
  notifications: NotificationService;
  metrics: MetricsService;
  llmMetrics: LlmMetricsService;
  systemEvents: SystemEventService;
  telemetryMaintenance: TelemetryMaintenanceService;
  models: ModelCatalogService;
  conversations: ConversationService;
  documents: DocumentService;
  responseCache: ResponseCacheService;
  toolAnalytics: ToolAnalyticsService;
  realtime: RealtimeService;
}

export function createServices(deps: ServiceDeps): Services {
  const authenticator = new Authenticator(deps.db.system, deps.tokens);
  const securityLog = new SecurityLog(deps.db.system);
  const { notifications: notificationSettings, cluster: clusterSettings } = deps.config;
  // Half the pool for placements, so reads and other writes keep connections while placements queue.
  const scheduler = new SchedulerService(deps.db.prisma, deps.db.system, deps.pubsub, deps.log, clusterSettings, Math.floor(deps.config.dbPoolMax / 2));
  const realtime = new RealtimeService({ prisma: deps.db.prisma, system: deps.db.system, pubsub: deps.pubsub, log: deps.log, redisUrl: deps.config.redisUrl, settings: deps.config.realtime });
  const identityAdmin = new IdentityAdminService(deps.db.prisma, deps.db.system, securityLog, realtime.announceRevocation);
  return {
    authenticator,
    rateLimiter: new RateLimiter(deps.config.redisUrl, deps.config.auth.userRateLimitPerMinute),
    signInSessions: new SignInSessionService(deps.db.system, deps.tokens, authenticator, securityLog, deps.config.auth, realtime.announceRevocation),
    apiKeys: new ApiKeyService(deps.db.prisma, securityLog, realtime.announceRevocation),
    identityAdmin,
    // Operator commands run outside any request, so on the owner's connection; they filter by tenant themselves.
    operator: new OperatorService(deps.db.system, securityLog, new ApiKeyService(deps.db.system, securityLog)),
    nodes: new NodeService(deps.db.prisma, deps.pubsub, deps.log, clusterSettings),
    regions: new RegionService(deps.db.system, (principal) => identityAdmin.isPlatformAdmin(principal)),
    clusterSettings,
    network: new NetworkService(deps.db.prisma),
    storage: new StorageService(deps.db.prisma),
    clusterViews: new ClusterViewsService(deps.db.prisma, deps.db.system),
    scheduler,
    computeSessions: new ComputeSessionService(deps.db.prisma, deps.pubsub, deps.log, clusterSettings, scheduler),
    deployments: new DeploymentService(deps.db.prisma, deps.db.system, deps.pubsub, deps.log, clusterSettings),
    usage: new UsageService(deps.db.prisma),
    billing: new BillingService(deps.db.prisma, deps.db.system, deps.log),
    notificationSettings,
    notificationConfigs: new NotificationConfigService(deps.db.prisma, { allowPrivateTargets: notificationSettings.allowPrivateTargets }),
    notifications: new NotificationService(deps.db.prisma),
    metrics: new MetricsService(deps.db.prisma, deps.db.system, deps.pubsub, deps.log),
    // onLlmRequestRecorded is where each recorded LLM request can become a usage record.
    llmMetrics: new LlmMetricsService({ prisma: deps.db.prisma, system: deps.db.system, pubsub: deps.pubsub, log: deps.log }),
    systemEvents: new SystemEventService(deps.db.prisma, deps.pubsub, deps.log),
    telemetryMaintenance: new TelemetryMaintenanceService(deps.db.system, deps.log, deps.config.telemetry),
    models: new ModelCatalogService(deps.db.prisma),
    conversations: new ConversationService(deps.db.prisma),
    documents: new DocumentService(deps.db.prisma, deps.db.system),
    responseCache: new ResponseCacheService(deps.db.prisma, deps.db.system, deps.log),
    toolAnalytics: new ToolAnalyticsService(deps.db.prisma, deps.config.tools.tokenPricePerMillion),
    realtime,
  };
}

/** The background jobs each API instance runs; each guards its own single-instance needs. */
export function createJobs(deps: ServiceDeps, services: Services): BackgroundJob[] {
  return [
    ...createBillingJobs(services.billing, deps.log, deps.config.billing),
    ...createNotificationJobs({
      system: deps.db.system,
      pubsub: deps.pubsub,
      log: deps.log,
      notifications: services.notifications,
      settings: services.notificationSettings,
    }),
    ...createTelemetryJobs(services.telemetryMaintenance, deps.log),
    ...createAiJobs(services.responseCache, deps.log),
    ...createWorkloadJobs(services, services.clusterSettings, deps.log),
    ...createRealtimeJobs(services.realtime, deps.log),
  ];
}
