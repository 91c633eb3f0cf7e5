import CCurl
import Foundation
import Logging

/// The one dedicated thread that drives every transfer of a client through a curl multi handle.
///
/// Callers hand it tickets through a locked inbox and wake it with `curl_multi_wakeup`; the thread sleeps in
/// `curl_multi_poll` otherwise. The multi handle keeps the connection and DNS caches, so connections are
/// reused across transfers, and finished easy handles are kept for the next transfer.
final class CurlMultiLoop: @unchecked Sendable {
    private enum Command {
        case start(TransferTicket)
        case cancel(TransferTicket)
    }

    private let multi: UnsafeMutableRawPointer?
    private let configuration: HTTPClient.Configuration
    private let logger: Logger

    // Shared with callers, guarded by `lock`.
    private let lock = NSLock()
    private var inbox: [Command] = []
    private var isStopping = false
    private var hasStopped = false
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []

    // Owned by the curl thread.
    private var active: [ObjectIdentifier: CurlTransfer] = [:]
    private var idleHandles: [CurlEasyHandle] = []

    /// Easy handles kept for reuse beyond this many are freed.
    private static let maxIdleHandles = 512
    /// The longest sleep in curl_multi_poll; curl shortens it for its own timers, a wakeup ends it at once.
    private static let pollTimeoutMilliseconds: Int32 = 10_000

