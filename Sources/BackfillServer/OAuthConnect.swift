import BackfillCore
import BackfillHTTP
import BackfillProviders
import BackfillRedis
import BackfillScheduler
import Foundation
import Hummingbird
import Logging

/// The service's own connect flow (authorization code with PKCE), behind the console's "Connect" buttons:
///
/// - `GET /oauth/{graph|gmail}/start` keeps a random `state` and a PKCE verifier in Redis for a short
///   while (`P:oauth:{state}`, see `SchedulerKeys`) and redirects to the provider's consent page. Anyone
///   may call it, so the flows in progress are capped (`maximumPendingSignIns`, a few hundred bytes each):
///   past the cap it answers 429 and keeps nothing.
/// - `GET /oauth/{provider}/callback?code&state` takes the state back (once), trades the code for tokens,
///   asks the provider which mailbox they open, connects it (a reconnect keeps the connection id) and
///   redirects to `/?connected={id}`, where the console opens the range picker.
///
/// ```swift
/// let oauth = OAuthConnect(app: app, endpoints: endpoints, publicURL: "https://backfill.example.com", http: http)
/// let services = app.services(routes: oauth.register)
/// ```
public struct OAuthConnect: Sendable {
    let authorization: OAuthAuthorization
    let endpoints: ProviderEndpoints
    let publicURL: String
    let stateLifetime: Duration
    let maximumPendingSignIns: Int
    let scheduler: Scheduler
    let connector: MailboxConnector
    let logger: Logger

    /// `publicURL` is where browsers reach this service (whole seconds of `stateLifetime` count); the callback is `{publicURL}/oauth/{provider}/callback`.
    /// `maximumPendingSignIns`: connect flows in progress at once (started and not yet called back or expired);
    /// 1,000 take well under 1 MB of Redis.
    public init(app: BackfillApp, endpoints: ProviderEndpoints, publicURL: String, http: HTTPClient,
                stateLifetime: Duration = .seconds(600), maximumPendingSignIns: Int = 1000) {
        self.authorization = OAuthAuthorization(endpoints: endpoints, http: http)
        self.endpoints = endpoints
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        self.stateLifetime = stateLifetime
        self.maximumPendingSignIns = maximumPendingSignIns
        self.scheduler = app.scheduler
        self.connector = app.connector
        self.logger = app.logger
    }

    public func register(on router: Router<BasicRequestContext>) {
        router.get("oauth/{provider}/start") { _, context in try await start(try context.parameters.require("provider")) }
        router.get("oauth/{provider}/callback") { request, context in
            try await callback(try context.parameters.require("provider"), query: request.uri.queryParameters)
        }
    }

    func redirectURI(_ provider: ProviderKind) -> String { "\(publicURL)/oauth/\(provider.rawValue)/callback" }

    // MARK: Handlers

    private func start(_ name: String) async throws -> Response {
        guard let provider = ProviderKind(rawValue: name) else { return Self.unknownProvider(name) }
        let clientId = provider == .graph ? endpoints.msClientId : endpoints.googleClientId
        guard !clientId.isEmpty else {
            let variable = provider == .graph ? "BACKFILL_GRAPH_CLIENT_ID" : "BACKFILL_GOOGLE_CLIENT_ID"
            return OAuthPage(status: .serviceUnavailable, title: "Sign-in is not set up",
                             message: "This server has no \(provider.displayName) client id; its operator sets \(variable).").response
        }
        let state = PKCE.randomToken(bytes: 32)
        let pkce = PKCE.random()
        let record = PendingSignIn(provider: provider, verifier: pkce.verifier).record
        if case .full(let retryAfter) = try await scheduler.beginSignIn(
            state: state, record: record, lifetime: stateLifetime, limit: maximumPendingSignIns
        ) {
            logger.warning("sign-in refused: too many in progress", metadata: ["limit": "\(maximumPendingSignIns)"])
            var response = OAuthPage(status: .tooManyRequests, title: "Too many sign-ins at once",
                                     message: "This server has too many sign-ins in progress. Try again in a few minutes.").response
            response.headers[.retryAfter] = String(max(1, Int(retryAfter.seconds.rounded(.up))))
            return response
        }
        let url = authorization.authorizeURL(provider, redirectURI: redirectURI(provider), state: state, pkce: pkce)
        return Response(status: .found, headers: [.location: url, .cacheControl: "no-store"])
    }

