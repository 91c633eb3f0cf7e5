/// The token endpoint's success body (RFC 6749 §5.1 field names), for refresh and code grants alike.
struct OAuthTokenGrant: Decodable {
    var access_token: String
    var refresh_token: String?
    var expires_in: Int?
}

/// The token endpoint's error body (RFC 6749 §5.2, plus Microsoft's AADSTS codes).
struct OAuthTokenError: Decodable {
    var error: String
    var error_codes: [Int]?
}
