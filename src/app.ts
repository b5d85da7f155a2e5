import type { FastifyInstance } from "fastify";
import { join } from "node:path";
import type { ServeConfig } from "./config.js";
import { LocalBackend } from "./engine/local-backend.js";
import { EmbeddingService } from "./engine/embeddings/embedding-service.js";
import { ModelPool } from "./engine/model-pool.js";
import { PoolSettings } from "./engine/pool/pool-settings.js";
import { HubTokenStore } from "./hub/hub-token.js";
import { loadDerivedKey, loadSecretBox } from "./security/secret-box.js";
import { ModelSettingsRepository } from "./store/model-settings-repo.js";
import { ModelRegistry } from "./engine/model-registry.js";
import { synthesizeModel } from "./engine/synth/synthesize.js";
import { AuditRetention, DEFAULT_RETENTION } from "./audit/retention.js";
import { AuditWriter } from "./audit/audit-writer.js";
import { AuthService, type LoginLimits } from "./auth/auth-service.js";
import { checkExposure } from "./auth/exposure.js";
import { buildHttpServer } from "./http/server.js";
import { DownloadManager } from "./hub/downloader.js";
import { HubClient } from "./hub/hub-client.js";
import { LifecycleBus } from "./observability/lifecycle.js";
import { Metrics } from "./observability/metrics.js";
import { setupTracing, type TracingOptions } from "./observability/tracing.js";
import { ProviderSet } from "./routing/provider-set.js";
import { Router } from "./routing/router.js";
import { ProvidersRepository } from "./store/providers-repo.js";
import { RoutingRulesRepository } from "./store/routing-rules-repo.js";
import { TimeoutSettings } from "./settings/timeouts.js";
import { AuditRepository } from "./store/audit-repo.js";
import { openDatabase, type Db } from "./store/db.js";
import { ApiKeysRepository } from "./store/api-keys-repo.js";
import { SessionsRepository } from "./store/sessions-repo.js";
import { SettingsRepository } from "./store/settings-repo.js";
import { UsageRepository } from "./store/usage-repo.js";
import { UsersRepository } from "./store/users-repo.js";
import { VERSION } from "./version.js";

/** The name of the tiny synthetic model a fresh install creates so it can answer at once. */
export const DEMO_MODEL = "llmux-demo";

/** A running llmux: every long-lived part, wired once. */
export interface App {
  config: ServeConfig;
  http: FastifyInstance;
  db: Db;
  registry: ModelRegistry;
  pool: ModelPool;
  /** Per-model load and request settings. */
  modelSettings: ModelSettingsRepository;
  /** Embedding models, each in its own runner process. */
  embeddings: EmbeddingService;
  bus: LifecycleBus;
  timeouts: TimeoutSettings;
  auditRepo: AuditRepository;
  auditWriter: AuditWriter;
  /** Users, sessions and API keys. */
  auth: AuthService;
  /** Routing rules, providers and failover (tests shorten its retry and breaker timings). */
  router: Router;
  /** The base URL it listens on, once started. */
  url: string;
  close(): Promise<void>;
}

/**
 * Opens the store, scans the models, builds the HTTP server and starts listening.
 * On a first start with an empty models folder it writes the tiny `llmux-demo` model.
 */
