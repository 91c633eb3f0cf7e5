import BackfillCore
import BackfillRedis
import BackfillScheduler
import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// Everything one instance runs, put together: the HTTP API (console, webhooks, operations endpoints)
/// and the scheduler's services (workers, promoter, auditor, periodic tick), over one Redis, one message
/// store and one mail provider. `serve`, `demo` and the tests build the instance here and differ only in
/// what they hand in.
///
/// ```swift
/// let app = try BackfillApp(configuration: configuration, redis: redis, store: store, sealer: sealer,
///                           readiness: .store(store, directory: dataDirectory), metrics: registry, logger: logger) { environment in
///     ProviderRouter(... directory: environment.directory, admission: environment.admission ...)
/// }
/// let group = ServiceGroup(configuration: .init(services: app.services(routes: { router in /* OAuth */ }),
///                                                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
/// try await group.run()
/// ```
public struct BackfillApp: Sendable {
    public let configuration: BackfillAppConfiguration
    public let scheduler: Scheduler
    public let directory: RedisConnectionDirectory
    public let provider: any MailProvider
    public let store: any MessageStore
    /// Keeps push channels: opened when a mailbox connects, renewed by the tick. Nil without a public URL
    /// or without a provider that syncs in real time.
    public let keeper: SubscriptionKeeper?
    /// Checks Pub/Sub's OIDC tokens on Gmail pushes; nil when that method is not configured.
    let gmailPushVerifier: GmailPushVerifier?
    let readiness: ReadinessCheck
    let registry: PrometheusCollectorRegistry
    let console: ConsoleFiles
    /// The picker's estimates, kept a minute per connection.
    let estimateCache = EstimateCache()
    let logger: Logger

    /// Builds the instance. `provider` is called once with what a provider client needs from the
    /// instance (the connection directory for credentials and sync state, the request slots).
    /// Throws when the configuration cannot work (see `ServerConfiguration.validate()`).
    public init(
        configuration: BackfillAppConfiguration, redis: RedisClient, store: any MessageStore, sealer: any CredentialSealer,
        readiness: ReadinessCheck, metrics registry: PrometheusCollectorRegistry, logger: Logger,
        provider makeProvider: (ProviderEnvironment) throws -> any MailProvider
    ) throws {
        try configuration.server.validate()
        try configuration.gmailPush.validate()
        let scheduler = Scheduler(redis: redis, configuration: configuration.scheduler, logger: logger)
        let directory = scheduler.connectionDirectory(sealer: sealer)
        self.configuration = configuration
        self.scheduler = scheduler
        self.directory = directory
        self.store = store
        self.readiness = readiness
        self.registry = registry
        self.logger = logger
        self.console = try ConsoleFiles()
        self.gmailPushVerifier = configuration.gmailPush.oidc.map { GmailPushVerifier(settings: $0, logger: logger) }
        let provider = try makeProvider(ProviderEnvironment(
            directory: directory, scheduler: scheduler, admission: RedisSharedAdmission(scheduler: scheduler), logger: logger
        ))
        self.provider = provider
        if let channels = configuration.pushChannels, let realtime = provider as? any RealtimeSync {
            self.keeper = SubscriptionKeeper(
                directory: directory, scheduler: scheduler, realtime: realtime, publicURL: channels.publicURL,
                gmailTopic: channels.gmailTopic, logger: logger
            )
        } else {
            self.keeper = nil
        }
    }

    /// Brings Redis state written by an older version up to date; run once before `services`: connections
    /// made before the paging order or the real-time schedules existed join them, and the backfills are
    /// counted by state anew.
    public func prepareRedis() async throws {
        try await directory.indexConnectionOrder()
        try await directory.scheduleUnscheduled(pollPeriod: scheduler.configuration.pollPeriod)
        let counted = try await scheduler.recountStates()
        logger.debug("backfills counted by state", metadata: ["backfills": "\(counted)"])
    }

    var connector: MailboxConnector {
        MailboxConnector(directory: directory, scheduler: scheduler, keeper: keeper, logger: logger)
    }

