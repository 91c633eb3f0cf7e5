import CHiredis
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns one blocking `redisContext`. Not thread-safe: used only by its connection's thread.
/// Commands go through `redisAppendCommandArgv` (never the format-string API); replies are copied
/// into `RedisReply` values and freed at once.
final class HiredisContext {
    private let context: UnsafeMutablePointer<redisContext>
    /// The socket timeout currently set on the context.
    private var socketTimeout: Duration

    // Scratch space for argv, reused across commands so the hot path does not allocate.
    private var argumentBytes: UnsafeMutablePointer<CChar>
    private var argumentBytesCapacity = 256
    private var argumentPointers: UnsafeMutablePointer<UnsafePointer<CChar>?>
    private var argumentLengths: UnsafeMutablePointer<Int>
    private var argumentCapacity = 16

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
        argumentBytes = .allocate(capacity: argumentBytesCapacity)
        argumentPointers = .allocate(capacity: argumentCapacity)
        argumentLengths = .allocate(capacity: argumentCapacity)
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
        argumentBytes.deallocate()
        argumentPointers.deallocate()
        argumentLengths.deallocate()
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

    /// Appends a command to the output buffer; it is written by the next `readReply`.
    func append(_ command: [String]) throws(RedisError) {
        reserve(arguments: command.count, bytes: command.reduce(0) { $0 + $1.utf8.count })
        var offset = 0
        for (index, argument) in command.enumerated() {
            var argument = argument
            let count = argument.withUTF8 { utf8 in
                if let base = utf8.baseAddress {
                    UnsafeMutableRawPointer(argumentBytes + offset).copyMemory(from: base, byteCount: utf8.count)
                }
                return utf8.count
            }
            argumentPointers[index] = UnsafePointer(argumentBytes + offset)
            argumentLengths[index] = count
            offset += count
        }
        try appendArguments(count: command.count)
    }

    /// Appends a command with binary arguments.
    func append(_ command: [[UInt8]]) throws(RedisError) {
        reserve(arguments: command.count, bytes: command.reduce(0) { $0 + $1.count })
        var offset = 0
        for (index, argument) in command.enumerated() {
            argument.withUnsafeBytes { bytes in
                if let base = bytes.baseAddress {
                    UnsafeMutableRawPointer(argumentBytes + offset).copyMemory(from: base, byteCount: bytes.count)
                }
            }
            argumentPointers[index] = UnsafePointer(argumentBytes + offset)
            argumentLengths[index] = argument.count
            offset += argument.count
        }
        try appendArguments(count: command.count)
    }

    /// Writes whatever is buffered, then blocks until one reply is read (or the socket timeout passes).
    func readReply() throws(RedisError) -> RedisReply {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
            throw failure(while: "waiting for a reply")
        }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(reply) }
        return Self.decode(reply)
    }

    private func handshake(_ command: [String], step: String) throws(RedisError) {
        try append(command)
        if case .error(let message) = try readReply() {
            throw RedisError(code: .connection, message: "\(step) failed: \(message)")
        }
    }

    private func appendArguments(count: Int) throws(RedisError) {
        guard redisAppendCommandArgv(context, Int32(count), argumentPointers, argumentLengths) == REDIS_OK else {
            throw failure(while: "formatting a command")
        }
    }

    private func reserve(arguments: Int, bytes: Int) {
        if arguments > argumentCapacity {
            argumentCapacity = max(arguments, argumentCapacity * 2)
            argumentPointers.deallocate()
            argumentLengths.deallocate()
            argumentPointers = .allocate(capacity: argumentCapacity)
            argumentLengths = .allocate(capacity: argumentCapacity)
        }
        if bytes > argumentBytesCapacity {
            argumentBytesCapacity = max(bytes, argumentBytesCapacity * 2)
            argumentBytes.deallocate()
            argumentBytes = .allocate(capacity: argumentBytesCapacity)
        }
    }

    /// Maps the context's error (read right after the failing call, while errno is still its own).
    private func failure(while action: String) -> RedisError {
        let timedOut = errno == EAGAIN || errno == EWOULDBLOCK
        let reason = Self.errorText(context)
        switch context.pointee.err {
        case REDIS_ERR_IO where timedOut:
            return RedisError(code: .timeout, message: "no reply within \(socketTimeout)")
        case REDIS_ERR_PROTOCOL:
            return RedisError(code: .protocol, message: "protocol error while \(action): \(reason)")
        default:
            return RedisError(code: .connection, message: "connection failed while \(action): \(reason)")
        }
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
