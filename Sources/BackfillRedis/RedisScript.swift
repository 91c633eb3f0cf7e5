/// A Lua script run with `EVALSHA`. Its SHA comes from `SCRIPT LOAD` on first use and is cached by the client.
public struct RedisScript: Sendable, Hashable {
    /// A short name used in errors and logs (the source is never logged).
    public let name: String
    public let source: String

    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }
}
