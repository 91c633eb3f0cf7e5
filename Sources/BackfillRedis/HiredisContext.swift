import CHiredis
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns one blocking `redisContext`. Not thread-safe: used only by its connection's thread.
/// Commands are encoded in RESP straight into one reusable output buffer and written with `write(2)`
/// (never the format-string API, nor a C allocation per command); hiredis reads and parses the replies,
/// which are copied into `RedisReply` values and freed at once.
final class HiredisContext {
    private let context: UnsafeMutablePointer<redisContext>
    /// The socket timeout currently set on the context.
    private var socketTimeout: Duration

    /// Commands appended and not yet written, reused across round trips so the hot path does not allocate.
    private var output: UnsafeMutablePointer<UInt8>
    private var outputCapacity = HiredisContext.outputRetained
    private var outputCount = 0
    /// No reply has come on this connection yet: a failure now may mean the port does not speak plain RESP.
    private var hasReplied = false
    /// A buffer grown past this by a large command is given back after it is written.
    private static let outputRetained = 16 * 1024

    /// Connects, sets the socket timeout, and sends `AUTH` and `SELECT` when the configuration asks.
    init(configuration: RedisConfiguration) throws(RedisError) {
        let connectTimeout = timeval(configuration.connectTimeout)
        let connected: UnsafeMutablePointer<redisContext>? =
            switch configuration.endpoint {
            case .tcp(let host, let port): redisConnectWithTimeout(host, Int32(port), connectTimeout)
            case .unix(let path): redisConnectUnixWithTimeout(path, connectTimeout)
            }
        guard let connected else {
            throw RedisError(code: .connection, message: "cannot allocate a hiredis context")
        }
        if connected.pointee.err != 0 {
            let reason = Self.errorText(connected)
            redisFree(connected)
            throw RedisError(
                code: .connection, message: "cannot connect to \(configuration.endpoint): \(reason)")
        }
        context = connected
        socketTimeout = configuration.commandTimeout
        output = .allocate(capacity: outputCapacity)
        guard redisSetTimeout(context, timeval(socketTimeout)) == REDIS_OK else {
            throw failure(while: "setting the socket timeout")
        }
        if let password = configuration.password {
            let auth = configuration.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]
            try handshake(auth, step: "AUTH")
        }
        if configuration.database != 0 {
            try handshake(["SELECT", String(configuration.database)], step: "SELECT")
        }
    }

    deinit {
        redisFree(context)
        output.deallocate()
    }

    /// True when the server closed the socket or sent something unasked while the connection was idle
    /// (RESP2 never pushes, so either way the connection is unusable).
    var isStale: Bool {
        var descriptor = pollfd(fd: context.pointee.fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) != 0
    }

    /// Changes the socket's send and receive timeout when it differs from the current one.
    func setTimeout(_ timeout: Duration) throws(RedisError) {
        guard timeout != socketTimeout else { return }
        guard redisSetTimeout(context, timeval(timeout)) == REDIS_OK else {
            throw failure(while: "setting the socket timeout")
        }
        socketTimeout = timeout
    }

    /// Appends a command to the output buffer; `flush` writes it.
    func append(_ command: [String]) {
        appendHeader(UInt8(ascii: "*"), command.count)
        for argument in command {
            let utf8 = argument.utf8
            if utf8.withContiguousStorageIfAvailable({ appendArgument(UnsafeRawBufferPointer($0)) }) == nil {
                appendArgument(Array(utf8))
            }
        }
    }

    /// Appends a command with binary arguments.
    func append(_ command: [[UInt8]]) {
        appendHeader(UInt8(ascii: "*"), command.count)
        for argument in command { appendArgument(argument) }
    }

    /// Writes every appended command (blocking, up to the socket timeout).
    func flush() throws(RedisError) {
        defer {
            outputCount = 0
            if outputCapacity > Self.outputRetained {
                output.deallocate()
                outputCapacity = Self.outputRetained
                output = .allocate(capacity: outputCapacity)
            }
        }
        var written = 0
        while written < outputCount {
            let count = write(context.pointee.fd, output + written, outputCount - written)
            if count > 0 {
                written += count
                continue
            }
            let code = errno
            if count < 0 && code == EINTR { continue }
            if count < 0 && (code == EAGAIN || code == EWOULDBLOCK) {
                throw RedisError(code: .timeout, message: "could not send within \(socketTimeout)")
            }
            let reason = count == 0 ? "nothing written" : String(cString: strerror(code))
            throw RedisError(code: .connection, message: "connection failed while sending: \(reason)")
        }
    }

    /// Returns the next reply. One already read (a pipeline's) comes at once; otherwise, when `spin` is
    /// not zero, the socket is polled for up to `spin` (a reply due within microseconds then costs this
    /// thread no sleep and wake-up) before blocking until the reply is read or the socket timeout passes.
    /// Write the commands with `flush` first.
    func readReply(spin: Duration = .zero) throws(RedisError) -> RedisReply {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReplyFromReader(context, &raw) == REDIS_OK else {
            throw failure(while: "reading a reply")
        }
        if raw == nil {
            if spin > .zero { awaitReadable(for: spin) }
            guard redisGetReply(context, &raw) == REDIS_OK, raw != nil else {
                throw failure(while: "waiting for a reply")
            }
        }
        let reply = raw!.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(reply) }
        hasReplied = true
        return Self.decode(reply)
    }

    /// Polls the socket without blocking until it is readable or `duration` has passed, yielding the CPU
    /// between polls (on a small machine the server may need this very core to answer).
    private func awaitReadable(for duration: Duration) {
        var descriptor = pollfd(fd: context.pointee.fd, events: Int16(POLLIN), revents: 0)
        let until = ContinuousClock.now + duration
        while poll(&descriptor, 1, 0) == 0 && ContinuousClock.now < until { sched_yield() }
    }

    private func handshake(_ command: [String], step: String) throws(RedisError) {
        append(command)
        try flush()
        if case .error(let message) = try readReply() {
            throw RedisError(code: .connection, message: "\(step) failed: \(message)")
        }
    }

    /// `$LENGTH\r\n` + bytes + `\r\n`.
    private func appendArgument(_ bytes: UnsafeRawBufferPointer) {
        appendHeader(UInt8(ascii: "$"), bytes.count)
        reserve(bytes.count + 2)
        if let base = bytes.baseAddress {
            UnsafeMutableRawPointer(output + outputCount).copyMemory(from: base, byteCount: bytes.count)
        }
        outputCount += bytes.count
        output[outputCount] = 13
        output[outputCount + 1] = 10
        outputCount += 2
    }

    private func appendArgument(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { appendArgument($0) }
    }

    /// `*COUNT\r\n` or `$LENGTH\r\n`.
    private func appendHeader(_ marker: UInt8, _ value: Int) {
        reserve(24)
        output[outputCount] = marker
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        rest = value
        for position in stride(from: outputCount + digits, to: outputCount, by: -1) {
            output[position] = UInt8(truncatingIfNeeded: 48 + rest % 10)
            rest /= 10
        }
        outputCount += digits + 1
        output[outputCount] = 13
        output[outputCount + 1] = 10
        outputCount += 2
    }

    private func reserve(_ extra: Int) {
        let needed = outputCount + extra
        guard needed > outputCapacity else { return }
        var capacity = outputCapacity * 2
        while capacity < needed { capacity *= 2 }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        grown.update(from: output, count: outputCount)
        output.deallocate()
        output = grown
        outputCapacity = capacity
    }

    /// Maps the context's error (read right after the failing call, while errno is still its own).
    private func failure(while action: String) -> RedisError {
        let timedOut = errno == EAGAIN || errno == EWOULDBLOCK
        let reason = Self.errorText(context)
        switch context.pointee.err {
        case REDIS_ERR_IO where timedOut:
            return RedisError(code: .timeout, message: "no reply within \(socketTimeout)")
        case REDIS_ERR_PROTOCOL:
            return RedisError(code: .protocol, message: "protocol error while \(action): \(reason)\(firstReplyHint)")
        default:
            return RedisError(code: .connection, message: "connection failed while \(action): \(reason)\(firstReplyHint)")
        }
    }

    /// A TLS-only port resets a plaintext client at its first command: say what may be wrong.
    private var firstReplyHint: String {
        hasReplied ? "" : " (no reply on this connection yet: if the port takes TLS only, use the TLS sidecar, README \"Redis over TLS\")"
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private static func decode(_ reply: UnsafePointer<redisReply>) -> RedisReply {
        let value = reply.pointee
        switch value.type {
        case REDIS_REPLY_STRING:
            return .bulk(Array(UnsafeRawBufferPointer(start: value.str, count: value.len)))
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: UnsafeRawBufferPointer(start: value.str, count: value.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: UnsafeRawBufferPointer(start: value.str, count: value.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int(value.integer))
        case REDIS_REPLY_ARRAY:
            return .array((0..<value.elements).map { decode(value.element[$0]!) })
        default:
            return .null
        }
    }
}

extension timeval {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
