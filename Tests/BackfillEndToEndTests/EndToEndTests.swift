import BackfillCore
import BackfillProviders
@testable import BackfillScheduler
import Foundation
import Testing

@Suite("End to end: scheduler, providers, simulator, SQLite")
struct EndToEndTests {
    @Test("each provider and range stores exactly the expected set, with pulled exact and a real-time cursor", arguments: [
        (ProviderKind.graph, BackfillRange.last30Days), (.graph, .last90Days), (.graph, .last12Months), (.graph, .everything),
        (.gmail, .last30Days), (.gmail, .last90Days), (.gmail, .last12Months), (.gmail, .everything),
    ])
    func exactSet(provider: ProviderKind, range: BackfillRange) async throws {
        try await EndToEnd.run { env in
            let address = provider == .graph ? EndToEnd.graphUser : EndToEnd.gmailUser
            let id = try await env.connect(provider, address)
            let window = try await env.start(id, range)
            try await env.waitFor(id, .completed)
            let expected = try await env.expectedIds(address, window)
            #expect(!expected.isEmpty)
            #expect(try await env.store.providerMessageIds(connectionId: id) == expected)
            let record = try await env.record(id)
            #expect(record.pulled == expected.count)
            #expect(record.estimatedTotal == expected.count)
            let sync = try await env.directory.syncState(for: id)
            #expect(sync.keys.contains { $0 == "gmail.historyId" || $0.hasPrefix("graph.delta.") }, "no real-time cursor: \(sync.keys.sorted())")
        }
    }

    // Graph allows 4 concurrent requests per mailbox and refuses a fifth with 429 ApplicationThrottled (the
    // simulator too): with 30 ms latency a page's 4 streams overlap at the simulator, and none is refused. The
    // mailbox is large enough to be cut into more than 4 streams.
    @Test("a Graph mailbox keeps 4 requests in flight, never a 5th, and stores the exact set")
    func graphFourInFlight() async throws {
        try await EndToEnd.run(messageCount: 4_000, gmailMessageCount: 100) { env in
            try await env.setKnobs(["latencyMs": 30])
            let id = try await env.connect(.graph, EndToEnd.graphUser)
            let window = try await env.start(id, .everything)
            try await env.waitFor(id, .completed)
            let stats = try await env.mailboxStats(EndToEnd.graphUser)
            #expect(stats.maxInFlight == 4)
            #expect(stats.violations == 0)
            #expect(try await env.journalCounts(EndToEnd.graphUser).throttled == 0)
            let expected = try await env.expectedIds(EndToEnd.graphUser, window)
            #expect(try await env.store.providerMessageIds(connectionId: id) == expected)
            #expect(try await env.record(id).pulled == expected.count)
        }
    }

    @Test("pause mid-run, then resume: the same exact set, no duplicates")
    func pauseResume() async throws {
        try await EndToEnd.run { env in
            // Pages of 100, so the mailbox takes several and the pause lands between two.
            try await env.setKnobs(["latencyMs": 15, "graphMaxPageSize": 100])
            let id = try await env.connect(.graph, EndToEnd.graphUser)
            let window = try await env.start(id, .everything)
            try await env.eventually("some progress") { try await env.record(id).pulled > 0 }
            #expect(try await env.scheduler.apply(.pause, connectionId: id) == .moved(to: .paused))
            try await env.eventually("lease released") {
                try await env.redis.send(["HGET", env.scheduler.keys.lease(id), "owner"]).string == ""
            }
            let paused = try await env.record(id)
            #expect(paused.state == .paused)
            #expect(try await env.store.count(connectionId: id) == paused.pulled)
            #expect(try await env.scheduler.apply(.resume, connectionId: id) == .moved(to: .queued))
            try await env.waitFor(id, .completed)
            let expected = try await env.expectedIds(EndToEnd.graphUser, window)
            #expect(try await env.store.providerMessageIds(connectionId: id) == expected)
            #expect(try await env.record(id).pulled == expected.count)
        }
    }

