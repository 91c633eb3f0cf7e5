import BackfillCore
import BackfillRedis
@testable import BackfillScheduler
import Foundation
import Logging
import BackfillTestSupport
import ServiceLifecycle
import Testing

@Suite("Workers")
struct WorkerTests {
    /// Runs an instance's services (workers, promoter, auditor) around `body`, then shuts them down.
    func withInstance(
        _ env: TestEnvironment, pageDelay: Duration = .zero, instance: String = "in-process",
        realtime: (any RealtimeSync)? = nil, _ body: @Sendable () async throws -> Void
    ) async throws {
        let logger = Logger(label: "test.instance")
        let pool = WorkerPool(scheduler: env.scheduler, provider: env.provider(pageDelay: pageDelay, instance: instance),
                              store: env.store, realtime: realtime, logger: logger)
        let group = ServiceGroup(services: [pool, Promoter(scheduler: env.scheduler, logger: logger),
                                            Auditor(scheduler: env.scheduler, logger: logger)], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body()
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test("a backfill runs to completion: exact set, exact pulled")
    func completes() async throws {
        let env = try TestEnvironment()
        try await withInstance(env) {
            _ = try await env.scheduler.startBackfill(connectionId: "basic-95", range: .last90Days)
            try await env.eventually("completed") { try await env.record("basic-95").state == .completed }
        }
        let record = try await env.record("basic-95")
        #expect(record.pulled == 95)
        #expect(record.estimatedTotal == 95)
        #expect(record.pages == 10)
        #expect(try await env.stored("basic-95") == env.expectedIds("basic-95"))
        #expect(try await env.fetches("basic-95").map(\.offset) == Array(stride(from: 0, to: 95, by: 10)))
    }

    @Test("the next page is fetched while a page is stored and committed; each page is fetched and stored once")
    func fetchesAhead() async throws {
        let env = try TestEnvironment()
        let id = "ahead-30"
        _ = try await env.scheduler.startBackfill(connectionId: id, range: .last30Days)
        let store = StoreAwaitingNextFetch(inner: env.store, env: env, connectionId: id, pageSize: 10, total: 30)
        let worker = Worker(scheduler: env.scheduler, provider: env.provider(instance: "a"), store: store, realtime: nil,
                            metrics: SchedulerMetrics(), owner: "a", logger: Logger(label: "test.worker"), stopping: { false })
        await worker.work(on: id)
        #expect(try await env.record(id).state == .completed)
        #expect(try await env.record(id).pulled == 30)
        #expect(try await env.stored(id) == env.expectedIds(id))
        #expect(try await env.fetches(id).map(\.offset) == [0, 10, 20])
        // Pages 0 and 10 were being stored when the fetch of the page after them came back; the last has none after it.
        #expect(await store.observations.nextFetchSeen == [0: true, 10: true, 20: false])
    }

    @Test("a stale worker's commit is refused and counted; pulled counts each page once")
    func noDoubleCommit() async throws {
        let env = try TestEnvironment { $0.leaseDuration = .milliseconds(500) }
        let id = "stale-30"
        _ = try await env.scheduler.startBackfill(connectionId: id, range: .last30Days)
        try await env.inject(id, "hold:10", "worker-a")
        let logger = Logger(label: "test.worker")
        func worker(_ name: String) -> Worker {
            Worker(scheduler: env.scheduler, provider: env.provider(instance: name), store: env.store, realtime: nil,
                   metrics: SchedulerMetrics(), owner: name, logger: logger, stopping: { false })
        }
        // Worker A commits page 0, then hangs on page 10 past its lease.
        async let a: Void = worker("worker-a").work(on: id)
        try await env.eventually("worker A holds page 10") { try await env.record(id).pulled == 10 }
        try await Task.sleep(for: .milliseconds(600))
        // Worker B takes over and finishes the backfill.
        await worker("worker-b").work(on: id)
        #expect(try await env.record(id).state == .completed)
        // A wakes up and tries to commit page 10 again.
        _ = try await env.redis.send(["HDEL", env.testKeys.faults(id), "hold:10"])
        await a
        let record = try await env.record(id)
        #expect(record.pulled == 30)
        #expect(record.state == .completed)
        #expect(try await env.scheduler.stats()["staleCommits"] == 1)
        #expect(try await env.scheduler.stats()["leaseRecoveries"] == 1)
        #expect(try await env.stored(id) == env.expectedIds(id))
    }

    @Test("a throttled page parks the backfill until Retry-After, without using the failure budget")
    func throttling() async throws {
        let env = try TestEnvironment()
        let id = "throttle-40"
        try await env.inject(id, "throttle:20", "1.5")
        try await withInstance(env) {
            _ = try await env.scheduler.startBackfill(connectionId: id, range: .last30Days)
            try await env.eventually("throttled") { try await env.record(id).state == .throttled }
            let parked = try await env.record(id)
            let retryAt = try #require(parked.retryAt)
            #expect(parked.attempts == 0)
            #expect(parked.throttles == 1)
            #expect(parked.error?.code == .throttled)
            // A nudge (a webhook, support) while throttled must not jump the provider's Retry-After.
            #expect(try await env.scheduler.nudge([id]) == 1)
            try await env.eventually("completed") { try await env.record(id).state == .completed }
            let resumed = try #require(try await env.fetches(id).first { $0.offset == 20 })
            let retryMs = Int64(retryAt.timeIntervalSince1970 * 1000)
            #expect(resumed.at >= retryMs, "claimed \(retryMs - resumed.at) ms before retryAt")
            #expect(resumed.at <= retryMs + 1000, "claimed \(resumed.at - retryMs) ms after retryAt")
        }
        let record = try await env.record(id)
        #expect(record.pulled == 40)
        #expect(record.attempts == 0)
        #expect(record.error == nil)
    }

    @Test("waiting on its own quota pacing parks like a throttle, but the reason recorded is pacing")
    func pacing() async throws {
        let env = try TestEnvironment()
        let id = "pacing-40"
        try await env.inject(id, "pace:20", "1")
        try await withInstance(env) {
            _ = try await env.scheduler.startBackfill(connectionId: id, range: .last30Days)
            try await env.eventually("parked") { try await env.record(id).state == .throttled }
            let parked = try await env.record(id)
            #expect(parked.error?.code == .pacing)
            #expect(parked.error?.message == "pacing to the mailbox's quota; next batch in 1 s")
            #expect(parked.attempts == 0 && parked.retryAt != nil)
            try await env.eventually("completed") { try await env.record(id).state == .completed }
        }
        let record = try await env.record(id)
        #expect(record.pulled == 40 && record.attempts == 0 && record.error == nil)
    }

    @Test("transient failures back off and count; success resets the count")
    func transient() async throws {
        let env = try TestEnvironment { $0.retryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(100), maxDelay: .seconds(1)) }
        let id = "transient-30"
        try await env.inject(id, "fail:10")
        try await withInstance(env) {
            _ = try await env.scheduler.startBackfill(connectionId: id, range: .last30Days)
            try await env.eventually("completed") { try await env.record(id).state == .completed }
        }
        let record = try await env.record(id)
        #expect(record.pulled == 30)
        #expect(record.attempts == 0)
        #expect(try await env.fetches(id).map(\.offset) == [0, 10, 20])
    }

    @Test("an expired token fails the backfill and puts the connection in error until someone acts")
    func tokenExpired() async throws {
        let env = try TestEnvironment()
        let directory = env.scheduler.connectionDirectory(sealer: PlainSealer())
        let credentials = OAuthCredentials(accessToken: "a", refreshToken: "r", expiresAt: nil)
        let id = try await directory.connect(provider: .graph, address: "token-30@example.com", credentials: credentials, parentId: nil).connection.id
        try await env.inject(id, "token:0")
        try await withInstance(env) {
            _ = try await env.scheduler.startBackfill(connectionId: id, range: .last30Days)
            try await env.eventually("failed") { try await env.record(id).state == .failed }
        }
        let record = try await env.record(id)
        #expect(record.error?.code == .tokenExpired)
        #expect(record.error?.retryable == false)
        #expect(record.pulled == 0)
        let connection = try #require(try await directory.connection(id))
        #expect(connection.health == .error)
        #expect(connection.errorCode == .tokenExpired)
    }

    @Test("a shared mailbox waits on its parent and completes by itself once the parent is back")
    func waitsOnParent() async throws {
        let env = try TestEnvironment()
        let id = "child-50"
        try await env.inject(id, "parent:20", "personal@acme.com")
        try await withInstance(env) {
            _ = try await env.scheduler.startBackfill(connectionId: id, range: .last30Days)
            try await env.eventually("waiting on parent") { try await env.record(id).state == .waitingOnParent }
            let waiting = try await env.record(id)
            #expect(waiting.error?.message == "Waiting on personal@acme.com — reconnect it")
            #expect(waiting.pulled == 20)
            try await env.scheduler.parentReconnected(children: [id])
            try await env.eventually("completed") { try await env.record(id).state == .completed }
        }
        #expect(try await env.record(id).pulled == 50)
        #expect(try await env.stored(id) == env.expectedIds(id))
    }

    @Test("a connection marked dirty catches up on new mail during the backfill and after it")
    func realtimeCatchUp() async throws {
        let env = try TestEnvironment()
        let id = "realtime-100"
        let directory = env.scheduler.connectionDirectory(sealer: PlainSealer())
        _ = try await env.redis.send(["HSET", env.scheduler.keys.connection(id), "id", id])
        let realtime = ListRealtime(redis: env.redis, key: env.testKeys.faults(id) + ":realtime")
        @Sendable func deliver(_ messageId: String) async throws {
            _ = try await env.redis.send(["RPUSH", realtime.key, messageId])
            #expect(try await directory.markDirty(id))
            _ = try await env.scheduler.nudge([id])
        }
        try await withInstance(env, pageDelay: .milliseconds(50), realtime: realtime) {
            _ = try await env.scheduler.startBackfill(connectionId: id, range: .last90Days)
            try await env.eventually("some progress") { try await env.record(id).pulled >= 20 }
            try await deliver("new-during")
            try await env.eventually("new mail stored during the backfill") { try await env.stored(id).contains("new-during") }
            #expect(try await env.record(id).state == .running)
            try await env.eventually("completed") { try await env.record(id).state == .completed }
            try await deliver("new-after")
            try await env.eventually("new mail stored after the backfill") { try await env.stored(id).contains("new-after") }
        }
        #expect(try await env.stored(id) == env.expectedIds(id).union(["new-during", "new-after"]))
        #expect(try await env.record(id).pulled == 100)
        #expect(try await env.record(id).state == .completed)
    }

    @Test("a failed catch-up keeps the connection dirty; the next nudge catches up and only then clears it")
    func failedCatchUpKeepsDirty() async throws {
        let env = try TestEnvironment()
        let id = "dirty-kept"
        let directory = env.scheduler.connectionDirectory(sealer: PlainSealer())
        _ = try await env.redis.send(["HSET", env.scheduler.keys.connection(id), "id", id])
        let realtime = ListRealtime(redis: env.redis, key: env.testKeys.faults(id) + ":realtime")
        _ = try await env.redis.send(["SET", realtime.failures, "1"])
        try await withInstance(env, realtime: realtime) {
            _ = try await env.redis.send(["RPUSH", realtime.key, "new-1"])
            #expect(try await directory.markDirty(id))
            _ = try await env.scheduler.nudge([id])
            try await env.eventually("the catch-up failed and the lease was released") {
                let attempts = try await env.redis.send(["GET", realtime.attempts]).string
                let owner = try await env.redis.send(["HGET", env.scheduler.keys.lease(id), "owner"]).string
                return attempts == "1" && owner == ""
            }
            #expect(try await env.stored(id).isEmpty)
            #expect(try await directory.dirtyCount(id) == 1)
            _ = try await env.scheduler.nudge([id])
            try await env.eventually("caught up") { try await env.stored(id) == ["new-1"] }
            try await env.eventually("the mark cleared") { try await directory.dirtyCount(id) == 0 }
        }
        #expect(try await env.redis.send(["GET", realtime.attempts]).string == "2")
    }

    @Test("a backfill whose nudge was popped by a worker killed before its claim is recovered by the auditor")
    func lostNudgeRecovered() async throws {
        let env = try TestEnvironment { $0.lostNudgeAfter = .milliseconds(500) }
        let id = "lost-nudge-30"
        _ = try await env.scheduler.startBackfill(connectionId: id, range: .last30Days)
        // The pop of a worker that dies before it claims.
        #expect(try await env.redis.send(["LPOP", env.scheduler.keys.nudges]).string == id)
        #expect(try await env.scheduler.nudge([id]) == 0)
        try await withInstance(env) {
            try await env.eventually("completed") { try await env.record(id).state == .completed }
        }
        #expect(try await env.record(id).pulled == 30)
        #expect(try await env.scheduler.stats()["lostNudges"] == 1)
        #expect(try await env.stored(id) == env.expectedIds(id))
    }

    @Test("pause stops at the end of the page; resume continues with nothing repeated or skipped")
    func pauseResume() async throws {
        let env = try TestEnvironment()
        let id = "pause-200"
        try await withInstance(env, pageDelay: .milliseconds(50)) {
            _ = try await env.scheduler.startBackfill(connectionId: id, range: .last90Days)
            try await env.eventually("some progress") { try await env.record(id).pulled >= 30 }
            #expect(try await env.scheduler.apply(.pause, connectionId: id) == .moved(to: .paused))
            let fetchedAtPause = try await env.fetches(id).count
            try await env.eventually("lease released") {
                try await env.redis.send(["HGET", env.scheduler.keys.lease(id), "owner"]).string == ""
            }
            let paused = try await env.record(id)
            #expect(paused.state == .paused)
            #expect(paused.pulled == 10 * (try await env.fetches(id).count))
            #expect(try await env.fetches(id).count <= fetchedAtPause + 1)
            // Nothing moves while paused, for several page times.
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await env.record(id).pulled == paused.pulled)
            #expect(try await env.scheduler.apply(.resume, connectionId: id) == .moved(to: .queued))
            try await env.eventually("completed") { try await env.record(id).state == .completed }
        }
        #expect(try await env.record(id).pulled == 200)
        #expect(try await env.fetches(id).map(\.offset) == Array(stride(from: 0, to: 200, by: 10)))
        #expect(try await env.stored(id) == env.expectedIds(id))
    }

