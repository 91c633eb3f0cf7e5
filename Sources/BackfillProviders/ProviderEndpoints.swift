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
        googleClientSecret: String = ""
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
    }

    public var msTokenURL: String { "\(msLoginBaseURL)/\(msTenant)/oauth2/v2.0/token" }
    public var googleTokenURL: String { "\(googleOAuthBaseURL)/token" }
    public var msAuthorizeURL: String { "\(msLoginBaseURL)/\(msTenant)/oauth2/v2.0/authorize" }
    public var googleAuthorizeURL: String { "\(googleAccountsBaseURL)/o/oauth2/v2/auth" }

    /// Base URLs are joined with paths that start with "/".
    private static func trimmed(_ url: String) -> String {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
}
