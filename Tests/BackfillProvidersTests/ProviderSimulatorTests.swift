import BackfillCore
import BackfillHTTP
@testable import BackfillProviders
import Foundation
import Testing

@Suite("Providers against the simulator")
struct ProviderSimulatorTests {
    @Test("a Graph backfill stores exactly the simulator's expected set, once each, and counts it up front")
    func graphBackfill() async throws {
        try await SimulatorHarness.run { sim in
            let result = try await sim.backfill(sim.graph, "graph-1")
            let expected = try await sim.expectedIds(SimulatorHarness.graphUser)
            let ids = result.messages.map(\.providerMessageId)
            #expect(!expected.isEmpty)
            #expect(ids.count == Set(ids).count)
            #expect(Set(ids) == expected)
            #expect(result.estimate == expected.count)
            #expect(result.messages.allSatisfy { sim.window.contains($0.receivedAt) && $0.source == .backfill })
            let state = await sim.directory.syncState(for: "graph-1")
            #expect(state.keys.contains { $0.hasPrefix("graph.delta.") })
        }
    }

    @Test("a Graph backfill cuts each folder's window into streams that tile it, newest week first, and lists 4 of them per page")
    func graphStreams() async throws {
        try await SimulatorHarness.run(messageCount: 1200) { sim in
            let job = sim.job("graph-1")
            let page = try await sim.graph.fetchPage(job, cursor: nil)
            let position = try GraphCursor.decode(try #require(page.nextCursor), window: job.window)
            let newestWeek = try #require(job.window.newestFirst().first)
            #expect(position.streams.count >= 8)
            // Every folder's newest week comes first; the first page took up the first 4 streams, no others.
            #expect(position.streams.prefix { $0.window == DateWindow(start: newestWeek.start, end: job.window.end) }.count
                    == position.folders.count)
            #expect(position.streams.prefix(4).allSatisfy { $0.nextLink != nil || $0.done })
            #expect(position.streams.dropFirst(4).allSatisfy { $0.nextLink == nil && !$0.done })
            #expect(!page.messages.isEmpty && page.messages.count <= 4 * 25)
            for folder in position.folders.indices {
                let windows = position.streams.filter { $0.folder == folder }.map(\.window)
                #expect(windows.map(\.end) == windows.map(\.end).sorted(by: >), "not newest first")
                let tiles = windows.sorted { $0.start < $1.start }
                #expect(tiles.first?.start == job.window.start && tiles.last?.end == job.window.end)
                #expect(zip(tiles, tiles.dropFirst()).allSatisfy { $0.end == $1.start })
            }
            #expect(position.streams.map(\.window.end) == position.streams.map(\.window.end).sorted(by: >))
        }
    }

    @Test("a Graph backfill resumed from a mid-run cursor, after a lost page and a throttled one, stores the exact set once")
    func graphResume() async throws {
        try await SimulatorHarness.run(messageCount: 1200) { sim in
            let job = sim.job("graph-1")
            var committed: [StoredMessage] = []
            var cursor: String?
            let first = try await sim.graph.fetchPage(job, cursor: nil)
            committed += first.messages
            cursor = first.nextCursor
            let position = try GraphCursor.decode(try #require(cursor), window: job.window)
            #expect(position.streams.prefix(4).allSatisfy { $0.nextLink != nil || $0.done }, "not 4 streams taken up")
            // A page fetched but never committed: the process died before the commit.
            let lost = try await sim.graph.fetchPage(job, cursor: cursor)
            #expect(!lost.messages.isEmpty)
            // One stream of the next page throttled for longer than the provider waits: the page fails whole.
            try await sim.fault(SimulatorHarness.graphUser, route: "messages.list", status: 429, retryAfter: 30)
            await #expect(throws: ProviderFailure.throttled(retryAfter: .seconds(30))) {
                try await sim.graph.fetchPage(job, cursor: cursor)
            }
            // Another process (a new provider, no admission state) goes on from the last committed cursor.
            repeat {
                let page = try await sim.graph.fetchPage(job, cursor: cursor)
                committed += page.messages
                cursor = page.nextCursor
            } while cursor != nil
            let ids = committed.map(\.providerMessageId)
            #expect(ids.count == Set(ids).count)
            #expect(Set(ids) == (try await sim.expectedIds(SimulatorHarness.graphUser)))
        }
    }

