import BackfillCore
import BackfillRedis
@testable import BackfillScheduler
import Foundation
import Testing

@Suite("Scheduler scripts")
struct SchedulerScriptTests {
    @Test("commands in Redis follow the core's table for every state")
    func commandTable() async throws {
        let env = try TestEnvironment()
        for state in BackfillState.allCases {
            for command in BackfillCommand.allCases {
                let id = "table-\(state.rawValue)-\(command.rawValue)-10"
                _ = try await env.scheduler.startBackfill(connectionId: id, range: .last30Days)
                _ = try await env.redis.send(["HSET", env.scheduler.keys.backfill(id), "state", state.rawValue])
                let result = try await env.scheduler.apply(command, connectionId: id)
                let after = try await env.record(id).state
                switch command.outcome(in: state) {
                case .moves(let target):
                    #expect(result == .moved(to: target), "\(command) in \(state)")
                    #expect(after == target, "\(command) in \(state)")
                case .unchanged:
                    #expect(result == .unchanged(state), "\(command) in \(state)")
                    #expect(after == state, "\(command) in \(state)")
                case .refused(let reason):
                    #expect(result == .refused(state, reason), "\(command) in \(state)")
                    #expect(after == state, "\(command) in \(state)")
                }
            }
        }
    }

    @Test("a second start is refused while one runs; reset replaces it and keeps the old in history")
    func startAndReset() async throws {
        let env = try TestEnvironment()
        let first = try await env.scheduler.startBackfill(connectionId: "reset-10", range: .last90Days)
        guard case .created(let firstId) = first else { Issue.record("not created: \(first)"); return }
        #expect(try await env.scheduler.startBackfill(connectionId: "reset-10", range: .last30Days) == .alreadyRunning(.queued))
        #expect(try await env.scheduler.startBackfill(connectionId: "reset-10", range: .skip) == .skipped)
        guard case .created(let secondId) = try await env.scheduler.resetBackfill(connectionId: "reset-10", range: .last12Months)
        else { Issue.record("reset did not create"); return }
        let current = try await env.record("reset-10")
        #expect(current.id == secondId)
        #expect(current.range == .last12Months)
        #expect(current.state == .queued)
        let history = try await env.scheduler.history(connectionId: "reset-10")
        #expect(history.map(\.id) == [firstId])
        #expect(history.first?.range == .last90Days)
    }

    @Test("the window is pinned when the backfill is created")
    func pinnedWindow() async throws {
        let env = try TestEnvironment()
        let created = Date(timeIntervalSince1970: 1_780_000_000)
        _ = try await env.scheduler.startBackfill(connectionId: "pin-10", range: .last30Days, now: created)
        let record = try await env.record("pin-10")
        #expect(record.window == BackfillRange.last30Days.window(pinnedAt: created))
    }

    @Test("nudges coalesce: a connection is queued at most once")
    func coalescing() async throws {
        let env = try TestEnvironment()
        #expect(try await env.scheduler.nudge(["a", "b", "a"]) == 2)
        #expect(try await env.scheduler.nudge(["a"]) == 0)
        let queue = try await env.redis.send(["LRANGE", env.scheduler.keys.nudges, "0", "-1"]).strings
        #expect(queue == ["a", "b"])
    }

