import Foundation

/// One `send` call as the curl thread sees it: the request, and the continuation that receives the outcome
/// exactly once. Cancellation may finish a ticket before its continuation is attached or before the curl
/// thread has started it; the lock makes every order safe.
final class TransferTicket: @unchecked Sendable {
    let request: HTTPRequest

    private let lock = NSLock()
    private var continuation: CheckedContinuation<HTTPResponse, any Error>?
    /// Set once; an outcome that arrives before the continuation waits here for it.
    private var outcome: Result<HTTPResponse, HTTPClientError>?

    init(request: HTTPRequest) {
        self.request = request
    }

    var isFinished: Bool {
        lock.withLock { outcome != nil }
    }

    func attach(_ continuation: CheckedContinuation<HTTPResponse, any Error>) {
        let earlyOutcome: Result<HTTPResponse, HTTPClientError>? = lock.withLock {
            if outcome == nil { self.continuation = continuation }
            return outcome
        }
        if let earlyOutcome {
            continuation.resume(with: earlyOutcome.mapError { $0 })
        }
    }

    /// Records the outcome and resumes the caller; later calls do nothing.
    func finish(_ result: Result<HTTPResponse, HTTPClientError>) {
        let waiting: CheckedContinuation<HTTPResponse, any Error>? = lock.withLock {
            guard outcome == nil else { return nil }
            outcome = result
            defer { continuation = nil }
            return continuation
        }
        waiting?.resume(with: result.mapError { $0 })
    }
}
