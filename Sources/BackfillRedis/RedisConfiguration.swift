/// Where and how to connect. Validated in `init`, before anything connects.
public struct RedisConfiguration: Sendable, CustomStringConvertible {
    /// Where the server listens.
    public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
        case tcp(host: String, port: Int)
        case unix(path: String)

        public var description: String {
            switch self {
            case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .unix(let path): "unix:\(path)"
            }
        }
    }

    /// The server's address (never includes the password).
    public var endpoint: Endpoint
    /// The ACL user for `AUTH user password`; nil sends `AUTH password`.
    public var username: String?
    /// Sent with `AUTH` on every connect; nil sends no `AUTH`.
    public var password: String?
    /// Selected with `SELECT` on every connect.
    public var database: Int
    /// Connections in the pool for ordinary commands (blocking commands get their own).
    public var poolSize: Int
    /// How long a command may wait for its reply (and for a reconnect) before it fails with `.timeout`.
    public var commandTimeout: Duration
    /// How long one connect attempt may take.
    public var connectTimeout: Duration

    /// Never includes the password.
    public var description: String {
        let auth = password == nil ? "" : " auth=\(username ?? "default")"
        return "RedisConfiguration(\(endpoint) db=\(database)\(auth) pool=\(poolSize) commandTimeout=\(commandTimeout))"
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]` or `unix:///path/to/socket[?db=N]`.
    public init(
        url: String,
        poolSize: Int = 4,
        commandTimeout: Duration = .seconds(5),
        connectTimeout: Duration = .seconds(2)
    ) throws {
        guard poolSize >= 1 else { throw Self.invalid("the pool size must be at least 1") }
        guard commandTimeout > .zero, connectTimeout > .zero else {
            throw Self.invalid("timeouts must be positive")
        }
        let target: Target
        if url.lowercased().hasPrefix("rediss://") {
            throw RedisError(code: .invalidURL, message: Self.tlsRefusal)
        } else if url.hasPrefix("unix://") {
            target = try Self.parseUnix(url.dropFirst("unix://".count))
        } else if url.hasPrefix("redis://") {
            target = try Self.parseTCP(url.dropFirst("redis://".count))
        } else {
            throw Self.invalid("the URL must start with redis:// or unix://")
        }
        self.endpoint = target.endpoint
        self.username = target.username
        self.password = target.password
        self.database = target.database
        self.poolSize = poolSize
        self.commandTimeout = commandTimeout
        self.connectTimeout = connectTimeout
    }

    /// Why a `rediss://` URL is refused, and what to do instead. hiredis 0.14 has no TLS; rather than fail at
    /// the first command, startup says so and names the sidecar that carries plain RESP over TLS.
    public static let tlsRefusal = "invalid Redis configuration: rediss:// (Redis over TLS) is not supported by the client "
        + "(hiredis 0.14 has no TLS). Run the TLS sidecar, stunnel in client mode (ops/stunnel/backfill-redis.conf, "
        + "ops/systemd/backfill-redis-tls.service; README, \"Redis over TLS\"), and use its loopback port instead: "
        + "redis://127.0.0.1:6380"

    /// What a URL names.
    private struct Target {
        var endpoint: Endpoint
        var username: String?
        var password: String?
        var database = 0
    }

    private static func parseUnix(_ rest: Substring) throws -> Target {
        let parts = rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts[0])
        guard path.hasPrefix("/"), path.count > 1 else {
            throw invalid("a unix URL needs an absolute socket path, as in unix:///run/redis.sock")
        }
        var target = Target(endpoint: .unix(path: path))
        if parts.count == 2 {
            guard parts[1].hasPrefix("db="), let db = Int(parts[1].dropFirst(3)), db >= 0 else {
                throw invalid("the only unix URL query is db=N")
            }
            target.database = db
        }
        return target
    }

    private static func parseTCP(_ rest: Substring) throws -> Target {
        var database = 0
        var username: String?
        var password: String?
        var authority = rest
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            let db = rest[rest.index(after: slash)...]
            if !db.isEmpty {
                guard let number = Int(db), number >= 0 else {
                    throw Self.invalid("the database after the host must be a non-negative number")
                }
                database = number
            }
        }
        if let at = authority.lastIndex(of: "@") {
            let credentials = authority[..<at]
            authority = authority[authority.index(after: at)...]
            guard let colon = credentials.firstIndex(of: ":") else {
                throw Self.invalid("credentials must be written [user]:password@")
            }
            let user = try Self.percentDecoded(credentials[..<colon])
            username = user.isEmpty ? nil : user
            password = try percentDecoded(credentials[credentials.index(after: colon)...])
        }
        var host = authority
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw Self.invalid("unclosed [ in the host") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw Self.invalid("unexpected text after the host") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.firstIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        }
        guard !host.isEmpty else { throw Self.invalid("the URL has no host") }
        var port = 6379
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else {
                throw Self.invalid("the port must be a number from 1 to 65535")
            }
            port = number
        }
        return Target(
            endpoint: .tcp(host: String(host), port: port), username: username, password: password,
            database: database)
    }

    /// Decodes `%XX` escapes (passwords may contain `@`, `:` or `/`).
    private static func percentDecoded(_ text: Substring) throws -> String {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw invalid("bad %-escape in the credentials")
            }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The message names what is wrong, never the URL itself (it may hold a password).
    private static func invalid(_ reason: String) -> RedisError {
        RedisError(code: .invalidURL, message: "invalid Redis configuration: \(reason)")
    }
}
