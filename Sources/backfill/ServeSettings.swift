import BackfillPostgres
import BackfillRedis
import BackfillScheduler
import BackfillServer
import Foundation

/// `serve`'s configuration: each value from its flag, else its environment variable, else its default;
/// checked as a whole before anything starts.
struct ServeSettings: Sendable {
    var redisURL: String?
    var dataDirectory: URL
    var listen: ListenAddress
    var apiToken: String?
    /// Host names served besides loopback ones (`--allowed-hosts`, comma-separated).
    var allowedHosts: [String]
    var publicURL: String
    var secretKey: String
    var graphURL: String
    var microsoftLoginURL: String
    var gmailURL: String
    var googleOAuthURL: String
    var googleAccountsURL: String
    var graphClientId: String?
    var graphClientSecret: String?
    var googleClientId: String?
    var googleClientSecret: String?
    /// App-only Microsoft 365 (client credentials): the tenant turns it on; the client id and secret are the
    /// dedicated `--graph-app-client-*` pair, or the delegated `--graph-client-*` one (a registration with both
    /// kinds of permission). All three or none.
    var graphAppTenant: String?
    var graphAppClientId: String?
    var graphAppClientSecret: String?
    /// Gmail push authentication: the OIDC token's audience and service account (together), where Google's
    /// signing keys are, and the alternative secret in the push URL.
    var gmailPushAudience: String?
    var gmailPushServiceAccount: String?
    var googleCertsURL: String
    var gmailPushToken: String?
    var workers: Int
    /// The safety-net tick's period, the lease length and the longest graceful shutdown, in seconds.
    var tickSeconds: Int
    var leaseSeconds: Int
    var shutdownSeconds: Int
    /// How often a mailbox without a push channel is caught up, and how long a push mailbox may go without a
    /// notification before it is caught up anyway, in seconds.
    var pollSeconds: Int
    var pushSafetySeconds: Int
    /// The PostgreSQL store (`--store postgres://...`, its pool `--store-pool-size`); nil: the embedded SQLite
    /// store under the data directory.
    var postgres: PostgresStoreConfiguration?

    /// The environment variable behind each flag (`--redis-url` → `BACKFILL_REDIS_URL`).
    static let environmentNames: [String: String] = [
        "redis-url": "BACKFILL_REDIS_URL", "data-dir": "BACKFILL_DATA_DIR", "listen": "BACKFILL_LISTEN",
        "api-token": "BACKFILL_API_TOKEN", "allowed-hosts": "BACKFILL_ALLOWED_HOSTS", "public-url": "BACKFILL_PUBLIC_URL", "secret-key": "BACKFILL_SECRET_KEY",
        "graph-url": "BACKFILL_GRAPH_URL", "ms-login-url": "BACKFILL_MS_LOGIN_URL", "gmail-url": "BACKFILL_GMAIL_URL",
        "google-oauth-url": "BACKFILL_GOOGLE_OAUTH_URL", "google-accounts-url": "BACKFILL_GOOGLE_ACCOUNTS_URL",
        "graph-client-id": "BACKFILL_GRAPH_CLIENT_ID",
        "graph-client-secret": "BACKFILL_GRAPH_CLIENT_SECRET", "google-client-id": "BACKFILL_GOOGLE_CLIENT_ID",
        "google-client-secret": "BACKFILL_GOOGLE_CLIENT_SECRET", "workers": "BACKFILL_WORKERS",
        "graph-app-tenant": "BACKFILL_GRAPH_APP_TENANT", "graph-app-client-id": "BACKFILL_GRAPH_APP_CLIENT_ID",
        "graph-app-client-secret": "BACKFILL_GRAPH_APP_CLIENT_SECRET",
        "gmail-push-audience": "BACKFILL_GMAIL_PUSH_AUDIENCE", "gmail-push-service-account": "BACKFILL_GMAIL_PUSH_SERVICE_ACCOUNT",
        "google-certs-url": "BACKFILL_GOOGLE_CERTS_URL", "gmail-push-token": "BACKFILL_GMAIL_PUSH_TOKEN",
        "tick-seconds": "BACKFILL_TICK_SECONDS", "lease-seconds": "BACKFILL_LEASE_SECONDS",
        "shutdown-seconds": "BACKFILL_SHUTDOWN_SECONDS", "poll-seconds": "BACKFILL_POLL_SECONDS",
        "push-safety-seconds": "BACKFILL_PUSH_SAFETY_SECONDS", "store": "BACKFILL_STORE_URL",
        "store-pool-size": "BACKFILL_STORE_POOL_SIZE",
    ]