    @Test("cancel ends the backfill for good and keeps what was stored")
    func cancel() async throws {
        let env = try TestEnvironment()
        let id = "cancel-300"
        try await withInstance(env, pageDelay: .milliseconds(50)) {
            _ = try await env.scheduler.startBackfill(connectionId: id, range: .last90Days)
            try await env.eventually("some progress") { try await env.record(id).pulled >= 20 }
            #expect(try await env.scheduler.apply(.cancel, connectionId: id) == .moved(to: .cancelled))
            try await env.eventually("lease released") {
                try await env.redis.send(["HGET", env.scheduler.keys.lease(id), "owner"]).string == ""
            }
            _ = try await env.scheduler.nudge([id])
            try await Task.sleep(for: .milliseconds(200))
        }
        let record = try await env.record(id)
        #expect(record.state == .cancelled)
        #expect(record.pulled < 300)
        #expect(try await env.stored(id).count == record.pulled)
        #expect(try await env.scheduler.apply(.resume, connectionId: id) == .refused(.cancelled, "cannot resume a backfill that is cancelled"))
    }

    @Test("one huge mailbox delays a small one nudged after it by at most one slice")
    func fairShare() async throws {
        let env = try TestEnvironment {
            $0.workerConcurrency = 1
            $0.slicePages = 3
        }
        try await withInstance(env, pageDelay: .milliseconds(10)) {
            _ = try await env.scheduler.startBackfill(connectionId: "huge-2000", range: .everything)
            try await env.eventually("huge started") { try await env.fetches("huge-2000").count >= 1 }
            let nudgedAt = Int64(Date().timeIntervalSince1970 * 1000)
            _ = try await env.scheduler.startBackfill(connectionId: "small-20", range: .everything)
            try await env.eventually("small completed") { try await env.record("small-20").state == .completed }
            let smallStart = try #require(try await env.fetches("small-20").first).at
            let hugePagesBetween = try await env.fetches("huge-2000").filter { $0.at > nudgedAt && $0.at < smallStart }
            #expect(hugePagesBetween.count <= 3)
            #expect(try await env.record("huge-2000").state == .running)
        }
    }
}

