import BackfillCore
import BackfillHTTP
import Foundation

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

extension OAuthTokenError {
    /// A token endpoint's refusal as a `ProviderFailure`. `refusal` names what the grant type's own error codes mean
    /// (given the code and a detail with Microsoft's AADSTS number); throttling, server errors and anything else
    /// read the same for every grant.
    static func failure(
        for response: HTTPResponse, route: String, now: Date,
        refusal: (_ code: String, _ detail: String) -> ProviderFailure?
    ) -> ProviderFailure {
        let error = try? JSONDecoder().decode(OAuthTokenError.self, from: response.body)
        let code = error?.error ?? "HTTP \(response.status)"
        let detail = error?.error_codes?.first.map { "\(code), AADSTS\($0)" } ?? code
        if let refused = refusal(code, detail) { return refused }
        switch (response.status, code) {
        case (429, _):
            return .throttled(retryAfter: RetryAfter.delay(from: response.headers["Retry-After"], now: now))
        case (500..., _), (_, "temporarily_unavailable"):
            return .transient("\(route): \(detail)")
        default:
            return .invalidResponse("\(route): \(detail)")
        }
    }
}