    /// Resolves and checks every value; the error says which flag or variable is wrong and how.
    init(flags: [String: String], environment: [String: String]) throws(ConfigurationError) {
        func value(_ flag: String) -> String? {
            let found = flags[flag] ?? Self.environmentNames[flag].flatMap { environment[$0] }
            return found.flatMap { $0.isEmpty ? nil : $0 }
        }
        func url(_ flag: String, default fallback: String) throws(ConfigurationError) -> String {
            let text = value(flag) ?? fallback
            guard let parsed = URL(string: text), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw ConfigurationError("--\(flag) (\(Self.environmentNames[flag] ?? "")) must be an http(s) URL, not '\(text.prefix(80))'")
            }
            return text.hasSuffix("/") ? String(text.dropLast()) : text
        }
        redisURL = value("redis-url")
        if let redisURL {
            // Parsed in full now (a rediss:// URL is refused with the TLS sidecar's name), not at the first command.
            do {
                _ = try RedisConfiguration(url: redisURL)
            } catch let error as RedisError {
                throw ConfigurationError("--redis-url (BACKFILL_REDIS_URL): \(error.message)")
            } catch {
                throw ConfigurationError("--redis-url (BACKFILL_REDIS_URL) must look like redis://host:6379")
            }
        }
        dataDirectory = URL(fileURLWithPath: value("data-dir") ?? "backfill-data", isDirectory: true).standardizedFileURL
        listen = try ListenAddress(parsing: value("listen") ?? "127.0.0.1:8080")
        apiToken = value("api-token")
        allowedHosts = (value("allowed-hosts") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        if let bad = allowedHosts.first(where: { $0.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) }) {
            throw ConfigurationError("--allowed-hosts (BACKFILL_ALLOWED_HOSTS) takes host names without scheme or port, not '\(bad.prefix(80))'")
        }
        publicURL = try url("public-url", default: "http://\(listen)")
        guard let secretKey = value("secret-key") else {
            throw ConfigurationError("--secret-key (BACKFILL_SECRET_KEY) is required: it encrypts mailbox tokens at rest")
        }
        guard secretKey.utf8.count >= 16 else {
            throw ConfigurationError("--secret-key (BACKFILL_SECRET_KEY) is too short: use at least 16 characters, e.g. `openssl rand -hex 32`")
        }
        self.secretKey = secretKey
        graphURL = try url("graph-url", default: "https://graph.microsoft.com/v1.0")
        microsoftLoginURL = try url("ms-login-url", default: "https://login.microsoftonline.com")
        gmailURL = try url("gmail-url", default: "https://gmail.googleapis.com")
        googleOAuthURL = try url("google-oauth-url", default: "https://oauth2.googleapis.com")
        googleAccountsURL = try url("google-accounts-url", default: "https://accounts.google.com")
        graphClientId = value("graph-client-id")
        graphClientSecret = value("graph-client-secret")
        googleClientId = value("google-client-id")
        googleClientSecret = value("google-client-secret")
        (graphAppTenant, graphAppClientId, graphAppClientSecret) = try Self.graphApp(
            tenant: value("graph-app-tenant"), clientId: value("graph-app-client-id"), clientSecret: value("graph-app-client-secret"),
            delegatedClientId: graphClientId, delegatedClientSecret: graphClientSecret
        )
        gmailPushAudience = value("gmail-push-audience")
        gmailPushServiceAccount = value("gmail-push-service-account")
        if (gmailPushAudience == nil) != (gmailPushServiceAccount == nil) {
            throw ConfigurationError(
                "--gmail-push-audience (BACKFILL_GMAIL_PUSH_AUDIENCE) and --gmail-push-service-account (BACKFILL_GMAIL_PUSH_SERVICE_ACCOUNT) "
                    + "go together: set both, as on the Pub/Sub push subscription's OIDC token, or neither"
            )
        }
        if let account = gmailPushServiceAccount, !account.contains("@") {
            throw ConfigurationError(
                "--gmail-push-service-account (BACKFILL_GMAIL_PUSH_SERVICE_ACCOUNT) must be the service account's email, not '\(account.prefix(80))'"
            )
        }
        googleCertsURL = try url("google-certs-url", default: GmailPushAuthentication.OIDC.googleCertsURL)
        gmailPushToken = value("gmail-push-token")
        if let token = gmailPushToken, token.count < GmailPushAuthentication.minimumURLTokenLength {
            throw ConfigurationError(
                "--gmail-push-token (BACKFILL_GMAIL_PUSH_TOKEN) is too short: use at least \(GmailPushAuthentication.minimumURLTokenLength) characters, e.g. `openssl rand -hex 32`"
            )
        }
        guard let workers = Int(value("workers") ?? "8"), (1...256).contains(workers) else {
            throw ConfigurationError("--workers (BACKFILL_WORKERS) must be a whole number from 1 to 256")
        }
        self.workers = workers
        func seconds(_ flag: String, default fallback: Int, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
            guard let parsed = Int(value(flag) ?? String(fallback)), range.contains(parsed) else {
                throw ConfigurationError("--\(flag) (\(Self.environmentNames[flag] ?? "")) must be a whole number of seconds from \(range.lowerBound) to \(range.upperBound)")
            }
            return parsed
        }
        tickSeconds = try seconds("tick-seconds", default: 3600, in: 1...86_400)
        leaseSeconds = try seconds("lease-seconds", default: 30, in: 2...600)
        shutdownSeconds = try seconds("shutdown-seconds", default: 25, in: 1...600)
        pollSeconds = try seconds("poll-seconds", default: 60, in: 1...86_400)
        pushSafetySeconds = try seconds("push-safety-seconds", default: 1800, in: 1...604_800)
        guard let poolSize = Int(value("store-pool-size") ?? "10"), (1...1000).contains(poolSize) else {
            throw ConfigurationError("--store-pool-size (BACKFILL_STORE_POOL_SIZE) must be a whole number from 1 to 1000")
        }
        if let storeURL = value("store") {
            do {
                postgres = try PostgresStoreConfiguration(url: storeURL, poolSize: poolSize)
            } catch {
                // The error never quotes the URL: it may hold the database password.
                throw ConfigurationError("--store (BACKFILL_STORE_URL): \(error.message)")
            }
        } else {
            postgres = nil
        }
        try server.validate()
    }

    /// The app-only settings, checked: a specific tenant (client credentials cannot use `common`), and a
    /// client id and secret from the same pair.
    private static func graphApp(
        tenant: String?, clientId: String?, clientSecret: String?, delegatedClientId: String?, delegatedClientSecret: String?
    ) throws(ConfigurationError) -> (String?, String?, String?) {
        guard let tenant else {
            guard clientId == nil, clientSecret == nil else {
                throw ConfigurationError(
                    "--graph-app-client-id and --graph-app-client-secret need --graph-app-tenant (BACKFILL_GRAPH_APP_TENANT): the tenant whose mailboxes the app reads"
                )
            }
            return (nil, nil, nil)
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
        guard tenant.count <= 253, tenant.allSatisfy({ allowed.contains($0) }),
              !["common", "organizations", "consumers"].contains(tenant.lowercased()) else {
            throw ConfigurationError(
                "--graph-app-tenant (BACKFILL_GRAPH_APP_TENANT) must be the tenant's directory id (a GUID) or one of its domains, not '\(tenant.prefix(80))'"
            )
        }
        if (clientId == nil) != (clientSecret == nil) {
            throw ConfigurationError(
                "--graph-app-client-id (BACKFILL_GRAPH_APP_CLIENT_ID) and --graph-app-client-secret (BACKFILL_GRAPH_APP_CLIENT_SECRET) go together: set both, or neither to use --graph-client-id and --graph-client-secret"
            )
        }
        guard let id = clientId ?? delegatedClientId, let secret = clientSecret ?? delegatedClientSecret else {
            throw ConfigurationError(
                "--graph-app-tenant (BACKFILL_GRAPH_APP_TENANT) needs the app's client id and secret: --graph-app-client-id and --graph-app-client-secret, or --graph-client-id and --graph-client-secret"
            )
        }
        return (tenant, id, secret)
    }

    var scheduler: SchedulerConfiguration {
        var scheduler = SchedulerConfiguration(instanceId: "\(ProcessInfo.processInfo.hostName)-\(getpid())")
        scheduler.workerConcurrency = workers
        scheduler.tickPeriod = .seconds(tickSeconds)
        scheduler.leaseDuration = .seconds(leaseSeconds)
        scheduler.pollPeriod = .seconds(pollSeconds)
        scheduler.pushSafetyPeriod = .seconds(pushSafetySeconds)
        return scheduler
    }

    var gmailPush: GmailPushAuthentication {
        let oidc = gmailPushAudience.flatMap { audience in
            gmailPushServiceAccount.map { GmailPushAuthentication.OIDC(audience: audience, serviceAccount: $0, certsURL: googleCertsURL) }
        }
        return GmailPushAuthentication(oidc: oidc, urlToken: gmailPushToken)
    }

    var server: ServerConfiguration {
        var server = ServerConfiguration(listen: listen, apiToken: apiToken)
        // Providers and browsers reach the service at its public URL: its host is always one it answers to.
        let publicHost = URL(string: publicURL)?.host.map { [$0] } ?? []
        server.allowedHosts = allowedHosts.isEmpty ? [] : allowedHosts + publicHost
        return server
    }
}
