/// Bounds how many provider requests are in flight for one mailbox across all instances (Graph allows
/// 4 concurrent requests per mailbox). Provider clients take a slot around every HTTP request.
public protocol RequestSlots: Sendable {
    func withSlot<T: Sendable>(mailbox: String, _ body: @Sendable () async throws -> T) async throws -> T
}

/// No bound, for tests of parts that do not need one.
public struct UnboundedRequestSlots: RequestSlots {
    public init() {}
    public func withSlot<T: Sendable>(mailbox: String, _ body: @Sendable () async throws -> T) async throws -> T {
        try await body()
    }
}
