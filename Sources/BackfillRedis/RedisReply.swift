/// A RESP2 reply, copied out of hiredis into Swift values.
public enum RedisReply: Sendable, Hashable {
    /// A status reply such as `+OK`.
    case status(String)
    /// An error reply such as `-ERR ...`. Only appears inside pipeline results; `send` throws instead.
    case error(String)
    case integer(Int)
    /// A bulk string; binary-safe.
    case bulk([UInt8])
    /// A nil bulk string or nil array.
    case null
    case array([RedisReply])

    /// The status or bulk string decoded as UTF-8.
    public var string: String? {
        switch self {
        case .status(let text): text
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    /// The integer, or a bulk or status string parsed as an integer.
    public var int: Int? {
        switch self {
        case .integer(let value): value
        case .bulk, .status: string.flatMap { Int($0) }
        default: nil
        }
    }

    public var array: [RedisReply]? {
        if case .array(let elements) = self { elements } else { nil }
    }

    public var isNull: Bool {
        if case .null = self { true } else { false }
    }
}