    @Test("the dirty count outlives a catch-up that never finished; a notification during a catch-up keeps it dirty")
    func dirtyCountIsOnlyClearedByAFinishedCatchUp() async throws {
        let env = try TestEnvironment { $0.leaseDuration = .milliseconds(300) }
        let id = "dirty-count"
        let directory = env.scheduler.connectionDirectory(sealer: PlainSealer())
        _ = try await env.redis.send(["HSET", env.scheduler.keys.connection(id), "id", id])
        #expect(try await directory.markDirty(id))
        // Worker A claims for the catch-up and is killed before it finishes.
        guard case .catchUpOnly(let killed, let seenByA) = try await env.scheduler.claim(connectionId: id, owner: "a")
        else { Issue.record("no catch-up claim"); return }
        #expect(seenByA == 1)
        try await env.eventually("A's lease expired", timeout: .seconds(5)) {
            guard case .catchUpOnly(let lease, let seen) = try await env.scheduler.claim(connectionId: id, owner: "b") else { return false }
            // Worker B catches up; a notification arrives meanwhile.
            #expect(seen == 1)
            #expect(try await directory.markDirty(id))
            #expect(try await env.scheduler.clearDirty(lease, seen: seen) != .stale)
            return true
        }
        #expect(try await directory.dirtyCount(id) == 1)
        // A stale worker cannot clear what it no longer answers for.
        #expect(try await env.scheduler.clearDirty(killed, seen: seenByA) == .stale)
        #expect(try await directory.dirtyCount(id) == 1)
    }

