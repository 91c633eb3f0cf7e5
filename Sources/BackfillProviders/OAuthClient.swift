/// An OAuth client registration at one identity provider: where to refresh tokens and as whom.
struct OAuthClient: Sendable {
    /// "microsoft" or "google", for error messages.
    var issuer: String
    var tokenURL: String
    var clientId: String
    var clientSecret: String
    /// Scopes sent with the refresh grant (Microsoft wants them; Google does not).
    var scope: String?

    static func microsoft(_ endpoints: ProviderEndpoints) -> OAuthClient {
        OAuthClient(
            issuer: "microsoft", tokenURL: endpoints.msTokenURL, clientId: endpoints.msClientId,
            clientSecret: endpoints.msClientSecret, scope: endpoints.msScopes
        )
    }

    static func google(_ endpoints: ProviderEndpoints) -> OAuthClient {
        OAuthClient(
            issuer: "google", tokenURL: endpoints.googleTokenURL, clientId: endpoints.googleClientId,
            clientSecret: endpoints.googleClientSecret, scope: nil
        )
    }
}