/// Credentials in the clear: scheduler tests are about state, not secrecy.
struct PlainSealer: CredentialSealer {
    func seal(_ plaintext: Data) throws -> String { plaintext.base64EncodedString() }
    func open(_ sealed: String) throws -> Data { Data(base64Encoded: sealed) ?? Data() }
}

/// Real-time mail for tests: each catch-up stores the ids queued in a Redis list, then takes them off it
/// (the cursor moves after the store). While `failures` (a count in Redis) is above zero, a catch-up
/// fails before storing anything and counts it down.
struct ListRealtime: RealtimeSync {
    let redis: RedisClient
    let key: String
    var failures: String { key + ":failures" }
    var attempts: String { key + ":attempts" }

    func catchUp(connectionId: String, into store: any MessageStore) async throws -> CatchUpResult {
        _ = try await redis.send(["INCR", attempts])
        if try await redis.send(["DECR", failures]).int ?? -1 >= 0 {
            throw ProviderFailure.transient("injected catch-up failure")
        }
        let ids = try await redis.send(["LRANGE", key, "0", "-1"]).strings
        let messages = ids.map {
            StoredMessage(connectionId: connectionId, providerMessageId: $0, folder: .inbox, receivedAt: Date(), source: .realtime)
        }
        let inserted = messages.isEmpty ? 0 : try await store.insert(messages)
        _ = try await redis.send(["LTRIM", key, String(ids.count), "-1"])
        return CatchUpResult(inserted: inserted, resyncNeeded: false)
    }