    @Test("every field the directory and the scripts write into a connection's hash is one ConnectionField names")
    func connectionHashFields() async throws {
        let env = try TestEnvironment()
        let directory = env.scheduler.connectionDirectory(sealer: PlainSealer())
        let credentials = OAuthCredentials(accessToken: "a", refreshToken: "r", expiresAt: nil)
        let parent = try await directory.connect(provider: .gmail, address: "parent@example.com", credentials: credentials, parentId: nil)
            .connection.id
        let child = try await directory.connect(provider: .graph, address: "shared@example.com", credentials: credentials, parentId: parent)
            .connection.id
        try await directory.recordChannel(parent, mode: .push, expiresAt: Date().addingTimeInterval(3600), renewAt: Date(), pollPeriod: .seconds(60))
        #expect(try await env.scheduler.notify(parent))
        guard case .catchUpOnly(let lease, let seen) = try await env.scheduler.claim(connectionId: parent, owner: "w") else {
            Issue.record("no catch-up claim")
            return
        }
        // `catchUpFailed` (retry), then `clearDirty`, then `catchUpFailed` (broken): each writes its fields.
        #expect(try await env.scheduler.catchUpFailed(lease, .retry, failure: .transient("5xx")) == .done)
        var found = try await env.checkConnectionFields(parent)
        #expect(try await env.scheduler.clearDirty(lease, seen: seen) != .stale)
        found.formUnion(try await env.checkConnectionFields(parent))
        #expect(try await env.scheduler.catchUpFailed(lease, .broken, failure: .tokenExpired("gone")) == .done)
        found.formUnion(try await env.checkConnectionFields(parent))
        // `childrenWait` writes into the child's hash by a name it builds from ARGV.
        #expect(try await env.scheduler.childrenWaitOnParent(parent) == 1)
        found.formUnion(try await env.checkConnectionFields(child))
        _ = try await env.scheduler.startDueCatchUps(batch: 10)
        #expect(try await directory.disconnect(child))
        found.formUnion(try await env.checkConnectionFields(child))
        // The check saw what the scripts write, not only what Swift writes.
        #expect(found.isSuperset(of: ["dirty", "dirtySince", "catchUpFailures", "catchUpErrorCode", "catchUpErrorMessage", "catchUpRetryAt", "lastCatchUpAt", "health", "errorCode", "errorMessage", "parentId",
                                      "realtimeMode", "channelExpiresAt", "credentials", "createdAt"]), "\(found.sorted())")
    }

    @Test("clearDirty answers how long the mail waited: from the first mark since the last catch-up; marks during it count from its end")
    func catchUpDelay() async throws {
        let env = try TestEnvironment()
        let directory = env.scheduler.connectionDirectory(sealer: PlainSealer())
        let credentials = OAuthCredentials(accessToken: "a", refreshToken: "r", expiresAt: nil)
        let id = try await directory.connect(provider: .gmail, address: "waited@example.com", credentials: credentials, parentId: nil).connection.id
        let clock = ContinuousClock()
        let firstMark = clock.now
        #expect(try await env.scheduler.notify(id))
        // Time passes between the first notification and the second (which keeps the first one's time).
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await env.scheduler.notify(id))
        guard case .catchUpOnly(let lease, let seen) = try await env.scheduler.claim(connectionId: id, owner: "w") else {
            Issue.record("no catch-up claim")
            return
        }
        #expect(seen == 2)
        #expect(try await directory.markDirty(id), "a notification during the catch-up")
        guard case .cleared(let waited?) = try await env.scheduler.clearDirty(lease, seen: seen) else {
            Issue.record("no wait reported")
            return
        }
        #expect(waited >= .milliseconds(300) && waited <= clock.now - firstMark + .milliseconds(50), "\(waited)")
        #expect(try await directory.dirtyCount(id) == 1)
        // The one that came during the catch-up is counted from the catch-up's end.
        guard case .cleared(let rest?) = try await env.scheduler.clearDirty(lease, seen: 1) else {
            Issue.record("no wait reported for the rest")
            return
        }
        #expect(rest < .milliseconds(300), "\(rest)")
        #expect(try await env.checkConnectionFields(id).isDisjoint(with: ["dirty", "dirtySince"]))
        // A catch-up that answered nothing reports no wait.
        #expect(try await env.scheduler.clearDirty(lease, seen: 0) == .cleared(waited: nil))
    }

    @Test("a connection is counted as delayed from its third passing catch-up failure in a row until one succeeds, a refusal or a disconnect")
    func realtimeDelayedSet() async throws {
        let env = try TestEnvironment()
        let directory = env.scheduler.connectionDirectory(sealer: PlainSealer())
        let credentials = OAuthCredentials(accessToken: "a", refreshToken: "r", expiresAt: nil)
        let id = try await directory.connect(provider: .gmail, address: "late@example.com", credentials: credentials, parentId: nil).connection.id
        try await directory.recordChannel(id, mode: .push, expiresAt: Date().addingTimeInterval(3600), renewAt: Date(), pollPeriod: .seconds(60))
        #expect(try await env.scheduler.notify(id))
        guard case .catchUpOnly(let lease, let seen) = try await env.scheduler.claim(connectionId: id, owner: "w") else {
            Issue.record("no catch-up claim")
            return
        }
        for failure in 1...RealtimeFailing.shownAfter {
            #expect(try await env.scheduler.realtimeDelayedCount() == 0, "not delayed before failure \(failure)")
            #expect(try await env.scheduler.catchUpFailed(lease, .retry, failure: .transient("503 from the provider")) == .done)
        }
        #expect(try await env.scheduler.realtimeDelayedCount() == 1)
        let failing = try #require(try await directory.connection(id)?.realtime?.failing)
        #expect(failing.failures == RealtimeFailing.shownAfter && failing.code == .transient && failing.nextTryAt != nil)
        #expect(try await env.scheduler.catchUpFailed(lease, .retry, failure: .throttled(retryAfter: nil)) == .done)
        #expect(try await env.scheduler.realtimeDelayedCount() == 1, "counted once")
        #expect(try await directory.connection(id)?.realtime?.failing?.code == .throttled, "the latest failure shows")
        #expect(try await env.scheduler.clearDirty(lease, seen: seen) != .stale)
        #expect(try await env.scheduler.realtimeDelayedCount() == 0)
        #expect(try await directory.connection(id)?.realtime?.failing == nil)

        for _ in 1...RealtimeFailing.shownAfter { _ = try await env.scheduler.catchUpFailed(lease, .retry, failure: .transient("5xx")) }
        #expect(try await env.scheduler.realtimeDelayedCount() == 1)
        #expect(try await env.scheduler.catchUpFailed(lease, .broken, failure: .tokenExpired("gone")) == .done)
        #expect(try await env.scheduler.realtimeDelayedCount() == 0, "a refusal is the connection's error, not a delay")

        for _ in 1...RealtimeFailing.shownAfter { _ = try await env.scheduler.catchUpFailed(lease, .retry, failure: .transient("5xx")) }
        #expect(try await env.scheduler.realtimeDelayedCount() == 1)
        #expect(try await directory.disconnect(id))
        #expect(try await env.scheduler.realtimeDelayedCount() == 0)
        #expect(try await directory.connection(id)?.realtime?.failing == nil)
    }

    @Test("a nudge that finds the lease held is kept for the holder's release, which queues the connection again")
    func busyNudgeRequeuedOnRelease() async throws {
        let env = try TestEnvironment()
        let keys = env.scheduler.keys
        let id = "busy-1"
        _ = try await env.scheduler.startBackfill(connectionId: id, range: .last30Days)
        guard case .claimed(let holder, _, _, _, _) = try await env.scheduler.claim(connectionId: id, owner: "a")
        else { Issue.record("claim failed"); return }
        _ = try await env.redis.send(["DEL", keys.nudges])
        // New mail is noticed while "a" works: the nudge is popped by another worker, whose claim finds the lease busy.
        #expect(try await env.scheduler.nudge([id]) == 1)
        #expect(try await env.redis.send(["LPOP", keys.nudges]).string == id)
        guard case .notClaimed("busy") = try await env.scheduler.claim(connectionId: id, owner: "b")
        else { Issue.record("the second claim was not refused as busy"); return }
        // "a" finishes the backfill (its last commit completes it): its release queues the connection again, once.
        #expect(try await env.scheduler.commit(holder, .init(pulled: 0, pages: 1, nextCursor: nil)) == .completed(pulled: 0))
        #expect(try await env.scheduler.complete(holder) == .stale)
        #expect(try await env.redis.send(["LRANGE", keys.nudges, "0", "-1"]).strings == [id])
        // Without a busy claim, a release queues nothing.
        guard case .notClaimed = try await env.scheduler.claim(connectionId: id, owner: "c")
        else { Issue.record("a completed backfill without new mail was claimed"); return }
        #expect(try await env.redis.send(["HEXISTS", keys.lease(id), "requeue"]).int == 0)
    }

    @Test("a nudge popped and never claimed is queued again, once; one still waiting in the queue is left alone")
    func lostNudgeRequeued() async throws {
        let env = try TestEnvironment()
        let keys = env.scheduler.keys
        #expect(try await env.scheduler.nudge(["lost-1", "queued-1"]) == 2)
        // A worker pops lost-1 and is killed before its claim: every nudge of it is now a no-op.
        #expect(try await env.redis.send(["LPOP", keys.nudges]).string == "lost-1")
        #expect(try await env.scheduler.nudge(["lost-1"]) == 0)
        let requeue = { try await env.redis.run(SchedulerScripts.requeueLost, keys: [keys.nudged, keys.nudges, keys.stats], arguments: ["0"]).int }
        #expect(try await requeue() == 1)
        #expect(try await requeue() == 0)
        #expect(try await env.redis.send(["LRANGE", keys.nudges, "0", "-1"]).strings == ["queued-1", "lost-1"])
        #expect(try await env.scheduler.stats()["lostNudges"] == 1)
        // Younger than the age: left for its worker's claim.
        #expect(try await env.redis.send(["LPOP", keys.nudges]).string == "queued-1")
        #expect(try await env.redis.run(SchedulerScripts.requeueLost, keys: [keys.nudged, keys.nudges, keys.stats], arguments: ["60000"]).int == 0)
    }

    @Test("a claim takes the lease once; the epoch only goes up")
    func claimFencing() async throws {
        let env = try TestEnvironment()
        _ = try await env.scheduler.startBackfill(connectionId: "claim-10", range: .last30Days)
        guard case .claimed(let first, let record, _, _, let firstRecovered) = try await env.scheduler.claim(connectionId: "claim-10", owner: "a")
        else { Issue.record("first claim failed"); return }
        #expect(record.state == .running)
        guard case .notClaimed(let why) = try await env.scheduler.claim(connectionId: "claim-10", owner: "b")
        else { Issue.record("second claim succeeded while the lease was held"); return }
        #expect(why == "busy")
        try await env.scheduler.release(first, afterSlice: true)
        guard case .claimed(let second, _, _, _, let secondRecovered) = try await env.scheduler.claim(connectionId: "claim-10", owner: "b")
        else { Issue.record("claim after release failed"); return }
        #expect(Int(second.epoch)! == Int(first.epoch)! + 1)
        // Neither took over an expired lease: the first found none, the second a released one.
        #expect(!firstRecovered && !secondRecovered)
        #expect(try await env.scheduler.stats()["leaseRecoveries"] == nil)
        #expect(try await env.scheduler.commit(first, .init(pulled: 10, pages: 1, nextCursor: nil)) == .stale)
        #expect(try await env.scheduler.stats()["staleCommits"] == 1)
        #expect(try await env.record("claim-10").pulled == 0)
    }

    @Test("at most four provider requests in flight per mailbox across instances")
    func requestSlots() async throws {
        let env = try TestEnvironment()
        let other = try TestEnvironment()
        let twin = Scheduler(redis: other.redis, configuration: env.scheduler.configuration, logger: .init(label: "twin"))
        let gauge = InFlightGauge()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<12 {
                let slots = RedisSharedAdmission(scheduler: index % 2 == 0 ? env.scheduler : twin)
                group.addTask {
                    try await slots.withSlot(mailbox: "shared-mailbox") {
                        await gauge.enter()
                        try await Task.sleep(for: .milliseconds(100))
                        await gauge.leave()
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(await gauge.peak == 4)
        #expect(await gauge.total == 12)
    }

    @Test("a Gmail batch's calls each count: beside a batch of ten no other call goes, on any instance; units never pass the limit")
    func callsInFlight() async throws {
        let env = try TestEnvironment()
        let twin = RedisSharedAdmission(scheduler: Scheduler(redis: env.redis, configuration: env.scheduler.configuration, logger: .init(label: "twin")))
        let admission = RedisSharedAdmission(scheduler: env.scheduler)
        let limit = AdmissionPolicy.gmailCallsInFlightPerMailbox
        let batch = SlotPermit(units: limit)
        #expect(try await admission.admit(mailbox: "gmail-user", permit: batch, limit: limit) == .admitted)
        guard case .slotsBusy = try await twin.admit(mailbox: "gmail-user", permit: SlotPermit(), limit: limit) else {
            Issue.record("a call was admitted beside a full batch")
            return
        }
        try await admission.release(mailbox: "gmail-user", permit: batch, closingGateFor: nil)
        // Nine single calls and a batch of two: the second unit of the batch does not fit.
        let singles = (0..<9).map { _ in SlotPermit() }
        for permit in singles { #expect(try await twin.admit(mailbox: "gmail-user", permit: permit, limit: limit) == .admitted) }
        guard case .slotsBusy = try await admission.admit(mailbox: "gmail-user", permit: SlotPermit(units: 2), limit: limit) else {
            Issue.record("eleven units admitted")
            return
        }
        #expect(try await admission.admit(mailbox: "gmail-user", permit: SlotPermit(), limit: limit) == .admitted)
        // A permit larger than the limit takes all of it (and is admitted when the mailbox is idle).
        #expect(try await admission.admit(mailbox: "idle-user", permit: SlotPermit(units: 50), limit: limit) == .admitted)

        // Mixed sizes from two instances at once: the units in flight peak at the limit, never past it.
        let gauge = InFlightGauge()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<12 {
                let slots = index % 2 == 0 ? admission : twin
                let units = [1, 4, 10, 3][index % 4]
                group.addTask {
                    try await slots.withSlot(mailbox: "mixed-user", units: units, limit: limit) {
                        await gauge.enter(units)
                        try await Task.sleep(for: .milliseconds(50))
                        await gauge.leave(units)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(await gauge.peak == limit)
        #expect(await gauge.total == 12 * 18 / 4)
    }

    @Test("one round trip admits a request (gate open, slot taken); a throttled release closes the gate for every instance")
    func admitAndRelease() async throws {
        let env = try TestEnvironment()
        let admission = RedisSharedAdmission(scheduler: env.scheduler)
        let (a, b, c) = (SlotPermit(), SlotPermit(), SlotPermit())
        #expect(try await admission.admit(mailbox: "gated", permit: a, limit: 4) == .admitted)
        #expect(try await env.redis.send(["ZCARD", env.scheduler.keys.slots("gated")]).int == 1)
        try await admission.release(mailbox: "gated", permit: a, closingGateFor: .seconds(5))
        #expect(try await env.redis.send(["ZCARD", env.scheduler.keys.slots("gated")]).int == 0)
        // A closed gate admits nothing and takes no slot, on this instance or another.
        let other = RedisSharedAdmission(scheduler: Scheduler(redis: env.redis, configuration: env.scheduler.configuration, logger: .init(label: "twin")))
        guard case .gateClosed(let wait) = try await other.admit(mailbox: "gated", permit: b, limit: 4) else {
            Issue.record("admitted through a closed gate")
            return
        }
        #expect(wait > .seconds(4) && wait <= .seconds(5))
        #expect(try await env.redis.send(["ZCARD", env.scheduler.keys.slots("gated")]).int == 0)
        // A shorter close keeps the longer gate; a release without a throttle leaves it as it is.
        try await admission.release(mailbox: "gated", permit: b, closingGateFor: .milliseconds(10))
        try await admission.release(mailbox: "gated", permit: b, closingGateFor: nil)
        #expect(try await env.redis.send(["PTTL", env.scheduler.keys.gate("gated")]).int ?? 0 > 4000)
        // Another mailbox is not held by it.
        #expect(try await other.admit(mailbox: "open", permit: c, limit: 4) == .admitted)
    }

    @Test("the slots of a killed process come back after the slot lifetime, not before")
    func killedHoldersSlotsExpire() async throws {
        let env = try TestEnvironment { $0.requestSlotLifetime = .seconds(1) }
        let admission = RedisSharedAdmission(scheduler: env.scheduler)
        let beforeFill = ContinuousClock.now
        // A process takes all four slots and is killed: nobody gives them back.
        for index in 0..<4 {
            #expect(try await admission.admit(mailbox: "orphaned-mailbox", permit: SlotPermit(), limit: 4) == .admitted, "slot \(index)")
        }
        let afterFill = ContinuousClock.now
        let entered = try await RedisSharedAdmission(scheduler: env.scheduler).withSlot(mailbox: "orphaned-mailbox") { ContinuousClock.now }
        #expect(entered - beforeFill >= .seconds(1), "entered \(entered - beforeFill) after the slots were taken")
        #expect(entered - afterFill < .milliseconds(1500), "waited \(entered - afterFill) for slots that expire after 1 s")
    }

    @Test("a request running past the slot lifetime renews its slot: a fifth request still waits for it")
    func slowRequestKeepsItsSlot() async throws {
        let env = try TestEnvironment { $0.requestSlotLifetime = .milliseconds(600) }
        let slots = RedisSharedAdmission(scheduler: env.scheduler)
        let gauge = InFlightGauge()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try await slots.withSlot(mailbox: "slow-mailbox") {
                        await gauge.enter()
                        try await Task.sleep(for: .seconds(2))  // more than three slot lifetimes
                        await gauge.leave()
                    }
                }
            }
            try await env.eventually("four requests running") { await gauge.current == 4 }
            group.addTask {
                try await slots.withSlot(mailbox: "slow-mailbox") {
                    await gauge.enter()
                    await gauge.leave()
                }
            }
            try await group.waitForAll()
        }
        #expect(await gauge.peak == 4)
        #expect(await gauge.total == 5)
    }
}

actor InFlightGauge {
    private(set) var current = 0
    private(set) var peak = 0
    private(set) var total = 0

    func enter(_ units: Int = 1) {
        current += units
        total += units
        peak = max(peak, current)
    }

    func leave(_ units: Int = 1) { current -= units }
}
