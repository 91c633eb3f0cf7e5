import Foundation

/// The world behind a lock. A plain lock (not an actor) because every critical section is short and
/// synchronous, and request handling must not hop executors twice per request.
final class LockedWorld: @unchecked Sendable {
    private let lock = NSLock()
    private let world: SimulatorWorld

    init(_ world: SimulatorWorld) {
        self.world = world
    }

    func withLock<T>(_ body: (SimulatorWorld) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(world)
    }
}
