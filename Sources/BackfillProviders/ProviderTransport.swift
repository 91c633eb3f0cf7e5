import BackfillCore
import BackfillHTTP
import Foundation

/// Sends provider requests: takes a request slot of the mailbox around each one, and turns transport
/// errors into `ProviderFailure`s (cancellation stays cancellation).
struct ProviderTransport: Sendable {
    let http: HTTPClient
    let slots: any RequestSlots

    /// Sends inside one of the mailbox's request slots, after `beforeSend` (which may wait or throw).
    func send(
        _ request: HTTPRequest, mailbox: String, route: String, beforeSend: @Sendable () async throws -> Void = {}
    ) async throws -> HTTPResponse {
        try await slots.withSlot(mailbox: mailbox) {
            try await beforeSend()
            return try await send(request, route: route)
        }
    }

    /// Sends without a slot: for identity endpoints, which are not the mailbox's API.
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