    // A third of requests throttled with a short Retry-After (rendered "0.228"), on a Graph and a Gmail
    // mailbox at once. The providers wait out short Retry-Afters per mailbox and send the throttled request
    // again (a few times; then the backfill is parked, which never counts as a failure). A Gmail page is up to
    // 100 ids fetched in batches of ten calls, a throttled call sent again in a later batch after the gate it
    // closed. The Gmail mailbox is smaller than the Graph one: a third of its calls wait out a throttle.
    @Test("Graph and Gmail mailboxes under a throttling storm complete exactly, never early after Retry-After, never 5 in flight")
    func throttlingStorm() async throws {
        try await EndToEnd.run(gmailMessageCount: 120) { env in
            try await env.setKnobs([
                "throttlePercent": 33, "faultRetryAfterSeconds": 0.1, "graphRetryAfterStyle": "fractional",
                "gmailRetryAfterStyle": "fractional", "latencyMs": 5,
            ])
            let graph = try await env.connect(.graph, EndToEnd.graphUser)
            let gmail = try await env.connect(.gmail, EndToEnd.gmailUser)
            let graphWindow = try await env.start(graph, .everything)
            let gmailWindow = try await env.start(gmail, .everything)
            try await env.waitFor(graph, .completed, timeout: .seconds(40))
            try await env.waitFor(gmail, .completed, timeout: .seconds(40))
            let gmailJournal = try await env.journalCounts(EndToEnd.gmailUser)
            #expect(gmailJournal.throttled > gmailJournal.requests / 5, "not a third throttled: \(gmailJournal)")
            for (id, address, window) in [(graph, EndToEnd.graphUser, graphWindow), (gmail, EndToEnd.gmailUser, gmailWindow)] {
                let expected = try await env.expectedIds(address, window)
                #expect(try await env.store.providerMessageIds(connectionId: id) == expected)
                let record = try await env.record(id)
                #expect(record.pulled == expected.count)
                #expect(record.attempts == 0)
                let stats = try await env.mailboxStats(address)
                let early = try await env.earlyRequestsNotRaced(address)
                #expect(early == [], "\(address): \(early)")
                // Graph's bound is 4 requests; a Gmail batch's calls are in flight together, one batch at a time.
                #expect(stats.maxInFlight <= (address == EndToEnd.gmailUser ? GmailProvider.callsPerBatch : 4))
                let journal = try await env.journalCounts(address)
                #expect(journal.throttled > 0, "the storm did not happen: \(journal)")
            }
        }
    }

    @Test("an expiring access token is refreshed transparently; a revoked refresh token is token_expired")
    func tokens() async throws {
        try await EndToEnd.run { env in
            try await env.setKnobs(["accessTokenLifetimeSeconds": 1, "latencyMs": 5])
            let id = try await env.connect(.graph, EndToEnd.graphUser)
            var credentials = try #require(try await env.directory.credentials(for: id))
            credentials.expiresAt = Date().addingTimeInterval(1)
            try await env.directory.updateCredentials(credentials, for: id)
            let window = try await env.start(id, .last90Days)
            try await env.waitFor(id, .completed)
            #expect(try await env.store.providerMessageIds(connectionId: id) == env.expectedIds(EndToEnd.graphUser, window))
            #expect(try await env.directory.credentials(for: id)?.refreshToken != credentials.refreshToken)

            let gmail = try await env.connect(.gmail, EndToEnd.gmailUser)
            try await env.control("POST", "mailboxes/\(EndToEnd.gmailUser)/revoke-tokens")
            var expired = try #require(try await env.directory.credentials(for: gmail))
            expired.expiresAt = Date(timeIntervalSince1970: 0)
            try await env.directory.updateCredentials(expired, for: gmail)
            _ = try await env.start(gmail, .last30Days)
            try await env.waitFor(gmail, .failed)
            #expect(try await env.record(gmail).error?.code == .tokenExpired)
            let connection = try #require(try await env.directory.connection(gmail))
            #expect(connection.health == .error)
            #expect(connection.errorCode == .tokenExpired)
        }
    }

    @Test("a revoked grant on a shared mailbox is permission_lost")
    func grantRevoked() async throws {
        try await EndToEnd.run { env in
            let parent = try await env.connect(.graph, EndToEnd.graphUser)
            let id = try await env.connect(.graph, EndToEnd.graphShared, parentId: parent)
            try await env.control("POST", "mailboxes/\(EndToEnd.graphShared)/revoke-grant")
            _ = try await env.start(id, .last30Days)
            try await env.waitFor(id, .failed)
            #expect(try await env.record(id).error?.code == .permissionLost)
            #expect(try await env.directory.connection(id)?.health == .error)
        }
    }