    @Test("a Graph folder deleted after the preparation ends its streams: the backfill goes on to every message still in range, once; a 404 of a folder that exists still fails the page")
    func graphFolderDeleted() async throws {
        try await SimulatorHarness.run(messageCount: 1200) { sim in
            let job = sim.job("graph-1")
            var cursor = try await sim.graph.prepare(job).firstCursor
            let position = try GraphCursor.decode(try #require(cursor), window: job.window)
            // The tree is the Inbox, the folder under it, Sent Items.
            #expect(position.folders.map(\.kind) == [.inbox, .inbox, .sent])
            let notFound = #"{"error": {"code": "ErrorItemNotFound", "message": "The specified object was not found in the store."}}"#
            try await sim.fault(SimulatorHarness.graphUser, route: "messages.list", status: 404, body: notFound)
            await #expect(throws: ProviderFailure.self) { try await sim.graph.fetchPage(job, cursor: cursor) }

            let before = try await sim.expectedIds(SimulatorHarness.graphUser)
            let child = try #require(position.folders[1].id.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
            _ = try await sim.control("DELETE", "mailboxes/\(SimulatorHarness.graphUser)/folders/\(child)")
            let after = try await sim.expectedIds(SimulatorHarness.graphUser)
            #expect(after.count < before.count)
            var ids: [String] = []
            repeat {
                let page = try await sim.graph.fetchPage(job, cursor: cursor)
                ids += page.messages.map(\.providerMessageId)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(ids.count == Set(ids).count)
            #expect(Set(ids) == after)
        }
    }

    @Test("a single-stream cursor committed by the previous version continues to the exact set, once")
    func graphOldCursor() async throws {
        /// The cursor format before streams.
        struct SingleStreamCursor: Encodable {
            var folders: [GraphFolder]
            var index: Int
            var nextLink: String?
        }
        try await SimulatorHarness.run(messageCount: 1200) { sim in
            let job = sim.job("graph-1")
            let graph = sim.graph
            let mailbox = try await graph.mailbox("graph-1")
            let folders = try await graph.resolveFolders(mailbox)
            // The previous version's first page: the first folder over the whole window.
            let first: GraphPage<GraphMessage> = try await graph.get(
                mailbox, url: mailbox.messages(in: folders[0].id, window: job.window), route: "graph GET mailFolders/messages"
            )
            let nextLink: String = try #require(first.nextLink)
            let old = SingleStreamCursor(folders: folders, index: 0, nextLink: nextLink)
            var cursor: String? = String(decoding: try JSONEncoder().encode(old), as: UTF8.self)
            let position = try GraphCursor.decode(try #require(cursor), window: job.window)
            #expect(position.streams.map(\.folder) == Array(folders.indices))
            #expect(position.streams.first?.nextLink == first.nextLink)
            var ids = first.value.map(\.id)
            repeat {
                let page = try await graph.fetchPage(job, cursor: cursor)
                ids += page.messages.map(\.providerMessageId)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(ids.count == Set(ids).count)
            #expect(Set(ids) == (try await sim.expectedIds(SimulatorHarness.graphUser)))
            #expect(throws: ProviderFailure.self) { try GraphCursor.decode(#"{"folders":[],"index":0}"#, window: job.window) }
        }
    }

    @Test("a Gmail backfill stores exactly the expected set, messages in INBOX and SENT once")
    func gmailBackfill() async throws {
        try await SimulatorHarness.run { sim in
            let result = try await sim.backfill(sim.gmail, "gmail-1")
            let expected = try await sim.expectedIds(SimulatorHarness.gmailUser)
            let ids = result.messages.map(\.providerMessageId)
            #expect(!expected.isEmpty)
            #expect(ids.count == Set(ids).count)
            #expect(Set(ids) == expected)
            #expect(result.estimate == expected.count)
            let state = await sim.directory.syncState(for: "gmail-1")
            #expect(!(state["gmail.historyId"] ?? "").isEmpty)
        }
    }

    @Test("a shared mailbox is read through /users/{upn} with the parent's token")
    func sharedMailbox() async throws {
        try await SimulatorHarness.run { sim in
            let result = try await sim.backfill(sim.graph, "shared-1")
            #expect(Set(result.messages.map(\.providerMessageId)) == (try await sim.expectedIds(SimulatorHarness.graphShared)))
        }
    }

    @Test("Graph 429 with a long Retry-After is throttled with exactly that delay, fractional included")
    func graphThrottled() async throws {
        try await SimulatorHarness.run { sim in
            _ = try await sim.control("PATCH", "knobs", body: ["graphRetryAfterStyle": "fractional"])
            // The simulator renders 30 s in the fractional style as "30.128", as Graph does.
            try await sim.fault(SimulatorHarness.graphUser, route: "messages.list", status: 429, retryAfter: 30)
            await #expect(throws: ProviderFailure.throttled(retryAfter: .milliseconds(30128))) {
                try await sim.graph.fetchPage(sim.job("graph-1"), cursor: nil)
            }
        }
    }

    @Test("Graph 429 with a short Retry-After is waited out and the request sent again, never early")
    func graphShortThrottle() async throws {
        try await SimulatorHarness.run { sim in
            _ = try await sim.control("PATCH", "knobs", body: ["graphRetryAfterStyle": "fractional"])
            try await sim.fault(SimulatorHarness.graphUser, route: "messages.list", status: 429, retryAfter: 0.2, count: 2)
            let started = ContinuousClock.now
            let page = try await sim.graph.fetchPage(sim.job("graph-1"), cursor: nil)
            // The page's requests run side by side, so the two throttled ones may wait out the same Retry-After.
            #expect(ContinuousClock.now - started >= .milliseconds(328))
            let again = try await sim.graph.fetchPage(sim.job("graph-1"), cursor: nil)
            #expect(!page.messages.isEmpty)
            #expect(page.messages.map(\.providerMessageId) == again.messages.map(\.providerMessageId))
            let stats = try await sim.control("GET", "mailboxes/\(SimulatorHarness.graphUser)/stats")
            #expect(stats["violations"] as? Int == 0)
        }
    }

    @Test("Gmail 403 userRateLimitExceeded is throttled, not a permission problem: waited out when short, else parked")
    func gmailThrottled() async throws {
        try await SimulatorHarness.run { sim in
            let body = #"{"error":{"code":403,"message":"User-rate limit exceeded.","errors":[{"message":"User-rate limit exceeded.","domain":"usageLimits","reason":"userRateLimitExceeded"}],"status":"PERMISSION_DENIED"}}"#
            // Without a Retry-After the provider waits a second and sends the get again: the page is whole.
            try await sim.fault(SimulatorHarness.gmailUser, route: "messages.get", status: 403, body: body)
            let page = try await sim.gmail.fetchPage(sim.job("gmail-1"), cursor: nil)
            let again = try await sim.gmail.fetchPage(sim.job("gmail-1"), cursor: nil)
            #expect(!page.messages.isEmpty)
            #expect(page.messages.map(\.providerMessageId) == again.messages.map(\.providerMessageId))
            // A long wait on the page's first request (nothing fetched yet to keep) parks the whole page.
            try await sim.fault(SimulatorHarness.gmailUser, route: "messages.list", status: 403, retryAfter: 60, body: body)
            await #expect(throws: ProviderFailure.throttled(retryAfter: .seconds(60))) {
                try await sim.gmail.fetchPage(sim.job("gmail-1"), cursor: nil)
            }
        }
    }

    @Test("a Gmail page fetches through the batch endpoint, ten calls a batch and one batch at a time", arguments: [nil, 4])
    func gmailBatches(batchSize: Int?) async throws {
        try await SimulatorHarness.run { sim in
            _ = try await sim.control("PATCH", "knobs", body: ["latencyMs": 20])
            let provider = batchSize.map {
                GmailProvider(endpoints: sim.endpoints, directory: sim.directory, http: sim.http, listPageSize: 40, batchSize: $0)
            } ?? sim.gmail
            // The newest week holds only a few messages: go on to a page of more than a batch.
            var page = try await provider.fetchPage(sim.job("gmail-1"), cursor: nil)
            while page.messages.count <= 10, let next = page.nextCursor {
                page = try await provider.fetchPage(sim.job("gmail-1"), cursor: next)
            }
            #expect(page.messages.count > 10)
            let stats = try await sim.control("GET", "mailboxes/\(SimulatorHarness.gmailUser)/stats")
            // Gmail refuses a user more than ten calls at once; a batch's calls run side by side.
            #expect(stats["maxInFlight"] as? Int == batchSize ?? GmailProvider.callsPerBatch)
        }
    }

    @Test("calls of a batch refused one by one are sent again in later batches; the page is the same as without")
    func gmailCallsThrottledInsideABatch() async throws {
        try await SimulatorHarness.run { sim in
            let job = sim.job("gmail-1")
            var cursor: String?
            var clean: [String] = []
            repeat {
                let page = try await sim.gmail.fetchPage(job, cursor: cursor)
                clean += page.messages.map(\.providerMessageId)
                cursor = page.nextCursor
            } while cursor != nil
            // Three calls answered 429 and two 503 inside batches that themselves succeed.
            try await sim.fault(SimulatorHarness.gmailUser, route: "messages.get", status: 429, count: 3)
            try await sim.fault(SimulatorHarness.gmailUser, route: "messages.get", status: 503, count: 2)
            var again: [String] = []
            repeat {
                let page = try await sim.gmail.fetchPage(job, cursor: cursor)
                again += page.messages.map(\.providerMessageId)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(again == clean)
            #expect(clean.count > 20)
        }
    }

    @Test("Gmail pages cut after every batch, across the listings a page gathers, still store the exact set once")
    func gmailPagesCutAnywhere() async throws {
        try await SimulatorHarness.run { sim in
            let job = sim.job("gmail-1")
            // No time budget at all: every page stops after its first batch of 3, wherever that falls among the
            // (up to 6) listings it gathered.
            let hasty = GmailProvider(endpoints: sim.endpoints, directory: sim.directory, http: sim.http,
                                      listPageSize: 40, batchSize: 3, pageBudget: .zero)
            var cursor: String?
            var ids: [String] = []
            var pages = 0
            repeat {
                let page = try await hasty.fetchPage(job, cursor: cursor)
                ids += page.messages.map(\.providerMessageId)
                cursor = page.nextCursor
                pages += 1
            } while cursor != nil && pages < 1_000
            #expect(ids.count == Set(ids).count)
            #expect(Set(ids) == (try await sim.expectedIds(SimulatorHarness.gmailUser)))
        }
    }

    @Test("a server error is sent again after 0.5 s and 1 s; a third one fails the page as transient")
    func serverErrorsResent() async throws {
        try await SimulatorHarness.run { sim in
            // Pages of one message, so every fault lands on the same message's get.
            let provider = GmailProvider(
                endpoints: sim.endpoints, directory: sim.directory, http: sim.http, listPageSize: 1, batchSize: 1,
                pageBudget: .seconds(30)
            )
            try await sim.fault(SimulatorHarness.gmailUser, route: "messages.get", status: 503, count: 2)
            let started = ContinuousClock.now
            let page = try await provider.fetchPage(sim.job("gmail-1"), cursor: nil)
            #expect(ContinuousClock.now - started >= .milliseconds(1500))
            let again = try await provider.fetchPage(sim.job("gmail-1"), cursor: nil)
            #expect(!page.messages.isEmpty)
            #expect(page.messages.map(\.providerMessageId) == again.messages.map(\.providerMessageId))
            try await sim.fault(SimulatorHarness.gmailUser, route: "messages.get", status: 503, count: 3)
            await #expect {
                try await provider.fetchPage(sim.job("gmail-1"), cursor: nil)
            } throws: { error in
                if case .transient = error as? ProviderFailure { return true }
                return false
            }
        }
    }

    @Test("a Gmail page stopped midway by the quota keeps the messages fetched so far; the next page goes on after them")
    func gmailPartialPage() async throws {
        try await SimulatorHarness.run { sim in
            // 11 units a minute (97% of 12): the list (5) and one get (5), then the next get would wait a minute.
            // One listing a page, so no second list spends the units first.
            let tight = GmailProvider(endpoints: sim.endpoints, directory: sim.directory, http: sim.http,
                                      listPageSize: 40, listingsPerPage: 1, batchSize: 1, quotaUnitsPerMinute: 12)
            let cut = try await tight.fetchPage(sim.job("gmail-1"), cursor: nil)
            let whole = try await sim.gmail.fetchPage(sim.job("gmail-1"), cursor: nil)
            let rest = try await sim.gmail.fetchPage(sim.job("gmail-1"), cursor: cut.nextCursor)
            #expect(cut.messages.count <= 1 && cut.nextCursor != whole.nextCursor)
            #expect((cut.messages + rest.messages).map(\.providerMessageId) == whole.messages.map(\.providerMessageId))
            #expect(rest.nextCursor == whole.nextCursor)
            // With the minute spent, the next page is parked for the rest of it, nothing sent.
            let error = await #expect(throws: ProviderFailure.self) {
                try await tight.fetchPage(sim.job("gmail-1"), cursor: cut.nextCursor)
            }
            // Its own pacing, not a refusal of Gmail's: shown as pacing, not throttled.
            guard case .pacing(let wait) = error else { Issue.record("not pacing: \(String(describing: error))"); return }
            #expect(wait > .seconds(50) && wait <= .seconds(60))
        }
    }

    @Test("a catch-up whose store fails leaves the cursor where it was: the next one stores the same mail", arguments: [
        ("graph-1", SimulatorHarness.graphUser), ("gmail-1", SimulatorHarness.gmailUser),
    ])
    func catchUpStoresBeforeTheCursorMoves(connectionId: String, address: String) async throws {
        try await SimulatorHarness.run { sim in
            let provider: any MailProvider & RealtimeSync = connectionId == "graph-1" ? sim.graph : sim.gmail
            try await provider.finish(sim.job(connectionId))  // takes the real-time cursor
            let injected = try await sim.control("POST", "mailboxes/\(address)/inject", body: ["count": 3])
            let ids = Set(try #require(injected["ids"] as? [String]))
            let store = MemoryMessageStore()
            await store.failNextInsert()
            await #expect(throws: MemoryMessageStore.Unavailable.self) {
                try await provider.catchUp(connectionId: connectionId, into: store)
            }
            let result = try await provider.catchUp(connectionId: connectionId, into: store)
            #expect(result == CatchUpResult(inserted: 3, resyncNeeded: false))
            #expect(await store.ids == ids)
            // The cursor moved once the mail was stored: nothing comes twice.
            #expect(try await provider.catchUp(connectionId: connectionId, into: store).inserted == 0)
        }
    }

    @Test("an expired real-time cursor is replaced and the mail since the last catch-up delivered: no gap", arguments: [
        ("graph-1", SimulatorHarness.graphUser), ("gmail-1", SimulatorHarness.gmailUser),
    ])
    func expiredCursorLeavesNoGap(connectionId: String, address: String) async throws {
        try await SimulatorHarness.run { sim in
            let provider: any MailProvider & RealtimeSync = connectionId == "graph-1" ? sim.graph : sim.gmail
            try await provider.finish(sim.job(connectionId))  // takes the real-time cursor
            let store = MemoryMessageStore()
            #expect(try await provider.catchUp(connectionId: connectionId, into: store).inserted == 0)
            let injected = try await sim.control("POST", "mailboxes/\(address)/inject", body: ["count": 3])
            let ids = Set(try #require(injected["ids"] as? [String]))
            // The provider forgets the cursor (Graph 410 SyncStateNotFound, Gmail history 404).
            _ = try await sim.control("POST", "cursors/expire", body: ["mailbox": address])
            let result = try await provider.catchUp(connectionId: connectionId, into: store)
            #expect(result.resyncNeeded)
            #expect(ids.isSubset(of: await store.ids))
            // The fresh cursor holds: nothing comes twice, and new mail comes through it.
            #expect(try await provider.catchUp(connectionId: connectionId, into: store) == CatchUpResult(inserted: 0, resyncNeeded: false))
            let later = try await sim.control("POST", "mailboxes/\(address)/inject", body: ["count": 1])
            #expect(try await provider.catchUp(connectionId: connectionId, into: store) == CatchUpResult(inserted: 1, resyncNeeded: false))
            #expect(Set(try #require(later["ids"] as? [String])).isSubset(of: await store.ids))
        }
    }

    @Test("a Graph subscription names a lifecycle URL, is kept while live, and is made anew after subscriptionRemoved")
    func graphSubscriptionLifecycle() async throws {
        try await SimulatorHarness.run { sim in
            let url = "\(sim.server.controlBaseURL)/sink/graph"  // answers the validation handshake
            let first = try await sim.graph.ensureSubscription(connectionId: "graph-1", notificationURL: url, clientState: "s")
            #expect(first.created)
            let again = try await sim.graph.ensureSubscription(connectionId: "graph-1", notificationURL: url, clientState: "s")
            #expect(again.id == first.id && !again.changed)
            // Graph removes it and says so at the lifecycle URL (refused when the subscription named none).
            _ = try await sim.control("POST", "subscriptions/\(first.id)/lifecycle", body: ["event": "subscriptionRemoved"])
            await sim.directory.updateSyncState([GraphProvider.lifecycleSyncKey: "subscriptionRemoved"], for: "graph-1")
            let renewed = try await sim.graph.ensureSubscription(connectionId: "graph-1", notificationURL: url, clientState: "s")
            #expect(renewed.created && renewed.id != first.id)
            #expect(await sim.directory.syncState(for: "graph-1")[GraphProvider.lifecycleSyncKey] == nil)
        }
    }

    @Test("a push channel granted a short lifetime is renewed when a third of it is left, and keeps what was granted")
    func shortChannelLifetimes() async throws {
        try await SimulatorHarness.run { sim in
            // As a week-long run compressed into minutes grants them: a 9-second subscription and watch.
            _ = try await sim.control("PATCH", "knobs", body: ["graphSubscriptionLifetimeSeconds": 9, "gmailWatchLifetimeSeconds": 9])
            _ = try await sim.control("POST", "pubsub", body: ["topicName": "projects/p/topics/t", "pushEndpoint": "\(sim.server.controlBaseURL)/sink/gmail"])
            let url = "\(sim.server.controlBaseURL)/sink/graph"
            let later = ShiftedClock(offset: 7)
            let graphLater = GraphProvider(endpoints: sim.endpoints, directory: sim.directory, http: sim.http, clock: later)
            let gmailLater = GmailProvider(endpoints: sim.endpoints, directory: sim.directory, http: sim.http, clock: later)
            for (id, now, lateProvider) in [("graph-1", sim.graph as any RealtimeSync, graphLater as any RealtimeSync),
                                            ("gmail-1", sim.gmail, gmailLater)] {
                let target = id == "graph-1" ? url : "projects/p/topics/t"
                let first = try await now.ensureSubscription(connectionId: id, notificationURL: target, clientState: "s")
                #expect(first.created)
                #expect(first.expiresAt.timeIntervalSinceNow < 10, "\(id): granted 9 s, not what was asked")
                // Renewed with a third of the 9 s left (whole seconds on the wire): due 5 to 7 s from now.
                #expect((5...7.5).contains(first.renewAt.timeIntervalSinceNow), "\(id): renewAt \(first.renewAt.timeIntervalSinceNow)")
                let again = try await now.ensureSubscription(connectionId: id, notificationURL: target, clientState: "s")
                // Kept in the sync state to the millisecond.
                #expect(!again.changed && abs(again.renewAt.timeIntervalSince(first.renewAt)) < 0.01, "\(id): not due yet")
                // 7 s on, it is due: renewed, for what the provider granted (9 s from its now), not what was asked.
                let renewed = try await lateProvider.ensureSubscription(connectionId: id, notificationURL: target, clientState: "s")
                #expect(renewed.changed && !renewed.created, "\(id)")
                #expect(renewed.expiresAt.timeIntervalSinceNow < 10, "\(id): the renewal keeps the granted expiry")
            }
        }
    }

    @Test("a week-long channel is renewed a day ahead (Graph) or once a day old (Gmail)")
    func longChannelLifetimes() async throws {
        try await SimulatorHarness.run { sim in
            _ = try await sim.control("POST", "pubsub", body: ["topicName": "projects/p/topics/t", "pushEndpoint": "\(sim.server.controlBaseURL)/sink/gmail"])
            let graph = try await sim.graph.ensureSubscription(connectionId: "graph-1", notificationURL: "\(sim.server.controlBaseURL)/sink/graph", clientState: "s")
            #expect(abs(graph.expiresAt.timeIntervalSince(graph.renewAt) - 86_400) < 2)
            let gmail = try await sim.gmail.ensureSubscription(connectionId: "gmail-1", notificationURL: "projects/p/topics/t", clientState: "")
            #expect(abs(gmail.renewAt.timeIntervalSinceNow - 86_400) < 2)
        }
    }

    @Test("an expired Graph access token is refreshed and the rotated refresh token saved")
    func graphRefresh() async throws {
        try await SimulatorHarness.run { sim in
            let before = try #require(await sim.directory.credentials(for: "graph-1"))
            try await sim.expireAccessToken("graph-1")
            _ = try await sim.graph.fetchPage(sim.job("graph-1"), cursor: nil)
            let after = try #require(await sim.directory.credentials(for: "graph-1"))
            #expect(after.accessToken != before.accessToken)
            #expect(after.refreshToken != before.refreshToken)
            #expect((after.expiresAt ?? .distantPast) > Date())
        }
    }

    @Test("a revoked refresh token is tokenExpired, for Graph and for Gmail")
    func revokedRefreshToken() async throws {
        try await SimulatorHarness.run { sim in
            for (id, address) in [("graph-1", SimulatorHarness.graphUser), ("gmail-1", SimulatorHarness.gmailUser)] {
                _ = try await sim.control("POST", "mailboxes/\(address)/revoke-tokens")
                try await sim.expireAccessToken(id)
                let provider: any MailProvider = id == "graph-1" ? sim.graph : sim.gmail
                let error = await #expect(throws: ProviderFailure.self) {
                    try await provider.fetchPage(sim.job(id), cursor: nil)
                }
                #expect(error?.code == .tokenExpired)
            }
        }
    }

    @Test("a revoked grant on a shared mailbox is permissionLost")
    func revokedGrant() async throws {
        try await SimulatorHarness.run { sim in
            _ = try await sim.control("POST", "mailboxes/\(SimulatorHarness.graphShared)/revoke-grant")
            let error = await #expect(throws: ProviderFailure.self) {
                try await sim.graph.fetchPage(sim.job("shared-1"), cursor: nil)
            }
            #expect(error?.code == .permissionLost)
        }
    }

    @Test("a malformed body is invalidResponse naming the route, never a token")
    func malformedBody() async throws {
        try await SimulatorHarness.run { sim in
            try await sim.fault(SimulatorHarness.graphUser, route: "messages.list", status: 200, body: #"{"value":[{"id":"#)
            let error = await #expect(throws: ProviderFailure.self) {
                try await sim.graph.fetchPage(sim.job("graph-1"), cursor: nil)
            }
            let credentials = try #require(await sim.directory.credentials(for: "graph-1"))
            #expect(error?.code == .invalidResponse)
            #expect(error?.message.contains("graph GET mailFolders/messages") == true)
            #expect(error?.message.contains(credentials.accessToken) == false)
        }
    }
}

/// The system clock moved ahead: a provider that looks at its channels later, without waiting.
private struct ShiftedClock: WallClock {
    let offset: TimeInterval
    func now() -> Date { Date().addingTimeInterval(offset) }
}
