/// An error from the Redis client. Its message never contains a password or a stored value.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. A struct over a private enum, so new codes can be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Kind: String, Sendable, Hashable {
            case invalidURL, connection, timeout, `protocol`, server, closed
        }

        private let kind: Kind

        private init(_ kind: Kind) { self.kind = kind }

        /// The configuration URL could not be parsed.
        public static let invalidURL = Code(.invalidURL)
        /// Connecting failed, authentication or database selection failed, or the connection dropped.
        public static let connection = Code(.connection)
        /// No reply arrived within the command timeout.
        public static let timeout = Code(.timeout)
        /// The server sent something that is not valid RESP2.
        public static let `protocol` = Code(.protocol)
        /// The server answered with an error reply (`-ERR ...`).
        public static let server = Code(.server)
        /// The client was closed.
        public static let closed = Code(.closed)

        public var description: String { kind.rawValue }
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "RedisError(\(code)): \(message)" }
}

extension RedisError {
    static let clientClosed = RedisError(code: .closed, message: "the Redis client is closed")
}