    @Test("a shared mailbox waits on its revoked parent and completes once the parent reconnects")
    func sharedMailbox() async throws {
        try await EndToEnd.run { env in
            let parent = try await env.connect(.graph, EndToEnd.graphUser)
            let child = try await env.connect(.graph, EndToEnd.graphShared, parentId: parent)
            try await env.control("POST", "mailboxes/\(EndToEnd.graphUser)/revoke-tokens")
            var expired = try #require(try await env.directory.credentials(for: parent))
            expired.expiresAt = Date(timeIntervalSince1970: 0)
            try await env.directory.updateCredentials(expired, for: parent)
            let window = try await env.start(child, .everything)
            try await env.waitFor(child, .waitingOnParent)
            #expect(try await env.record(child).error?.message == "Waiting on \(EndToEnd.graphUser) — reconnect it")
            // The parent reconnects with fresh tokens; its children go back to the queue.
            try await env.control("POST", "mailboxes/\(EndToEnd.graphUser)/restore-tokens")
            #expect(try await env.connect(.graph, EndToEnd.graphUser) == parent)
            try await env.scheduler.parentReconnected(children: try await env.directory.children(of: parent))
            try await env.waitFor(child, .completed)
            #expect(try await env.store.providerMessageIds(connectionId: child) == env.expectedIds(EndToEnd.graphShared, window))
        }
    }

    @Test("mail injected during the backfill is stored within 10 seconds, exactly once", arguments: [ProviderKind.graph, .gmail])
    func injectedMail(provider: ProviderKind) async throws {
        try await EndToEnd.run { env in
            try await env.setKnobs(["latencyMs": 10])
            let address = provider == .graph ? EndToEnd.graphUser : EndToEnd.gmailUser
            let id = try await env.connect(provider, address)
            _ = try await env.start(id, .everything)
            try await env.eventually("some progress") { try await env.record(id).pulled > 0 }
            let injected = try await env.control("POST", "mailboxes/\(address)/inject", body: ["count": 2])
            let ids = Set(try #require(injected["ids"] as? [String]))
            // What the webhook endpoint does on a notification.
            #expect(try await env.directory.markDirty(id))
            try await env.scheduler.nudge([id])
            try await env.eventually("injected mail stored", timeout: .seconds(10)) {
                ids.isSubset(of: try await env.store.providerMessageIds(connectionId: id))
            }
            try await env.waitFor(id, .completed)
            let stored = try await env.store.providerMessageIds(connectionId: id)
            #expect(ids.isSubset(of: stored))
            #expect(try await env.store.count(connectionId: id) == stored.count)
        }
    }

    // The real-time cursor is taken when the backfill is prepared, after its window ended: mail that arrives in
    // between is in neither the window nor (for Gmail) the history after the cursor. It must still be stored,
    // once, as real-time mail, outside `pulled`.
    @Test("mail arriving between the backfill's start and its preparation is stored once, outside pulled",
          arguments: [ProviderKind.graph, .gmail])
    func mailBeforePreparation(provider: ProviderKind) async throws {
        try await EndToEnd.run { env in
            let address = provider == .graph ? EndToEnd.graphUser : EndToEnd.gmailUser
            let id = try await env.connect(provider, address)
            // The preparation's first request waits out a 2 s Retry-After; the mail arrives meanwhile.
            try await env.control("POST", "faults", body: ["mailbox": address, "status": 429, "retryAfter": 2, "count": 1])
            let window = try await env.start(id, .last30Days)
            try await env.eventually("the preparation throttled") { try await env.journalCounts(address).throttled == 1 }
            let injected = try await env.control("POST", "mailboxes/\(address)/inject", body: ["count": 2])
            let ids = Set(try #require(injected["ids"] as? [String]))
            // What the webhook endpoint does on a notification.
            #expect(try await env.directory.markDirty(id))
            try await env.scheduler.nudge([id])
            try await env.waitFor(id, .completed)
            try await env.eventually("injected mail stored", timeout: .seconds(10)) {
                ids.isSubset(of: try await env.store.providerMessageIds(connectionId: id))
            }
            let expected = try await env.expectedIds(address, window)
            #expect(ids.isDisjoint(with: expected))
            #expect(try await env.store.providerMessageIds(connectionId: id) == expected.union(ids))
            #expect(try await env.record(id).pulled == expected.count)
        }
    }

    @Test("malformed provider responses fail that backfill clearly while the worker serves others")
    func malformed() async throws {
        try await EndToEnd.run(configure: { $0.workerConcurrency = 1 }) { env in
            let graph = try await env.connect(.graph, EndToEnd.graphUser)
            try await env.control("POST", "faults", body: [
                "mailbox": EndToEnd.graphUser, "route": "messages", "status": 200, "body": "{\"value\": [", "count": 100,
            ])
            let gmail = try await env.connect(.gmail, EndToEnd.gmailUser)
            _ = try await env.start(graph, .last30Days)
            let window = try await env.start(gmail, .last30Days)
            try await env.waitFor(graph, .failed)
            let error = try #require(try await env.record(graph).error)
            #expect(error.code == .invalidResponse)
            #expect(error.retryable)
            try await env.waitFor(gmail, .completed)
            #expect(try await env.store.providerMessageIds(connectionId: gmail) == env.expectedIds(EndToEnd.gmailUser, window))
        }
    }
}
