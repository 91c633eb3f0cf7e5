/// Keys the scheduler tests use beside the scheduler's own, under the same prefix.
///
/// | key | type | holds |
/// |---|---|---|
/// | `P:test:fetches:{id}` | list | `offset instance ms` per page fetched, `finish instance` at the handoff |
/// | `P:test:stored:{id}` | set | provider ids stored by `RedisSetStore` |
/// | `P:test:faults:{id}` | hash | faults for `CountingMailProvider` to inject |
public struct TestKeys: Sendable {
    public let prefix: String

    public init(prefix: String) {
        self.prefix = prefix
    }

    public func fetches(_ id: String) -> String { "\(prefix):test:fetches:{\(id)}" }
    public func stored(_ id: String) -> String { "\(prefix):test:stored:{\(id)}" }
    public func faults(_ id: String) -> String { "\(prefix):test:faults:{\(id)}" }
}