    func ensureSubscription(connectionId: String, notificationURL: String, clientState: String) async throws -> SubscriptionStatus {
        SubscriptionStatus(id: "test", expiresAt: Date().addingTimeInterval(3600), changed: false)
    }
}

/// A store that, before storing a page, waits (up to 3 s) for the fetch of the page after it to be logged, and
/// records whether it was: without fetching ahead, that fetch cannot start until this store returns.
struct StoreAwaitingNextFetch: MessageStore {
    actor Observations {
        var nextFetchSeen: [Int: Bool] = [:]
        func record(_ offset: Int, _ seen: Bool) { nextFetchSeen[offset] = seen }
    }

    let inner: RedisSetStore
    let env: TestEnvironment
    let connectionId: String
    let pageSize: Int
    let total: Int
    let observations = Observations()

    func insert(_ messages: [StoredMessage]) async throws -> Int {
        if let first = messages.first?.providerMessageId, let offset = Int(first.dropFirst("\(connectionId)-m".count)) {
            let next = offset + pageSize
            let deadline = ContinuousClock.now + .seconds(3)
            var seen = false
            while next < total, ContinuousClock.now < deadline {
                if try await env.fetches(connectionId).contains(where: { $0.offset == next }) { seen = true; break }
                try await Task.sleep(for: .milliseconds(10))
            }
            await observations.record(offset, seen)
        }
        return try await inner.insert(messages)
    }

    func messages(connectionId: String, limit: Int, after cursor: MessagePageCursor?) async throws -> MessagePage {
        try await inner.messages(connectionId: connectionId, limit: limit, after: cursor)
    }
    func count(connectionId: String) async throws -> Int { try await inner.count(connectionId: connectionId) }
    func changes(after: Int64, limit: Int) async throws -> ChangePage { try await inner.changes(after: after, limit: limit) }
    func record(_ events: [BackfillEvent]) async throws -> Int { try await inner.record(events) }
    func events(after: Int64, limit: Int) async throws -> BackfillEventPage { try await inner.events(after: after, limit: limit) }
}
