/// Where the HTTP server listens: `host:port`, `[v6]:port`, or `:port` (loopback).
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses the `BACKFILL_LISTEN` spelling; port 0 picks a free port.
    public init(parsing text: String) throws(ConfigurationError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let colon = trimmed.lastIndex(of: ":") else {
            throw ConfigurationError("listen address '\(text)' needs a port, like 127.0.0.1:8080")
        }
        var host = String(trimmed[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let port = Int(trimmed[trimmed.index(after: colon)...]), (0...65535).contains(port) else {
            throw ConfigurationError("listen address '\(text)' has no valid port (0-65535)")
        }
        self.host = host.isEmpty ? "127.0.0.1" : host
        self.port = port
    }

    /// Only this machine can reach it.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A configuration that cannot work, said before anything starts.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