export async function startApp(
  config: ServeConfig,
  options: { logStream?: NodeJS.WritableStream; tracing?: Omit<TracingOptions, "serviceVersion">; loginLimits?: LoginLimits } = {},
): Promise<App> {
  // First, before anything is opened or written: a server that must not start leaves no trace.
  const exposure = checkExposure(config);
  const dbFile = join(config.home, "llmux.db");
  const db = await openDatabase(dbFile);
  const settingsRepo = new SettingsRepository(db);
  const timeouts = new TimeoutSettings(settingsRepo);
  await timeouts.load();
  const poolSettings = new PoolSettings(settingsRepo);
  await poolSettings.load();
  const modelSettings = new ModelSettingsRepository(db);
  await modelSettings.load();
  // One key seals every stored secret (provider keys, the HF token).
  const box = loadSecretBox(config.home);
  const hubToken = new HubTokenStore(settingsRepo, () => box);
  await hubToken.load();
  const registry = new ModelRegistry(join(config.home, "models"));
  await registry.refresh();
  if (registry.list().length === 0 && registry.unreadable().length === 0) {
    await synthesizeModel(join(registry.modelsDir, `${DEMO_MODEL}.gguf`), { preset: "tiny", seed: 1 });
    await registry.refresh();
  }
  const hubUrl = process.env.LLMUX_HUB_URL || undefined;
  const token = () => hubToken.current();
  const hub = new HubClient({ baseUrl: hubUrl, token });
  const downloads = new DownloadManager({ modelsDir: registry.modelsDir, hubBaseUrl: hubUrl, token });
  // Unfinished downloads from an earlier run come back paused; `resume` continues them.
  await downloads.recover();
  downloads.on("progress", (p: { state: string }) => {
    if (p.state === "done") void registry.refresh().catch(() => {});
  });
  const pool = new ModelPool(config.engine, {
    settings: poolSettings,
    modelSettings: (id) => modelSettings.get(id),
    // Used only once `http` exists (pinned loads start after it is built).
    log: { warn: (obj, msg) => http.log.warn(obj, msg) },
  });
  const providersRepo = new ProvidersRepository(db, box);
  const router = new Router(registry, new LocalBackend(registry, pool, (id) => modelSettings.get(id)), new ProviderSet(providersRepo), new RoutingRulesRepository(db));
  await router.load();
  const embeddings = new EmbeddingService(registry, pool);
  const bus = new LifecycleBus();
  const auth = new AuthService(
    new UsersRepository(db),
    new SessionsRepository(db),
    new ApiKeysRepository(db),
    loadDerivedKey(config.home, "session"),
    options.loginLimits,
  );
  const auditRepo = new AuditRepository(db, { insertThread: true });
  // Writes happen only after requests arrive, when `http` exists.
  const auditWriter = new AuditWriter(
    auditRepo,
    bus,
    { error: (obj, msg) => http.log.error(obj, msg) },
    { flushMs: 50, maxBatch: 200, enabled: config.audit },
  );
  const metrics = new Metrics({ bus, pool, auditWriter, breakers: () => router.breakerStates() });
  // Before the HTTP server exists, so its hooks see the tracer provider.
  const tracing = await setupTracing({ serviceVersion: VERSION, ...options.tracing });
  const http = buildHttpServer(
    {
      registry,
      router,
      embeddings,
      version: VERSION,
      bus,
      timeouts,
      auditRepo,
      auditWriter,
      metrics,
      hub,
      downloads,
      pool,
      modelSettings,
      hubToken,
      auth,
      usage: new UsageRepository(db),
      providersRepo,
    },
    {
      bodyLimit: config.bodyLimit,
      logLevel: config.logLevel,
      logStream: options.logStream,
      requireApiKey: config.requireApiKey,
      corsOrigins: config.corsOrigins,
    },
  );
  if (exposure.warning) http.log.warn(exposure.warning);
  const retention = new AuditRetention(auditRepo, dbFile, () => DEFAULT_RETENTION, http.log);
  retention.start();
  // Files copied in or removed by hand show without a restart; a removed model's runner is ended.
  const stopWatching = registry.watch(() => {
    for (const id of pool.ids()) if (!registry.has(id)) void pool.unload(id).catch(() => {});
  });
  // Pinned models load at start, and when a settings change pins more.
  const loadPinned = () => void pool.loadPinned((id) => registry.get(id));
  poolSettings.onChange(loadPinned);
  loadPinned();
  await http.listen({ host: config.host, port: config.port });
  const addr = http.server.address();
  const port = typeof addr === "object" && addr ? addr.port : config.port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Stop accepting; in-flight requests get a bounded grace period.
      const grace = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownGraceMs).unref());
      await Promise.race([http.close(), grace]);
      retention.stop();
      stopWatching();
      await downloads.close(); // partial files stay for the next start's recover()
      await auditWriter.close();
      await auditRepo.close();
      await Promise.all([pool.closeAll(), embeddings.close(), router.providers.close()]);
      await db.destroy();
      await tracing.shutdown(); // flushes spans still pending (audit writes included)
    })();
    return closing;
  };
  return { config, http, db, registry, pool, modelSettings, embeddings, bus, timeouts, auditRepo, auditWriter, auth, router, url: `http://${host}:${port}`, close };
}

