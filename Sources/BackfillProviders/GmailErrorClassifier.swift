import BackfillCore
import BackfillHTTP
import Foundation

/// Maps a Gmail error response into the core classification (docs/providers.md, Gmail errors). Rate limits arrive as 429
/// or as 403 with reason `userRateLimitExceeded`/`rateLimitExceeded`; every other 403 is permanent.
enum GmailErrorClassifier {
    static func failure(for response: HTTPResponse, route: String, now: Date) -> ProviderFailure {
        let error = (try? JSONDecoder().decode(GmailErrorBody.self, from: response.body))?.error
        let reason = error?.errors?.first?.reason ?? error?.status ?? ""
        let detail = reason.isEmpty ? "\(route): HTTP \(response.status)" : "\(route): HTTP \(response.status) \(reason)"
        let retryAfter = RetryAfter.delay(from: response.headers["Retry-After"], now: now)
        switch response.status {
        case 429:
            return .throttled(retryAfter: retryAfter)
        case 403 where rateLimitReasons.contains(reason):
            return .throttled(retryAfter: retryAfter)
        case 500...:
            return retryAfter.map { .throttled(retryAfter: $0) } ?? .transient(detail)
        case 401, 403, 404:
            return .permissionLost(detail)
        case 400 where reason == "failedPrecondition" || reason == "FAILED_PRECONDITION":
            return .permissionLost(detail)
        default:
            return .invalidResponse(detail)
        }
    }

    private static let rateLimitReasons: Set<String> = ["userRateLimitExceeded", "rateLimitExceeded", "dailyLimitExceeded"]

    private struct GmailErrorBody: Decodable {
        struct Detail: Decodable {
            struct Item: Decodable {
                var reason: String?
            }
            var errors: [Item]?
            var status: String?
        }
        var error: Detail
    }
}
