import ArgumentParser
import BackfillCore
import BackfillHTTP
import BackfillRedis
import BackfillScheduler
import BackfillPostgres
import BackfillServer
import BackfillStore
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// `backfill serve`: the HTTP API, console and webhooks with the scheduler's workers, promoter, auditor
/// and tick, in one service group that shuts down gracefully on SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the service: HTTP API, console, webhooks, metrics and the backfill workers.",
        discussion: "Every flag falls back to its environment variable (--listen → BACKFILL_LISTEN, ...)."
    )

    @Option(name: .customLong("redis-url"), help: "Redis URL ($BACKFILL_REDIS_URL); unset: a private redis-server under the data directory.")
    var redisURL: String?
    @Option(name: .customLong("data-dir"), help: "Where the message store lives ($BACKFILL_DATA_DIR, default ./backfill-data).")
    var dataDirectory: String?
    @Option(help: "host:port to listen on ($BACKFILL_LISTEN, default 127.0.0.1:8080).")
    var listen: String?
    @Option(name: .customLong("api-token"), help: "Bearer token for /v1 ($BACKFILL_API_TOKEN); required off loopback.")
    var apiToken: String?
    @Option(name: .customLong("allowed-hosts"), help: "Host names served besides loopback ones, comma-separated ($BACKFILL_ALLOWED_HOSTS).")
    var allowedHosts: String?
    @Option(name: .customLong("public-url"), help: "The URL providers and browsers reach this service at ($BACKFILL_PUBLIC_URL).")
    var publicURL: String?
    @Option(name: .customLong("secret-key"), help: "Encrypts mailbox tokens at rest ($BACKFILL_SECRET_KEY, required).")
    var secretKey: String?
    @Option(name: .customLong("graph-url"), help: "Microsoft Graph base URL ($BACKFILL_GRAPH_URL).")
    var graphURL: String?
    @Option(name: .customLong("ms-login-url"), help: "Microsoft identity platform base URL ($BACKFILL_MS_LOGIN_URL).")
    var microsoftLoginURL: String?
    @Option(name: .customLong("gmail-url"), help: "Gmail API base URL ($BACKFILL_GMAIL_URL).")
    var gmailURL: String?
    @Option(name: .customLong("google-oauth-url"), help: "Google OAuth base URL ($BACKFILL_GOOGLE_OAUTH_URL).")
    var googleOAuthURL: String?
    @Option(name: .customLong("google-accounts-url"), help: "Google consent page host ($BACKFILL_GOOGLE_ACCOUNTS_URL).")
    var googleAccountsURL: String?
    @Option(name: .customLong("graph-client-id"), help: "Microsoft app client id ($BACKFILL_GRAPH_CLIENT_ID).")
    var graphClientId: String?
    @Option(name: .customLong("graph-client-secret"), help: "Microsoft app client secret ($BACKFILL_GRAPH_CLIENT_SECRET).")
    var graphClientSecret: String?
    @Option(name: .customLong("graph-app-tenant"), help: "Tenant whose Microsoft 365 mailboxes connect with the app's own token ($BACKFILL_GRAPH_APP_TENANT).")
    var graphAppTenant: String?
    @Option(name: .customLong("graph-app-client-id"), help: "Client id of the app-only registration ($BACKFILL_GRAPH_APP_CLIENT_ID; default --graph-client-id).")
    var graphAppClientId: String?
    @Option(name: .customLong("graph-app-client-secret"), help: "Its client secret ($BACKFILL_GRAPH_APP_CLIENT_SECRET; default --graph-client-secret).")
    var graphAppClientSecret: String?
    @Option(name: .customLong("google-client-id"), help: "Google app client id ($BACKFILL_GOOGLE_CLIENT_ID).")
    var googleClientId: String?
    @Option(name: .customLong("google-client-secret"), help: "Google app client secret ($BACKFILL_GOOGLE_CLIENT_SECRET).")
    var googleClientSecret: String?
    @Option(name: .customLong("gmail-push-audience"), help: "Audience of Pub/Sub's OIDC token on Gmail pushes ($BACKFILL_GMAIL_PUSH_AUDIENCE).")
    var gmailPushAudience: String?
    @Option(name: .customLong("gmail-push-service-account"), help: "Service account Pub/Sub pushes Gmail notifications as ($BACKFILL_GMAIL_PUSH_SERVICE_ACCOUNT).")
    var gmailPushServiceAccount: String?
    @Option(name: .customLong("google-certs-url"), help: "Google's signing keys (JWKS) for push tokens ($BACKFILL_GOOGLE_CERTS_URL).")
    var googleCertsURL: String?
    @Option(name: .customLong("gmail-push-token"), help: "Secret the Gmail push URL carries as ?token= ($BACKFILL_GMAIL_PUSH_TOKEN).")
    var gmailPushToken: String?
    @Option(help: "Connections this instance works on at once ($BACKFILL_WORKERS, default 8).")
    var workers: Int?
    @Option(name: .customLong("tick-seconds"), help: "Period of the safety-net tick ($BACKFILL_TICK_SECONDS, default 3600).")
    var tickSeconds: Int?
    @Option(name: .customLong("poll-seconds"), help: "How often a mailbox without a push channel is caught up ($BACKFILL_POLL_SECONDS, default 60).")
    var pollSeconds: Int?
    @Option(name: .customLong("push-safety-seconds"), help: "A push mailbox with no notification this long is caught up anyway ($BACKFILL_PUSH_SAFETY_SECONDS, default 1800).")
    var pushSafetySeconds: Int?
    @Option(name: .customLong("lease-seconds"), help: "How long a connection's lease lasts without a commit ($BACKFILL_LEASE_SECONDS, default 30).")
    var leaseSeconds: Int?
    @Option(name: .customLong("store"), help: "The message store: a postgres:// URL ($BACKFILL_STORE_URL); unset: SQLite under the data directory.")
    var store: String?
    @Option(name: .customLong("store-pool-size"), help: "Most connections to the PostgreSQL store ($BACKFILL_STORE_POOL_SIZE, default 10).")
    var storePoolSize: Int?
    @Option(name: .customLong("shutdown-seconds"), help: "The longest a graceful shutdown (SIGTERM) takes ($BACKFILL_SHUTDOWN_SECONDS, default 25).")
    var shutdownSeconds: Int?

    private var flags: [String: String] {
        let pairs: [(String, String?)] = [
            ("redis-url", redisURL), ("data-dir", dataDirectory), ("listen", listen), ("api-token", apiToken),
            ("allowed-hosts", allowedHosts),
            ("public-url", publicURL), ("secret-key", secretKey), ("graph-url", graphURL), ("ms-login-url", microsoftLoginURL),
            ("gmail-url", gmailURL), ("google-oauth-url", googleOAuthURL), ("google-accounts-url", googleAccountsURL),
            ("graph-client-id", graphClientId),
            ("graph-client-secret", graphClientSecret), ("google-client-id", googleClientId),
            ("graph-app-tenant", graphAppTenant), ("graph-app-client-id", graphAppClientId),
            ("graph-app-client-secret", graphAppClientSecret),
            ("google-client-secret", googleClientSecret), ("workers", workers.map(String.init)),
            ("gmail-push-audience", gmailPushAudience), ("gmail-push-service-account", gmailPushServiceAccount),
            ("google-certs-url", googleCertsURL), ("gmail-push-token", gmailPushToken),
            ("tick-seconds", tickSeconds.map(String.init)), ("lease-seconds", leaseSeconds.map(String.init)),
            ("shutdown-seconds", shutdownSeconds.map(String.init)), ("poll-seconds", pollSeconds.map(String.init)),
            ("push-safety-seconds", pushSafetySeconds.map(String.init)), ("store", store),
            ("store-pool-size", storePoolSize.map(String.init)),
        ]
        return Dictionary(uniqueKeysWithValues: pairs.compactMap { key, value in value.map { (key, $0) } })
    }

    func run() async throws {
        let settings: ServeSettings
        do {
            settings = try ServeSettings(flags: flags, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw ValidationError(error.message)
        }
        try await Self.run(settings)
    }

    /// Runs the service with `settings` until SIGTERM or SIGINT. `started` runs once the app is built,
    /// before the service group (the demo connects its mailboxes there).
    static func run(_ settings: ServeSettings, started: @Sendable (BackfillApp, Logger) async throws -> Void = { _, _ in }) async throws {
        let sealer: any CredentialSealer
        do {
            sealer = try ProviderWiring.sealer(settings)
        } catch let error as ConfigurationError {
            throw ValidationError(error.message)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        var metricsFactory = PrometheusMetricsFactory(registry: registry)
        // A claim can wait minutes for a free worker under load, and new mail minutes behind a provider outage: the
        // default buckets stop at 10 s.
        let longWaits = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600].map { Duration.milliseconds(Int64($0 * 1000)) }
        metricsFactory.durationHistogramBuckets["backfill_nudge_to_claim_seconds"] = longWaits
        metricsFactory.durationHistogramBuckets["backfill_realtime_catch_up_delay_seconds"] = longWaits
        MetricsSystem.bootstrap(metricsFactory)
        let logger = Logger(label: "backfill")

        let privateRedis: ManagedRedisServer? = settings.redisURL == nil
            ? try await ManagedRedisServer.start(in: settings.dataDirectory.appendingPathComponent("redis"))
            : nil
        if let privateRedis { logger.info("started a private redis-server", metadata: ["port": "\(privateRedis.port)"]) }
        let redis = RedisClient(configuration: try RedisConfiguration(url: settings.redisURL ?? privateRedis?.url ?? ""), logger: logger)
        for warning in await RedisSettingsCheck.warnings(redis) {
            logger.warning("\(warning)")
        }
        do {
            try await openStoreAndServe(settings, redis: redis, sealer: sealer, registry: registry, logger: logger, started: started)
        } catch {
            await redis.close()
            await privateRedis?.stop()
            throw error
        }
        await redis.close()
        await privateRedis?.stop()
    }

    /// Opens the message store the settings name (PostgreSQL, or SQLite under the data directory), serves, and
    /// closes the store's pool after the service group ends.
    private static func openStoreAndServe(
        _ settings: ServeSettings, redis: RedisClient, sealer: any CredentialSealer, registry: PrometheusCollectorRegistry,
        logger: Logger, started: @Sendable (BackfillApp, Logger) async throws -> Void
    ) async throws {
        let store: any MessageStore
        let readiness: ReadinessCheck
        let postgres: PostgresMessageStore?
        if let configuration = settings.postgres {
            // Unreachable at startup: the service does not start, and says why (never the password).
            let opened = try await PostgresMessageStore(configuration: configuration, logger: logger)
            logger.info("message store: PostgreSQL", metadata: ["store": "\(configuration)", "pool": "\(configuration.poolSize)"])
            store = opened
            postgres = opened
            readiness = ReadinessCheck { try await opened.ping(timeout: .seconds(2)) }
        } else {
            let sqlite = try SQLiteMessageStore(path: settings.dataDirectory.appendingPathComponent("messages.sqlite").path)
            store = sqlite
            postgres = nil
            readiness = .store(sqlite, directory: settings.dataDirectory)
        }
        do {
            try await serve(settings, store: store, readiness: readiness, redis: redis, sealer: sealer, registry: registry, logger: logger, started: started)
        } catch {
            await postgres?.shutdown()
            throw error
        }
        await postgres?.shutdown()
    }

    private static func serve(
        _ settings: ServeSettings, store: any MessageStore, readiness: ReadinessCheck, redis: RedisClient, sealer: any CredentialSealer,
        registry: PrometheusCollectorRegistry, logger: Logger, started: @Sendable (BackfillApp, Logger) async throws -> Void
    ) async throws {
        let app = try BackfillApp(
            configuration: BackfillAppConfiguration(
                server: settings.server, scheduler: settings.scheduler,
                pushChannels: PushChannelSettings(
                    publicURL: settings.publicURL, gmailTopic: ProcessInfo.processInfo.environment["BACKFILL_GMAIL_TOPIC"] ?? ""
                ),
                gmailPush: settings.gmailPush, graphAppOnly: settings.graphAppTenant != nil
            ),
            redis: redis, store: store, sealer: sealer,
            readiness: readiness, metrics: registry, logger: logger,
            provider: { environment in try ProviderWiring.provider(settings, environment) }
        )
        try await app.prepareRedis()
        if !(ProcessInfo.processInfo.environment["BACKFILL_GMAIL_TOPIC"] ?? "").isEmpty, !settings.gmailPush.isConfigured {
            logger.warning("""
                BACKFILL_GMAIL_TOPIC is set but Gmail pushes cannot be authenticated, so every push is refused (401): \
                set BACKFILL_GMAIL_PUSH_AUDIENCE and BACKFILL_GMAIL_PUSH_SERVICE_ACCOUNT, or BACKFILL_GMAIL_PUSH_TOKEN
                """)
        }
        try await started(app, logger)
        // The connect flow's token and profile requests get their own client, shut down with the group.
        let oauthHTTP = HTTPClient(logger: logger)
        let oauth = OAuthConnect(app: app, endpoints: ProviderWiring.endpoints(settings), publicURL: settings.publicURL, http: oauthHTTP)
        let services = app.services(routes: oauth.register, onListening: { address in
            logger.info("listening", metadata: ["address": "\(address)", "publicURL": "\(settings.publicURL)"])
        })
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // Past this, the group cancels what is left; systemd's TimeoutStopSec sits a few seconds above it.
        configuration.maximumGracefulShutdownDuration = .seconds(settings.shutdownSeconds)
        let group = ServiceGroup(configuration: configuration)
        do {
            try await group.run()
        } catch {
            await oauthHTTP.shutdown()
            throw error
        }
        await oauthHTTP.shutdown()
    }
}