    private func callback(_ name: String, query: Parameters) async throws -> Response {
        guard let provider = ProviderKind(rawValue: name) else { return Self.unknownProvider(name) }
        let state = query["state"].map(String.init)
        if let error = query["error"].map(String.init) {
            // The flow is over either way: forget the state so it cannot be replayed.
            if let state, Self.isWellFormed(state) { _ = try await scheduler.takeSignIn(state: state) }
            if error == "access_denied" {
                logger.info("sign-in declined", metadata: ["provider": "\(provider.rawValue)"])
                return OAuthPage(status: .ok, title: "Nothing was connected",
                                 message: "Access to the \(provider.displayName) mailbox was not allowed, so nothing changed. You can connect it any time from the console.").response
            }
            return OAuthPage(status: .badRequest, title: "Sign-in failed",
                             message: "\(provider.displayName) reported '\(error.prefix(60))'. Try connecting again from the console.").response
        }
        guard let state, Self.isWellFormed(state),
              let stored = try await scheduler.takeSignIn(state: state),
              let pending = PendingSignIn(record: stored), pending.provider == provider
        else {
            return OAuthPage(status: .badRequest, title: "Sign-in link expired",
                             message: "This sign-in does not match one started here (the state is unknown, expired or already used). Start again from the console.").response
        }
        guard let code = query["code"].map(String.init), !code.isEmpty else {
            return OAuthPage(status: .badRequest, title: "Sign-in failed",
                             message: "\(provider.displayName) returned no authorization code. Try connecting again from the console.").response
        }
        let signedIn: (address: String, credentials: OAuthCredentials)
        do {
            signedIn = try await authorization.complete(
                provider, code: code, redirectURI: redirectURI(provider), pkce: PKCE(verifier: pending.verifier)
            )
        } catch {
            logger.warning("sign-in could not be completed", metadata: ["provider": "\(provider.rawValue)", "reason": "\(error.message)"])
            return OAuthPage(status: .badGateway, title: "Sign-in failed", message: error.message).response
        }
        guard ConnectionRoutes.isPlausibleAddress(signedIn.address) else {
            return OAuthPage(status: .badGateway, title: "Sign-in failed",
                             message: "\(provider.displayName) named no usable mailbox address for this sign-in.").response
        }
        let (connection, _) = try await connector.connect(provider: provider, address: signedIn.address, credentials: signedIn.credentials)
        return Response(status: .found, headers: [.location: "/?connected=\(connection.id)", .cacheControl: "no-store"])
    }

    // MARK: Helpers

    /// States are ours (base64url of 32 bytes); anything else is refused before it reaches a Redis key.
    static func isWellFormed(_ state: String) -> Bool {
        (16...128).contains(state.utf8.count)
            && state.utf8.allSatisfy { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || (48...57).contains($0)
                || (65...90).contains($0) || (97...122).contains($0) }
    }

    private static func unknownProvider(_ name: String) -> Response {
        OAuthPage(status: .notFound, title: "Unknown provider",
                  message: "There is no provider '\(name.prefix(40))' to connect; use graph or gmail.").response
    }

    /// What `P:oauth:{state}` holds, as `{provider}:{verifier}` (small: the flows in progress are capped,
    /// but each is kept for minutes).
    private struct PendingSignIn {
        var provider: ProviderKind
        var verifier: String

        init(provider: ProviderKind, verifier: String) {
            self.provider = provider
            self.verifier = verifier
        }

        init?(record: String) {
            let parts = record.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let provider = ProviderKind(rawValue: String(parts[0])) else { return nil }
            self.init(provider: provider, verifier: String(parts[1]))
        }

        var record: String { "\(provider.rawValue):\(verifier)" }
    }
}

extension ProviderKind {
    /// The provider's name as users know it.
    var displayName: String { self == .graph ? "Microsoft 365" : "Gmail" }
}
