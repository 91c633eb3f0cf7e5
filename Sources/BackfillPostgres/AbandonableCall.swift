import Foundation

/// Runs a postgres-nio call in a task of its own and answers as soon as the call ends or the caller is cancelled,
/// whichever comes first. postgres-nio has been seen (rarely: once in many test runs against a refused port) to keep a
/// cancelled call waiting for a connection, and to keep its run loop going after a cancel; a store call that gave up
/// after its timeout, or a shutdown, must not wait on it too. The abandoned call is cancelled and ends by itself.
enum AbandonableCall {
    static func run<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let outcome = Outcome<T>()
        // Unstructured on purpose: the caller must be able to stop waiting while the call has not ended.
        let call = Task { outcome.finish(await Result { try await work() }) }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { outcome.wait($0) }
        } onCancel: {
            call.cancel()
            outcome.finish(.failure(CancellationError()))
        }
    }

    /// The first result, handed to the waiter exactly once, whichever of the two comes first.
    private final class Outcome<T: Sendable>: @unchecked Sendable {
        private let lock = NSLock()
        private var result: Result<T, any Error>?
        private var waiter: CheckedContinuation<T, any Error>?

        func finish(_ result: Result<T, any Error>) {
            lock.lock()
            guard self.result == nil else { return lock.unlock() }
            self.result = result
            let waiter = self.waiter
            self.waiter = nil
            lock.unlock()
            waiter?.resume(with: result)
        }

        func wait(_ waiter: CheckedContinuation<T, any Error>) {
            lock.lock()
            if let result {
                lock.unlock()
                return waiter.resume(with: result)
            }
            self.waiter = waiter
            lock.unlock()
        }
    }
}

extension Result where Failure == any Error {
    /// The result of an async throwing call.
    init(_ body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
