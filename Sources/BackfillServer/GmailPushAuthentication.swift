/// How `POST /webhooks/gmail` tells Pub/Sub's pushes from forgeries. A push makes the service call Gmail for
/// the address it names, so with neither method configured every push is refused (401). With both, a push
/// must pass both.
public struct GmailPushAuthentication: Sendable {
    /// Pub/Sub's OIDC token: a Google-signed JWT (RS256) in `Authorization: Bearer`, as configured on the push
    /// subscription (`--push-auth-service-account`, `--push-auth-token-audience`).
    public struct OIDC: Sendable {
        /// Google's signing keys for these tokens, as a JWKS.
        public static let googleCertsURL = "https://www.googleapis.com/oauth2/v3/certs"
        /// The issuers Google writes in `iss`.
        public static let issuers: Set<String> = ["https://accounts.google.com", "accounts.google.com"]

        /// The token's `aud`: the audience set on the subscription (Pub/Sub's default is the push endpoint URL).
        public var audience: String
        /// The token's `email`: the service account the subscription pushes as.
        public var serviceAccount: String
        /// Where the signing keys are fetched from.
        public var certsURL: String
        /// The clock skew allowed on `exp` and `iat`.
        public var leeway: Duration = .seconds(60)
        /// The least time between two fetches of the keys for a token that names a key not seen yet.
        public var minimumRefreshInterval: Duration = .seconds(60)
        /// How long fetched keys are used when the answer has no `Cache-Control: max-age`.
        public var defaultKeyLifetime: Duration = .seconds(3600)

        public init(audience: String, serviceAccount: String, certsURL: String = Self.googleCertsURL) {
            self.audience = audience
            self.serviceAccount = serviceAccount
            self.certsURL = certsURL
        }
    }

    /// The shortest secret accepted in the push URL: guessing one must be hopeless.
    public static let minimumURLTokenLength = 32

    public var oidc: OIDC?
    /// A secret the push URL carries as `?token=`, compared in constant time.
    public var urlToken: String?

    public init(oidc: OIDC? = nil, urlToken: String? = nil) {
        self.oidc = oidc
        self.urlToken = urlToken
    }

    /// Whether any method is configured; without one, every push is refused.
    public var isConfigured: Bool { oidc != nil || urlToken != nil }

    /// Refuses settings that cannot authenticate anything: an empty audience or account, a short URL token.
    public func validate() throws(ConfigurationError) {
        if let oidc, oidc.audience.isEmpty || oidc.serviceAccount.isEmpty {
            throw ConfigurationError("Gmail push verification needs both an audience and a service account")
        }
        if let urlToken, urlToken.count < Self.minimumURLTokenLength {
            throw ConfigurationError(
                "the Gmail push URL token is too short: use at least \(Self.minimumURLTokenLength) characters, e.g. `openssl rand -hex 32`"
            )
        }
    }
}
