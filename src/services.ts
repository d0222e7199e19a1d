import type { Config } from './config.js';
import type { Database } from './infra/db.js';
import type { BackgroundJob } from './infra/jobs.js';
import type { Logger } from './infra/logger.js';
import { disabledTableMaintenance, embeddedTableMaintenance, type TableMaintenance } from './infra/table-maintenance.js';
import { createTableMaintenanceJobs } from './infra/table-maintenance.jobs.js';
import { SecretBox } from './infra/secret-box.js';
import { ALL_TENANTS, type PubSub } from './infra/pubsub.js';
import { Topic } from './infra/topics.js';
import { ClusterViewsService } from './modules/cluster/cluster-views.service.js';
import { NetworkService } from './modules/cluster/network.service.js';
import { NodeService } from './modules/cluster/node.service.js';
import { RegionService } from './modules/cluster/region.service.js';
import type { ClusterSettings } from './modules/cluster/settings.js';
import { StorageService } from './modules/cluster/storage.service.js';
import { DeploymentService } from './modules/workloads/deployment.service.js';
import { SchedulerService } from './modules/workloads/scheduler.service.js';
import { ComputeSessionService } from './modules/workloads/compute-session.service.js';
import { SessionControlLoop } from './modules/workloads/session-control-loop.js';
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
import { DocumentCollectionService } from './modules/ai/document-collection.service.js';
import { DocumentService } from './modules/ai/document.service.js';
import { EmbeddingIndexService } from './modules/ai/embedding-index.service.js';
import { ExactVectorScan } from './modules/ai/exact-vector-scan.js';
import { ModelCatalogService } from './modules/ai/model.service.js';
import { ResponseCacheService } from './modules/ai/response-cache.service.js';
import { SystemEventService } from './modules/telemetry/event.service.js';
import { LlmMetricsService } from './modules/telemetry/llm-metrics.service.js';
import { TelemetryMaintenanceService } from './modules/telemetry/maintenance.service.js';
import { MetricsService } from './modules/telemetry/metrics.service.js';
import { createTelemetryJobs } from './modules/telemetry/telemetry.jobs.js';
import { ToolAnalyticsService } from './modules/tools/tool.service.js';
import { ArchiveService } from './modules/lifecycle/archive.service.js';
import { createLifecycleJobs } from './modules/lifecycle/lifecycle.jobs.js';
import { RetentionService } from './modules/lifecycle/retention.service.js';
import { createRealtimeJobs } from './modules/realtime/realtime.jobs.js';
import { createDemoFleetJobs } from './agent/demo-fleet.jobs.js';
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
  sessionControl: SessionControlLoop;
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
  documentCollections: DocumentCollectionService;
  documents: DocumentService;
  embeddingIndex: EmbeddingIndexService;
  tableMaintenance: TableMaintenance;
  responseCache: ResponseCacheService;
  toolAnalytics: ToolAnalyticsService;
  realtime: RealtimeService;
  /** Seals secrets at rest under ENCRYPTION_KEY. */
  secrets: SecretBox;
  retention: RetentionService;
  archives: ArchiveService;
}

