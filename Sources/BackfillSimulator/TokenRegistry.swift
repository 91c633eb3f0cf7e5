import Foundation

/// OAuth state of both identity providers: access tokens, refresh tokens (rotated on Microsoft, kept on
/// Google), authorization codes, and revocations.
struct TokenRegistry {
    enum Provider: String { case microsoft, google }

    struct AccessGrant {
        let provider: Provider
        /// The signed-in mailbox's address; nil for an app-only (client credentials) token.
        let principal: String?
        let expires: Date
        /// An app-only token's application permissions (the JWT's `roles`), as consented when it was issued.
        var roles: Set<String> = []
    }

    struct RefreshGrant {
        let provider: Provider
        let principal: String
        var revoked = false
        /// When a refresh rotated it away (Microsoft); it works `refreshTokenGraceSeconds` longer.
        var retiredAt: Date?
    }

    struct AuthorizationCode {
        let provider: Provider
        let principal: String
        let redirectURI: String
        let codeChallenge: String?
        let expires: Date
    }

    private(set) var access: [String: AccessGrant] = [:]
    private(set) var refresh: [String: RefreshGrant] = [:]
    var codes: [String: AuthorizationCode] = [:]
    private var counter: UInt64 = 0
    private let salt: UInt64

    init(salt: UInt64) {
        self.salt = salt
    }

    mutating func newToken(prefix: String) -> String {
        counter += 1
        return prefix + IdentifierCodec.token(counter, salt: salt, length: 30)
    }

    mutating func issueAccess(provider: Provider, principal: String?, lifetime: TimeInterval, now: Date,
                              roles: Set<String> = []) -> String {
        let token = newToken(prefix: provider == .microsoft ? "eyJ0eX." : "ya29.")
        access[token] = AccessGrant(provider: provider, principal: principal, expires: now.addingTimeInterval(lifetime),
                                    roles: roles)
        return token
    }

    mutating func issueRefresh(provider: Provider, principal: String) -> String {
        let token = newToken(prefix: provider == .microsoft ? "0.AXsA" : "1//0g")
        refresh[token] = RefreshGrant(provider: provider, principal: principal)
        return token
    }

    /// Marks every refresh token of a mailbox revoked (password change, "revoke sessions").
    mutating func revokeRefreshTokens(of principal: String, revoked: Bool) {
        for (token, grant) in refresh where grant.principal.lowercased() == principal.lowercased() {
            refresh[token]?.revoked = revoked
        }
    }

    mutating func retireRefresh(_ token: String, now: Date) {
        if refresh[token]?.retiredAt == nil { refresh[token]?.retiredAt = now }
    }
}
