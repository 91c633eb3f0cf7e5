/// Where the providers live and how Backfill identifies itself to them. Every URL can be overridden,
/// because tests and the demo point them at the simulator.
public struct ProviderEndpoints: Sendable, Equatable {
    /// Microsoft Graph, up to and including the version segment.
    public var graphBaseURL: String
    /// The Microsoft identity platform host; tokens come from `{msLoginBaseURL}/{msTenant}/oauth2/v2.0/token`.
    public var msLoginBaseURL: String
    public var msTenant: String
    public var msClientId: String
    public var msClientSecret: String
    /// The scopes asked for on refresh (Microsoft requires them on the refresh grant).
    public var msScopes: String
    /// The Gmail API host; paths `gmail/v1/...` are appended.
    public var gmailBaseURL: String
    /// Google's OAuth host; tokens come from `{googleOAuthBaseURL}/token`.
    public var googleOAuthBaseURL: String
    /// Google's consent host (a different one from the token host); the consent page is
    /// `{googleAccountsBaseURL}/o/oauth2/v2/auth`.
    public var googleAccountsBaseURL: String
    public var googleClientId: String
    public var googleClientSecret: String
    /// App-only access to one tenant's mailboxes (client credentials); nil: not configured, and connections
    /// with `auth == .app` fail with `permissionLost`.
    public var msApp: MicrosoftApp?

    /// An application registration in Microsoft Entra ID with the `Mail.Read` application permission
    /// (admin-consented): its own token reads and subscribes to any mailbox of `tenant`, shared ones included.
    /// The description hides the secret.
    public struct MicrosoftApp: Sendable, Equatable, CustomStringConvertible {
        /// The directory (tenant) id or a verified domain; client credentials need a specific tenant.
        public var tenant: String
        public var clientId: String
        public var clientSecret: String
        /// Client credentials take the resource's `.default` scope: the application permissions granted to the app.
        public var scope: String

        public init(tenant: String, clientId: String, clientSecret: String, scope: String = "https://graph.microsoft.com/.default") {
            self.tenant = tenant
            self.clientId = clientId
            self.clientSecret = clientSecret
            self.scope = scope
        }

        public var description: String { "MicrosoftApp(tenant: \(tenant), clientId: \(clientId), secret redacted)" }
    }

    public init(
        graphBaseURL: String = "https://graph.microsoft.com/v1.0",
        msLoginBaseURL: String = "https://login.microsoftonline.com",
        msTenant: String = "common",
        msClientId: String = "",
        msClientSecret: String = "",
        msScopes: String = "https://graph.microsoft.com/Mail.Read https://graph.microsoft.com/Mail.Read.Shared offline_access",
        gmailBaseURL: String = "https://gmail.googleapis.com",
        googleOAuthBaseURL: String = "https://oauth2.googleapis.com",
        googleAccountsBaseURL: String = "https://accounts.google.com",
        googleClientId: String = "",
        googleClientSecret: String = "",
        msApp: MicrosoftApp? = nil
    ) {
        self.graphBaseURL = Self.trimmed(graphBaseURL)
        self.msLoginBaseURL = Self.trimmed(msLoginBaseURL)
        self.msTenant = msTenant
        self.msClientId = msClientId
        self.msClientSecret = msClientSecret
        self.msScopes = msScopes
        self.gmailBaseURL = Self.trimmed(gmailBaseURL)
        self.googleOAuthBaseURL = Self.trimmed(googleOAuthBaseURL)
        self.googleAccountsBaseURL = Self.trimmed(googleAccountsBaseURL)
        self.googleClientId = googleClientId
        self.googleClientSecret = googleClientSecret
        self.msApp = msApp
    }

    public var msTokenURL: String { "\(msLoginBaseURL)/\(msTenant)/oauth2/v2.0/token" }
    public var googleTokenURL: String { "\(googleOAuthBaseURL)/token" }
    /// The app's token endpoint, in its own tenant: `{msLoginBaseURL}/{tenant}/oauth2/v2.0/token`.
    public var msAppTokenURL: String? { msApp.map { "\(msLoginBaseURL)/\(FormEncoding.escape($0.tenant))/oauth2/v2.0/token" } }
    public var msAuthorizeURL: String { "\(msLoginBaseURL)/\(msTenant)/oauth2/v2.0/authorize" }
    public var googleAuthorizeURL: String { "\(googleAccountsBaseURL)/o/oauth2/v2/auth" }

    /// Base URLs are joined with paths that start with "/".
    private static func trimmed(_ url: String) -> String {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
}