export function createServices(deps: ServiceDeps): Services {
  const authenticator = new Authenticator(deps.db.system, deps.tokens);
  const securityLog = new SecurityLog(deps.db.system);
  const { notifications: notificationSettings, cluster: clusterSettings } = deps.config;
  // Half the ORM's connections for placements, so reads and other writes keep connections while placements queue.
  const scheduler = new SchedulerService(deps.db.prisma, deps.db.system, deps.pubsub, deps.log, clusterSettings, Math.floor(deps.db.ormConnections / 2));
  const tableMaintenance = deps.config.tableMaintenanceIntervalMs === undefined ? disabledTableMaintenance : embeddedTableMaintenance(deps.db, deps.log);
  const documentCollections = new DocumentCollectionService(deps.db.prisma, deps.db.system);
  const embeddingIndex = new EmbeddingIndexService(deps.db.prisma, deps.db.system, deps.config.database.embeddingIndex, tableMaintenance);
  const realtime = new RealtimeService({ prisma: deps.db.prisma, system: deps.db.system, pubsub: deps.pubsub, log: deps.log, redisUrl: deps.config.redisUrl, namespace: deps.config.pubsub.namespace, settings: deps.config.realtime });
  const secrets = SecretBox.fromConfig(deps.config.encryption);
  // A revocation drops cached user checks here at once, and on other instances when the event reaches them.
  const announceRevocation: typeof realtime.announceRevocation = async (event) => {
    authenticator.forget(event);
    await realtime.announceRevocation(event);
  };
  deps.pubsub.listen(Topic.PrincipalRevoked, ALL_TENANTS, (event) => authenticator.forget(event));
  const identityAdmin = new IdentityAdminService(deps.db.prisma, deps.db.system, securityLog, announceRevocation);
  const rateLimiter = new RateLimiter(deps.config.redisUrl, deps.config.auth.userRateLimitPerMinute, deps.config.edge.signInFailuresPerAddress);
  return {
    authenticator,
    rateLimiter,
    signInSessions: new SignInSessionService(deps.db.system, deps.tokens, authenticator, securityLog, deps.config.auth, announceRevocation, secrets, rateLimiter),
    apiKeys: new ApiKeyService(deps.db.prisma, securityLog, announceRevocation),
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
    computeSessions: new ComputeSessionService(deps.db.prisma, deps.pubsub, deps.log, clusterSettings, scheduler, secrets),
    sessionControl: new SessionControlLoop(deps.db.system, deps.pubsub, deps.log),
    deployments: new DeploymentService(deps.db.prisma, deps.db.system, deps.pubsub, deps.log, clusterSettings),
    usage: new UsageService(deps.db.prisma),
    billing: new BillingService(deps.db.prisma, deps.db.system, deps.log),
    notificationSettings,
    notificationConfigs: new NotificationConfigService(deps.db.prisma, { allowPrivateTargets: notificationSettings.allowPrivateTargets }, secrets),
    notifications: new NotificationService(deps.db.prisma),
    metrics: new MetricsService(deps.db.prisma, deps.db.system, deps.pubsub, deps.log, deps.db.tenantRows),
    // onLlmRequestRecorded is where each recorded LLM request can become a usage record.
    llmMetrics: new LlmMetricsService({ prisma: deps.db.prisma, system: deps.db.system, pubsub: deps.pubsub, log: deps.log }),
    systemEvents: new SystemEventService(deps.db.prisma, deps.pubsub, deps.log),
    telemetryMaintenance: new TelemetryMaintenanceService(deps.db.system, deps.log, deps.config.telemetry),
    models: new ModelCatalogService(deps.db.prisma),
    conversations: new ConversationService(deps.db.prisma, deps.pubsub, deps.log),
    documentCollections,
    documents: new DocumentService(
      deps.db.prisma,
      deps.db.tenantRows,
      documentCollections,
      tableMaintenance,
      embeddingIndex,
      new ExactVectorScan(deps.db.tenantRows, deps.config.database.vectorScanMemoryBytes),
    ),
    embeddingIndex,
    tableMaintenance,
    responseCache: new ResponseCacheService(deps.db.prisma, deps.db.system, deps.log),
    toolAnalytics: new ToolAnalyticsService(deps.db.prisma, deps.config.tools.tokenPricePerMillion),
    realtime,
    secrets,
    retention: new RetentionService(deps.db.system, deps.log, deps.config.retention),
    archives: new ArchiveService(),
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
      secrets: services.secrets,
    }),
    ...createTelemetryJobs(services.telemetryMaintenance, deps.log),
    ...createAiJobs(services.responseCache, services.embeddingIndex, deps.config.database.embeddingIndex, deps.log),
    ...createTableMaintenanceJobs(services.tableMaintenance, deps.config.tableMaintenanceIntervalMs, deps.log),
    ...createWorkloadJobs(services, services.clusterSettings, deps.log),
    ...createRealtimeJobs(services.realtime, deps.log),
    ...createLifecycleJobs(services.retention, deps.log),
    ...createDemoFleetJobs(deps.config.demoFleet, services, deps.db.system, deps.log),
  ];
}
