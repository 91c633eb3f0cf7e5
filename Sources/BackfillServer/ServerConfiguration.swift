/// How the HTTP side of one instance behaves. Defaults suit production; tests shorten the periods.
public struct ServerConfiguration: Sendable {
    public var listen: ListenAddress
    /// When set, every `/v1` call needs `Authorization: Bearer <token>`.
    public var apiToken: String?
    /// Host names the service answers to besides loopback ones (`BACKFILL_ALLOWED_HOSTS`); empty: any name
    /// with an API token, loopback names only without one (see `RequestPolicyMiddleware`).
    public var allowedHosts: [String] = []
    /// The largest request body accepted; larger ones get 413.
    public var maxBodyBytes: Int = 64 * 1024
    /// How often an event stream looks at Redis for a change.
    public var eventPollInterval: Duration = .milliseconds(500)
    /// How often an event stream sends a heartbeat, so dead clients are noticed.
    public var heartbeatInterval: Duration = .seconds(15)

    public init(listen: ListenAddress = ListenAddress(host: "127.0.0.1", port: 8080), apiToken: String? = nil) {
        self.listen = listen
        self.apiToken = apiToken
    }

    /// The shortest API token accepted off loopback: guessing one must be hopeless.
    public static let minimumTokenLength = 32

    /// Refuses what must not run: an API reachable from other machines with no token, or a short one.
    public func validate() throws(ConfigurationError) {
        if let apiToken, apiToken.isEmpty {
            throw ConfigurationError("the API token is empty; unset BACKFILL_API_TOKEN or give it a value")
        }
        if let apiToken, !listen.isLoopback, apiToken.count < Self.minimumTokenLength {
            throw ConfigurationError(
                "the API token is too short to listen on \(listen): use at least \(Self.minimumTokenLength) characters, e.g. `openssl rand -hex 32`"
            )
        }
        if !listen.isLoopback && apiToken == nil {
            throw ConfigurationError(
                "refusing to listen on \(listen) without an API token: set BACKFILL_API_TOKEN (or --api-token), or listen on 127.0.0.1"
            )
        }
    }
}