    /// The HTTP routes. `routes` adds more (the OAuth connect flow) before the API's catch-all errors.
    public func router(routes: (Router<BasicRequestContext>) -> Void = { _ in }) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: APIErrorMiddleware(registry: registry, logger: logger))
        router.add(middleware: RequestPolicyMiddleware(
            allowedHosts: configuration.server.allowedHosts, hasAPIToken: configuration.server.apiToken != nil
        ))
        let body = RequestBodyReader(limit: configuration.server.maxBodyBytes)
        let reader = ConnectionReader(directory: directory, scheduler: scheduler)
        console.register(on: router)
        OperationsRoutes(scheduler: scheduler, directory: directory, readiness: readiness, registry: registry, logger: logger)
            .register(on: router)
        WebhookRoutes(directory: directory, scheduler: scheduler, keeper: keeper, body: body, gmailPush: configuration.gmailPush,
                      verifier: gmailPushVerifier, logger: logger).register(on: router)
        let api = router.group("v1")
        if let token = configuration.server.apiToken { api.add(middleware: BearerAuthMiddleware(token: token)) }
        api.add(middleware: RedisAvailabilityMiddleware(redis: scheduler.probe))
        ConnectionRoutes(reader: reader, scheduler: scheduler, connector: connector, store: store, body: body, logger: logger,
                         graphAppOnly: configuration.graphAppOnly)
            .register(on: api)
        CompletenessRoutes(reader: reader, scheduler: scheduler, fetcher: provider as? any SkippedMessageFetcher, store: store,
                           audit: completenessAudit, logger: logger).register(on: api)
        EstimateRoutes(reader: reader, estimator: provider as? any BackfillEstimating, cache: estimateCache, logger: logger)
            .register(on: api)
        ChangeRoutes(store: store).register(on: api)
        let events = EventStream(
            reader: reader, pollInterval: configuration.server.eventPollInterval,
            heartbeatInterval: configuration.server.heartbeatInterval, logger: logger
        )
        api.get("connections/{id}/events") { _, context in try await events.response(for: try context.parameters.require("id")) }
        // The routes added here (the OAuth connect flow) need Redis as the API does.
        router.add(middleware: RedisAvailabilityMiddleware(redis: scheduler.probe))
        routes(router)
        return router
    }

    /// The services to run in one `ServiceGroup`: the event relay, workers, promoter, auditor, the periodic tick (with the
    /// keeper's renewals and `tickHooks`) and the HTTP server. They are ordered so that a graceful
    /// shutdown stops the HTTP server first and the workers last. `onListening` gets the bound address
    /// (useful with port 0).
    public func services(
        routes: (Router<BasicRequestContext>) -> Void = { _ in }, tickHooks: [PeriodicTick.Hook] = [],
        onListening: @escaping @Sendable (ListenAddress) async -> Void = { _ in }
    ) -> [any Service] {
        let listen = configuration.server.listen
        let http = Application(
            router: router(routes: routes),
            server: .http1(configuration: .init(additionalChannelHandlers: [ParserErrorResponder()])),
            configuration: ApplicationConfiguration(address: .hostname(listen.host, port: listen.port), serverName: "backfill"),
            onServerRunning: { channel in
                await onListening(ListenAddress(host: listen.host, port: channel.localAddress?.port ?? listen.port))
            },
            logger: logger
        )
        let audits: [any Service] = completenessAudit.map { [CompletenessAuditor(audit: $0, logger: logger)] } ?? []
        return [
            // First, so that it stops last: the workers' final transitions are relayed before it ends.
            EventRelay(scheduler: scheduler, store: store, logger: logger),
            WorkerPool(scheduler: scheduler, provider: provider, store: store, realtime: provider as? any RealtimeSync, logger: logger),
            Promoter(scheduler: scheduler, logger: logger),
            Auditor(scheduler: scheduler, logger: logger),
            PeriodicTick(scheduler: scheduler, hooks: (keeper.map { keeper in [{ try await keeper.renewDue($0) }] } ?? []) + tickHooks, logger: logger),
        ] + audits + [http]
    }

    /// The completeness audit, when the provider can list and fetch by id and the store can say what it holds in
    /// a window (every real provider and store; test doubles may not).
    var completenessAudit: CompletenessAudit? {
        guard let auditing = provider as? any CompletenessAuditing, let auditable = store as? any AuditableMessageStore else { return nil }
        return CompletenessAudit(scheduler: scheduler, provider: auditing, store: auditable)
    }
}

/// The instance's settings: its HTTP side and its scheduler.
public struct BackfillAppConfiguration: Sendable {
    public var server: ServerConfiguration
    public var scheduler: SchedulerConfiguration
    /// Where providers send notifications; nil: no push channels (tests of the API alone).
    public var pushChannels: PushChannelSettings?
    /// How Gmail pushes prove they come from Pub/Sub; none configured: every push is refused.
    public var gmailPush: GmailPushAuthentication
    /// Whether Microsoft 365 mailboxes may connect with the service's own app token (`"auth": "app"`); the
    /// provider must then hold the app's tenant and client credentials (`ProviderEndpoints.msApp`).
    public var graphAppOnly: Bool

    public init(
        server: ServerConfiguration, scheduler: SchedulerConfiguration, pushChannels: PushChannelSettings? = nil,
        gmailPush: GmailPushAuthentication = GmailPushAuthentication(), graphAppOnly: Bool = false
    ) {
        self.server = server
        self.scheduler = scheduler
        self.pushChannels = pushChannels
        self.gmailPush = gmailPush
        self.graphAppOnly = graphAppOnly
    }
}

/// Where providers reach this service with notifications.
public struct PushChannelSettings: Sendable {
    /// The service's public URL, e.g. https://backfill.example.com (Graph posts to `/webhooks/graph` under it).
    public var publicURL: String
    /// The Pub/Sub topic Gmail watches publish to; empty: no Gmail watch (the tick catches up instead).
    public var gmailTopic: String

    public init(publicURL: String, gmailTopic: String) {
        self.publicURL = publicURL
        self.gmailTopic = gmailTopic
    }
}

/// What a provider client is built with.
public struct ProviderEnvironment: Sendable {
    /// Credentials (read, refreshed) and real-time sync state of every connection.
    public let directory: RedisConnectionDirectory
    public let scheduler: Scheduler
    /// The mailboxes' Retry-After gate and request slots, shared by every instance.
    public let admission: RedisSharedAdmission
    public let logger: Logger
}
