import BackfillCore
import BackfillHTTP
import Foundation

/// Sends HTTP requests to a provider and turns transport errors into `ProviderFailure`s (cancellation stays
/// cancellation). Admission (gate, slots, quota) is `ProviderRequestSender`'s; identity endpoints, which are not
/// a mailbox's API, are sent here directly.
struct ProviderTransport: Sendable {
    let http: HTTPClient

    func send(_ request: HTTPRequest, route: String) async throws -> HTTPResponse {
        do {
            return try await http.send(request)
        } catch let error as HTTPClientError {
            throw Self.failure(for: error, route: route)
        }
    }

    static func failure(for error: HTTPClientError, route: String) -> any Error {
        switch error.code {
        case .cancelled:
            CancellationError()
        case .invalidURL, .invalidRequest:
            ProviderFailure.invalidResponse("\(route): unusable request URL (\(error.code))")
        default:
            ProviderFailure.transient("\(route): \(error.code)")
        }
    }
}
