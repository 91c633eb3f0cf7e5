import BackfillCore
import BackfillRedis
import Foundation

/// The shared part of every mailbox's admission, in Redis: the Retry-After gate `P:gate:{id}` (the not-before
/// time, set with PX so an open gate is simply no key) and the request slots `P:slots:{id}` (expiring permits,
/// each member `units:permit`, so the script sums the units in flight).
/// One script admits a request (gate and slot in one round trip), one releases it (and closes the gate after a
/// throttle).
///
/// Times come from Redis, not from each instance: the gate is set by one instance and read by another, whose
/// clocks may disagree; Redis's clock is the one they all share (leases and `retryAt` use it too).
public struct RedisSharedAdmission: SharedAdmission {
    let scheduler: Scheduler

    public init(scheduler: Scheduler) {
        self.scheduler = scheduler
    }

    public var slotLifetime: Duration { scheduler.configuration.requestSlotLifetime }

    public func admit(mailbox: String, permit: SlotPermit, limit: Int) async throws -> SharedAdmit {
        let keys = scheduler.keys
        let reply = try await scheduler.redis.run(
            SchedulerScripts.admit, keys: [keys.gate(mailbox), keys.slots(mailbox)],
            arguments: [Self.member(permit), String(max(limit, 1)), String(slotLifetime.milliseconds), String(permit.units(of: limit))]
        )
        return try AdmitReply(reply).admit
    }

    public func renew(mailbox: String, permit: SlotPermit) async throws -> Bool {
        try await scheduler.redis.run(
            SchedulerScripts.renewSlot, keys: [scheduler.keys.slots(mailbox)],
            arguments: [Self.member(permit), String(slotLifetime.milliseconds)]
        ).int == 1
    }

    public func release(mailbox: String, permit: SlotPermit, closingGateFor wait: Duration?) async throws {
        let keys = scheduler.keys
        _ = try await scheduler.redis.run(
            SchedulerScripts.releaseSlot, keys: [keys.slots(mailbox), keys.gate(mailbox)],
            arguments: [Self.member(permit), String(wait.map { max($0.milliseconds, 1) } ?? 0)]
        )
    }

    /// The permit's member in `P:slots:{id}`: its units first, which `admit` sums.
    static func member(_ permit: SlotPermit) -> String { "\(permit.units):\(permit.id)" }

    /// The `admit` script's reply: {0} | {1, gate ms} | {2, slot expiry ms}.
    struct AdmitReply {
        let admit: SharedAdmit

        init(_ reply: RedisReply) throws {
            let values = reply.array?.compactMap(\.int) ?? []
            switch (values.first, values.dropFirst().first) {
            case (0, _): admit = .admitted
            case (1, let ms?): admit = .gateClosed(.milliseconds(max(ms, 1)))
            case (2, let ms?): admit = .slotsBusy(.milliseconds(max(ms, 0)))
            default: throw RedisError(code: .protocol, message: "admit: unexpected reply \(reply)")
            }
        }
    }
}