    init(configuration: HTTPClient.Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        multi = CurlLibrary.isInitialized ? curl_multi_init() : nil
        guard let multi else {
            logger.error("curl could not be initialised; every request will fail")
            isStopping = true
            hasStopped = true
            return
        }
        _ = backfill_curl_multi_setopt_long(
            multi, CURLMOPT_MAX_HOST_CONNECTIONS, max(0, configuration.maxConnectionsPerHost))
        _ = backfill_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(1, configuration.maxCachedConnections))
        let thread = Thread { [self] in run() }
        thread.name = "backfill.curl"
        thread.start()
    }

    /// Queues a ticket for the curl thread; after shutdown the ticket fails with `.cancelled`.
    func start(_ ticket: TransferTicket) {
        if !enqueue(.start(ticket)) {
            ticket.finish(.failure(Self.notRunningError(neverStarted: multi == nil)))
        }
    }

    /// Stops a ticket's transfer; it fails with `.cancelled` unless it has already finished.
    func cancel(_ ticket: TransferTicket) {
        if !enqueue(.cancel(ticket)) {
            ticket.finish(.failure(HTTPClientError(code: .cancelled, message: "the request was cancelled")))
        }
    }

    /// Asks the thread to stop without waiting for it.
    func requestStop() {
        lock.withLock {
            guard !isStopping else { return }
            isStopping = true
            curl_multi_wakeup(multi)
        }
    }

    /// Stops the thread and waits until it has failed every pending transfer and freed curl's handles.
    func stop() async {
        requestStop()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let stopped = lock.withLock {
                if !hasStopped { stopWaiters.append(continuation) }
                return hasStopped
            }
            if stopped { continuation.resume() }
        }
    }

    /// The wakeup happens under the lock: once `isStopping` is set nobody touches the multi handle again,
    /// so the thread may free it.
    private func enqueue(_ command: Command) -> Bool {
        lock.withLock {
            guard !isStopping else { return false }
            inbox.append(command)
            curl_multi_wakeup(multi)
            return true
        }
    }

    // MARK: The curl thread

    private func run() {
        guard let multi else { return }
        logger.debug("curl thread started")
        while true {
            let (commands, stopping) = lock.withLock {
                defer { inbox.removeAll(keepingCapacity: true) }
                return (inbox, isStopping)
            }
            if stopping {
                shutDown(multi, failing: commands)
                return
            }
            for command in commands {
                switch command {
                case .start(let ticket): begin(ticket, on: multi)
                case .cancel(let ticket): abandon(ticket, on: multi)
                }
            }
            var running: Int32 = 0
            let performed = curl_multi_perform(multi, &running)
            if performed != CURLM_OK {
                logger.warning("curl_multi_perform failed", metadata: ["curl.multi_code": "\(performed.rawValue)"])
            }
            collectFinishedTransfers(on: multi)
            let polled = curl_multi_poll(multi, nil, 0, Self.pollTimeoutMilliseconds, nil)
            if polled != CURLM_OK {
                logger.warning("curl_multi_poll failed", metadata: ["curl.multi_code": "\(polled.rawValue)"])
            }
        }
    }

    private func begin(_ ticket: TransferTicket, on multi: UnsafeMutableRawPointer) {
        guard !ticket.isFinished else { return }  // cancelled before the thread got to it
        guard let easy = idleHandles.popLast() ?? CurlEasyHandle() else {
            ticket.finish(.failure(HTTPClientError(code: .other, message: "curl could not create a handle")))
            return
        }
        let transfer: CurlTransfer
        do {
            transfer = try CurlTransfer(ticket: ticket, easy: easy, configuration: configuration)
        } catch {
            recycle(easy)
            ticket.finish(.failure(error as? HTTPClientError ?? HTTPClientError(code: .other, message: "\(error)")))
            return
        }
        let added = curl_multi_add_handle(multi, easy.raw)
        guard added == CURLM_OK else {
            recycle(easy)
            let reason = String(cString: curl_multi_strerror(added))
            ticket.finish(.failure(HTTPClientError(code: .other, message: "curl refused the transfer: \(reason)")))
            return
        }
        active[ObjectIdentifier(ticket)] = transfer
    }

    private func abandon(_ ticket: TransferTicket, on multi: UnsafeMutableRawPointer) {
        let cancelled = HTTPClientError(code: .cancelled, message: "the request was cancelled")
        guard let transfer = active[ObjectIdentifier(ticket)] else {
            ticket.finish(.failure(cancelled))  // not started yet, or already finished (then this does nothing)
            return
        }
        end(transfer, on: multi, with: .failure(cancelled))
    }

    private func collectFinishedTransfers(on multi: UnsafeMutableRawPointer) {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            var context: UnsafeMutableRawPointer?
            guard backfill_curl_easy_getinfo_pointer(easy, CURLINFO_PRIVATE, &context) == CURLE_OK, let context
            else { continue }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
            if code == CURLE_OK {
                end(transfer, on: multi, with: .success(transfer.response()))
            } else {
                let error = HTTPClientError(code: .init(curlCode: code), message: transfer.easy.errorDetail(for: code))
                logger.debug("HTTP transfer failed", metadata: ["http.error": "\(error.code)"])
                end(transfer, on: multi, with: .failure(error))
            }
        }
    }

    private func end(
        _ transfer: CurlTransfer, on multi: UnsafeMutableRawPointer, with result: Result<HTTPResponse, HTTPClientError>
    ) {
        curl_multi_remove_handle(multi, transfer.easy.raw)
        active[ObjectIdentifier(transfer.ticket)] = nil
        recycle(transfer.easy)
        transfer.ticket.finish(result)
    }

    private func recycle(_ easy: CurlEasyHandle) {
        if idleHandles.count < Self.maxIdleHandles {
            idleHandles.append(easy)
        }
    }

    private func shutDown(_ multi: UnsafeMutableRawPointer, failing commands: [Command]) {
        let shutDownError = Self.notRunningError(neverStarted: false)
        for transfer in active.values {
            end(transfer, on: multi, with: .failure(shutDownError))
        }
        for case .start(let ticket) in commands {
            ticket.finish(.failure(shutDownError))
        }
        idleHandles.removeAll()
        curl_multi_cleanup(multi)
        let waiters = lock.withLock {
            hasStopped = true
            defer { stopWaiters.removeAll() }
            return stopWaiters
        }
        logger.debug("curl thread stopped")
        for waiter in waiters { waiter.resume() }
    }

    private static func notRunningError(neverStarted: Bool) -> HTTPClientError {
        neverStarted
            ? HTTPClientError(code: .other, message: "curl could not be initialised")
            : HTTPClientError(code: .cancelled, message: "the HTTP client has been shut down")
    }
}
