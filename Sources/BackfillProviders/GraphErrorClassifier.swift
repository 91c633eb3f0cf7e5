import BackfillCore
import BackfillHTTP
import Foundation

/// Maps a Graph error response into the core classification (docs/providers.md, Graph errors). Branches on status and
/// `error.code`, never on the message text.
enum GraphErrorClassifier {
    static func failure(for response: HTTPResponse, route: String, now: Date) -> ProviderFailure {
        let code = (try? JSONDecoder().decode(GraphErrorBody.self, from: response.body))?.error.code ?? ""
        let detail = code.isEmpty ? "\(route): HTTP \(response.status)" : "\(route): HTTP \(response.status) \(code)"
        let retryAfter = RetryAfter.delay(from: response.headers["Retry-After"], now: now)
        switch response.status {
        case 429:
            return .throttled(retryAfter: retryAfter)
        case 500...:
            return retryAfter.map { .throttled(retryAfter: $0) } ?? .transient(detail)
        case 410:
            return .cursorExpired(detail)
        case 400 where cursorResetCodes.contains(code.lowercased()):
            return .cursorExpired(detail)
        case 401, 403:
            return .permissionLost(detail)
        case 404 where code == "ErrorItemNotFound" || code == "itemNotFound":
            // A folder just enumerated can briefly 404 (eventual consistency): try again later.
            return .transient(detail)
        case 404:
            return .permissionLost(detail)
        default:
            return .invalidResponse(detail)
        }
    }

    /// Codes Graph uses for a dead delta cursor besides 410 (compared lowercased; the casing varies).
    private static let cursorResetCodes: Set<String> = ["syncstatenotfound", "resyncrequired", "syncstateinvalid"]

    private struct GraphErrorBody: Decodable {
        struct Detail: Decodable {
            var code: String
        }
        var error: Detail
    }
}
