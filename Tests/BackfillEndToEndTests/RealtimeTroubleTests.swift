import BackfillCore
@testable import BackfillScheduler
@testable import BackfillServer
import Foundation
import Logging
import Testing

/// Real-time sync after the handoff (issue 11) against the simulator over HTTP, for both providers: a refused
/// token or a lost permission in a catch-up is named on the connection (and on the shared mailboxes under it)
/// and cleared by a reconnect, which delivers the mail that came meanwhile; a passing failure is retried by
/// itself; mailboxes without a push channel are polled, those with one are caught up after the safety period.
/// Push channels are real (Graph's subscription points at the simulator's sink, which answers the validation;
/// Gmail's watch has a topic no push endpoint listens on), so nothing is delivered to us: `scheduler.notify`
/// stands in for the webhook, and where a test says "no notification" there is none at all.
@Suite("End to end: real-time trouble is named, recovered by a reconnect, retried or polled")
struct RealtimeTroubleTests {
    static let pollPeriod: Duration = .seconds(2)
    static let pushSafetyPeriod: Duration = .seconds(4)
    /// The promoter looks at `realtime:due` at least this often (`Promoter.catchUpRecheck`), plus a catch-up.
    static let margin: Duration = .seconds(7)

    static func configure(_ configuration: inout SchedulerConfiguration) {
        configuration.pollPeriod = pollPeriod
        configuration.pushSafetyPeriod = pushSafetyPeriod
        configuration.catchUpRetryDelay = .milliseconds(100)
    }

    static func ms(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    static func address(_ provider: ProviderKind) -> String {
        provider == .graph ? EndToEnd.graphUser : EndToEnd.gmailUser
    }

    @Test("a refused token in a catch-up: error/token_expired after one catch-up, mail not stored; a reconnect clears it and stores the mail",
          arguments: [ProviderKind.graph, .gmail])
    func tokenExpired(provider: ProviderKind) async throws {
        try await EndToEnd.run(messageCount: 60, configure: Self.configure) { env in
            let address = Self.address(provider)
            let connector = env.connector(env.keeper())
            let id = try await env.connectLive(connector, provider, address)
            #expect(try await env.directory.connection(id)?.realtime?.mode == .push)
            let window = try await env.start(id, .last30Days)
            try await env.waitFor(id, .completed)
            try await env.eventually("caught up once") { try await env.caughtUp(id) }

            // The refresh token is revoked and the access token stops working (the provider answers 401).
            try await env.control("POST", "mailboxes/\(address)/revoke-tokens")
            try await env.control("POST", "faults", body: ["mailbox": address, "status": 401, "count": 1])
            let before = try await env.journalCounts(address).requests
            let ids = try await env.inject(address, count: 2)
            try await env.scheduler.notify(id)
            try await env.eventually("error named") { try await env.directory.connection(id)?.health == .error }
            let broken = try #require(try await env.directory.connection(id))
            #expect(broken.errorCode == .tokenExpired)
            #expect(try await env.store.providerMessageIds(connectionId: id).isDisjoint(with: ids))
            // One catch-up: one request refused with 401, then the refresh (the identity provider is not journaled).
            #expect(try await env.journalCounts(address).requests == before + 1)
            #expect(try await env.isScheduled(id) == false, "a connection in error is not polled")
            #expect(try await env.record(id).state == .completed, "the finished backfill is left as it was")

            // A notification for a connection in error does no work: no provider call until the reconnect.
            try await env.scheduler.notify(id)
            try await env.eventually("the notification handled") { try await env.settled(id) }
            #expect(try await env.journalCounts(address).requests == before + 1)
            #expect(try await env.directory.connection(id)?.health == .error)

            let more = try await env.inject(address, count: 1)
            let (again, reconnected) = try await connector.connect(
                provider: provider, address: address, credentials: try await env.freshCredentials(address)
            )
            #expect(again.id == id)
            #expect(reconnected)
            try await env.eventually("the mail that came meanwhile stored") {
                ids.union(more).isSubset(of: try await env.store.providerMessageIds(connectionId: id))
            }
            let healed = try #require(try await env.directory.connection(id))
            #expect(healed.health == .healthy)
            #expect(healed.errorCode == nil)
            #expect(healed.errorMessage == nil)
            try await env.eventually("caught up and scheduled again") {
                let caughtUp = try await env.caughtUp(id)
                guard caughtUp else { return false }
                return try await env.isScheduled(id)
            }
            let stored = try await env.store.providerMessageIds(connectionId: id)
            #expect(try await env.expectedIds(address, window).union(ids).union(more) == stored)
            #expect(try await env.store.count(connectionId: id) == stored.count)
        }
    }

    // A Graph subscription or Gmail watch outlives a disconnect: its pushes must neither call the provider
    // nor turn `disconnected` into `error` (the catch-up found no credentials, a "refused token").
    @Test("a notification for a disconnected mailbox does no work and leaves it disconnected", arguments: [ProviderKind.graph, .gmail])
    func disconnected(provider: ProviderKind) async throws {
        try await EndToEnd.run(messageCount: 60, configure: Self.configure) { env in
            let address = Self.address(provider)
            let id = try await env.connectLive(env.connector(env.keeper()), provider, address)
            try await env.eventually("caught up once") { try await env.caughtUp(id) }
            #expect(try await env.directory.disconnect(id))
            let before = try await env.journalCounts(address).requests
            _ = try await env.inject(address, count: 1)
            try await env.scheduler.notify(id)
            try await env.eventually("the notification handled") { try await env.settled(id) }
            let connection = try #require(try await env.directory.connection(id))
            #expect(connection.health == .disconnected)
            #expect(connection.errorCode == nil)
            #expect(try await env.journalCounts(address).requests == before)
            #expect(try await env.isScheduled(id) == false)
        }
    }

    @Test("a lost permission in a catch-up: error/permission_lost; access restored and a reconnect recover it",
          arguments: [ProviderKind.graph, .gmail])
    func permissionLost(provider: ProviderKind) async throws {
        try await EndToEnd.run(messageCount: 60, configure: Self.configure) { env in
            let connector = env.connector(env.keeper())
            // Graph: the shared mailbox's grant is revoked (its owner's token still works). Gmail has no grants:
            // the mailbox answers 403 insufficientPermissions, as when the user took the scope away.
            let address = provider == .graph ? EndToEnd.graphShared : EndToEnd.gmailUser
            let parent = provider == .graph ? try await env.connectLive(connector, .graph, EndToEnd.graphUser) : nil
            let id = try await env.connectLive(connector, provider, address, parentId: parent)
            try await env.eventually("caught up once") { try await env.caughtUp(id) }

            if provider == .graph {
                try await env.control("POST", "mailboxes/\(address)/revoke-grant")
            } else {
                try await env.control("POST", "faults", body: [
                    "mailbox": address, "status": 403, "count": 1,
                    "body": #"{"error":{"code":403,"message":"Request had insufficient authentication scopes.","errors":[{"message":"Insufficient Permission","domain":"global","reason":"insufficientPermissions"}],"status":"PERMISSION_DENIED"}}"#,
                ])
            }
            let ids = try await env.inject(address, count: 2)
            try await env.scheduler.notify(id)
            try await env.eventually("error named") { try await env.directory.connection(id)?.health == .error }
            #expect(try await env.directory.connection(id)?.errorCode == .permissionLost)
            #expect(try await env.store.providerMessageIds(connectionId: id).isDisjoint(with: ids))
            if let parent {
                #expect(try await env.directory.connection(parent)?.health == .healthy, "the owner's token is fine")
            }

            if provider == .graph { try await env.control("POST", "mailboxes/\(address)/restore-grant") }
            let (_, reconnected) = try await connector.connect(
                provider: provider, address: address,
                credentials: try await env.freshCredentials(provider == .graph ? EndToEnd.graphUser : address), parentId: parent
            )
            #expect(reconnected)
            try await env.eventually("the mail that came meanwhile stored") {
                ids.isSubset(of: try await env.store.providerMessageIds(connectionId: id))
            }
            let healed = try #require(try await env.directory.connection(id))
            #expect(healed.health == .healthy)
            #expect(healed.errorCode == nil)
        }
    }

    @Test("a parent's token refused while its shared mailbox catches up: the child waits on it, the parent shows token_expired; reconnecting the parent clears both")
    func parentRefusedDuringChildCatchUp() async throws {
        try await EndToEnd.run(messageCount: 60, configure: Self.configure) { env in
            let connector = env.connector(env.keeper())
            let parent = try await env.connectLive(connector, .graph, EndToEnd.graphUser)
            let child = try await env.connectLive(connector, .graph, EndToEnd.graphShared, parentId: parent)
            try await env.eventually("both caught up once") {
                let parentDone = try await env.caughtUp(parent)
                guard parentDone else { return false }
                return try await env.caughtUp(child)
            }
            // A shared mailbox under a delegated token gets no subscription: it is polled.
            #expect(try await env.directory.connection(child)?.realtime?.mode == .poll)

            try await env.control("POST", "mailboxes/\(EndToEnd.graphUser)/revoke-tokens")
            // The child's next request (with the parent's token) is refused as an expired token would be.
            try await env.control("POST", "faults", body: ["mailbox": EndToEnd.graphShared, "status": 401, "count": 1])
            let ids = try await env.inject(EndToEnd.graphShared, count: 2)
            try await env.scheduler.notify(child)
            try await env.eventually("the child waits on its parent") {
                try await env.directory.connection(child)?.health == .waitingOnParent
            }
            let waiting = try #require(try await env.directory.connection(child))
            #expect(waiting.errorCode == .waitingOnParent)
            #expect(waiting.errorMessage == "Waiting on \(EndToEnd.graphUser) — reconnect it")
            let broken = try #require(try await env.directory.connection(parent))
            #expect(broken.health == .error)
            #expect(broken.errorCode == .tokenExpired)
            #expect(try await env.store.providerMessageIds(connectionId: child).isDisjoint(with: ids))
            #expect(try await env.isScheduled(child) == false)
            #expect(try await env.isScheduled(parent) == false)

            let (_, reconnected) = try await connector.connect(
                provider: .graph, address: EndToEnd.graphUser, credentials: try await env.freshCredentials(EndToEnd.graphUser)
            )
            #expect(reconnected)
            try await env.eventually("the child's mail that came meanwhile stored") {
                ids.isSubset(of: try await env.store.providerMessageIds(connectionId: child))
            }
            for id in [parent, child] {
                let healed = try #require(try await env.directory.connection(id))
                #expect(healed.health == .healthy, "\(id)")
                #expect(healed.errorCode == nil, "\(id)")
                #expect(healed.errorMessage == nil, "\(id)")
            }
            try await env.eventually("both scheduled again") {
                let parentScheduled = try await env.isScheduled(parent)
                guard parentScheduled else { return false }
                return try await env.isScheduled(child)
            }
        }
    }

    @Test("a parent's own catch-up refused: it shows token_expired and its shared mailbox waits on it; a reconnect clears both")
    func parentRefusedInItsOwnCatchUp() async throws {
        try await EndToEnd.run(messageCount: 60, configure: Self.configure) { env in
            let connector = env.connector(env.keeper())
            let parent = try await env.connectLive(connector, .graph, EndToEnd.graphUser)
            let child = try await env.connectLive(connector, .graph, EndToEnd.graphShared, parentId: parent)
            try await env.eventually("both caught up once") {
                let parentDone = try await env.caughtUp(parent)
                guard parentDone else { return false }
                return try await env.caughtUp(child)
            }

            try await env.control("POST", "mailboxes/\(EndToEnd.graphUser)/revoke-tokens")
            try await env.control("POST", "faults", body: ["mailbox": EndToEnd.graphUser, "status": 401, "count": 1])
            let ids = try await env.inject(EndToEnd.graphShared, count: 1)
            try await env.scheduler.notify(parent)
            try await env.eventually("the parent in error") { try await env.directory.connection(parent)?.health == .error }
            #expect(try await env.directory.connection(parent)?.errorCode == .tokenExpired)
            // The worker marks the children right after it records the parent's failure.
            try await env.eventually("the child waits on its parent") {
                try await env.directory.connection(child)?.health == .waitingOnParent
            }
            let waiting = try #require(try await env.directory.connection(child))
            #expect(waiting.errorCode == .waitingOnParent)
            #expect(waiting.errorMessage == "Waiting on \(EndToEnd.graphUser) — reconnect it")
            #expect(try await env.isScheduled(child) == false)
            // The child's notification (or poll) does not touch the provider while its parent is broken.
            try await env.eventually("no catch-up of the child in flight") { try await env.settled(child) }
            let before = try await env.journalCounts(EndToEnd.graphShared).requests
            try await env.scheduler.notify(child)
            try await env.eventually("the notification handled") { try await env.settled(child) }
            #expect(try await env.journalCounts(EndToEnd.graphShared).requests == before)

            _ = try await connector.connect(
                provider: .graph, address: EndToEnd.graphUser, credentials: try await env.freshCredentials(EndToEnd.graphUser)
            )
            try await env.eventually("the child's mail stored") {
                ids.isSubset(of: try await env.store.providerMessageIds(connectionId: child))
            }
            #expect(try await env.directory.connection(parent)?.health == .healthy)
            #expect(try await env.directory.connection(child)?.health == .healthy)
        }
    }

    @Test("a passing failure (5xx) keeps the connection healthy and the catch-up is retried by itself until the mail is stored; from the third failure in a row the connection shows it (error and next try), and the success clears it",
          arguments: [ProviderKind.graph, .gmail])
    func retryableFailure(provider: ProviderKind) async throws {
        try await EndToEnd.run(messageCount: 60, configure: Self.configure) { env in
            let address = Self.address(provider)
            let connector = env.connector(env.keeper())
            let id = try await env.connectLive(connector, provider, address)
            try await env.eventually("caught up once") { try await env.caughtUp(id) }
            #expect(try await env.directory.connection(id)?.realtime?.mode == .push)
            #expect(try await env.directory.connection(id)?.realtime?.failing == nil)

            // Each catch-up's first request is answered 503 three times (the provider sends it again twice): six
            // catch-ups in a row fail, the seventh stores the mail. The trouble shows from the third failure and lasts
            // the backoffs after it (0.4 s doubling to the poll period, 2 s).
            let route = provider == .graph ? "delta" : "history"
            let faultsSet = Date()
            try await env.control("POST", "faults", body: ["mailbox": address, "route": route, "status": 503, "count": 18])
            let ids = try await env.inject(address, count: 2)
            try await env.scheduler.notify(id)
            try await env.eventually("a catch-up failed") { try await env.catchUpFailures(id) >= 1 }
            #expect(try await env.directory.connection(id)?.health == .healthy)
            #expect(try await env.isScheduled(id), "the next catch-up is scheduled")
            try await env.eventually("the third failure in a row recorded", timeout: Self.margin + .seconds(5)) {
                guard let failing = try await env.directory.connection(id)?.realtime?.failing, failing.isShown else { return false }
                #expect(failing.code == .transient)
                #expect(failing.message.contains("503"), "\(failing.message)")
                // Due a backoff after the failure: at most the poll period (the longest backoff) from now.
                let next = try #require(failing.nextTryAt)
                #expect(next > faultsSet && next <= Date().addingTimeInterval(Double(Self.ms(Self.pollPeriod)) / 1000 + 1))
                return true
            }
            #expect(try await env.directory.connection(id)?.health == .healthy, "a passing failure is not the connection's error")
            try await env.eventually("the mail stored without another notification", timeout: Self.margin + .seconds(10)) {
                ids.isSubset(of: try await env.store.providerMessageIds(connectionId: id))
            }
            let faulted = try await env.journalStatuses(address).filter { $0 == 503 }.count
            #expect(faulted == 18)
            let connection = try #require(try await env.directory.connection(id))
            #expect(connection.health == .healthy)
            #expect(connection.errorCode == nil)
            try await env.eventually("failures reset, the trouble cleared") {
                guard try await env.catchUpFailures(id) == 0,
                      try await env.directory.connection(id)?.realtime?.failing == nil else { return false }
                return try await env.caughtUp(id)
            }
        }
    }

    @Test("a Gmail message refused catch-up after catch-up while the mail beside it is served is skipped and listed; the rest is stored, real time goes on; a retry stores it")
    func poisonInCatchUp() async throws {
        try await EndToEnd.run(messageCount: 60, configure: Self.configure) { env in
            let address = EndToEnd.gmailUser
            let id = try await env.connectLive(env.connector(env.keeper()), .gmail, address)
            try await env.eventually("caught up once") { try await env.caughtUp(id) }

            let ids = try await env.inject(address, count: 2)
            let poison = try #require(ids.sorted().first)
            try await env.control("POST", "faults", body: [
                "mailbox": address, "route": "messages.get", "path": "/messages/\(poison)", "status": 500, "count": 1000,
            ])
            try await env.scheduler.notify(id)
            // The first catch-ups fail (real time skips nothing it can help) and store nothing, not even the other one.
            try await env.eventually("a catch-up failed on it") { try await env.catchUpFailures(id) >= 1 }
            #expect(try await env.store.providerMessageIds(connectionId: id).isDisjoint(with: ids))
            // The third in a row goes on without it (`CatchUpRefusals.skipAfter`).
            try await env.eventually("the other stored", timeout: Self.margin + .seconds(10)) {
                ids.subtracting([poison]).isSubset(of: try await env.store.providerMessageIds(connectionId: id))
            }
            #expect(try await !env.store.providerMessageIds(connectionId: id).contains(poison))
            let skipped = try await env.scheduler.skippedMessages(connectionId: id)
            #expect(skipped.map(\.providerMessageId) == [poison])
            #expect(skipped.first?.code == .transient && skipped.first?.folder == .inbox)
            try await env.eventually("failures reset, nothing delayed") {
                guard try await env.catchUpFailures(id) == 0, try await env.directory.connection(id)?.realtime?.failing == nil else {
                    return false
                }
                return try await env.caughtUp(id)
            }
            #expect(try await env.directory.connection(id)?.health == .healthy)
            // Real time goes on past it: new mail comes without waiting on the poison message again.
            let later = try await env.inject(address, count: 1)
            try await env.scheduler.notify(id)
            try await env.eventually("later mail stored", timeout: Self.margin) {
                later.isSubset(of: try await env.store.providerMessageIds(connectionId: id))
            }

            // Served again, "retry skipped" stores it and it leaves the list.
            try await env.control("DELETE", "faults")
            let served = try await env.router.refetch(skipped, connectionId: id)
            #expect(served.stored.map(\.providerMessageId) == [poison] && served.stillSkipped.isEmpty)
        }
    }

    @Test("Graph: a folder made under the Inbox after the handoff is synced once the tree is read again, with what a rule put there; a deleted folder does not stop real time")
    func folderChanges() async throws {
        try await EndToEnd.run(messageCount: 60, configure: Self.configure) { env in
            let address = EndToEnd.graphUser
            let id = try await env.connectLive(env.connector(env.keeper()), .graph, address)
            try await env.eventually("caught up once") { try await env.caughtUp(id) }
            /// How many folders the stored tree lists (each is an object with an `id`).
            func storedFolderCount() async throws -> Int {
                try #require(try await env.directory.syncState(for: id)["graph.folders"]).components(separatedBy: "\"id\"").count - 1
            }
            let folderCount = try await storedFolderCount()

            // The user makes "Inbox/Invoices" and a rule puts two messages there. A catch-up before the tree is an hour
            // old does not see the folder; one after (the last read set two hours back here) does, and delivers both.
            let created = try await env.control("POST", "mailboxes/\(address)/folders", body: ["displayName": "Invoices"])
            let folder = try #require(created["id"] as? String)
            let ruled = try await env.inject(address, count: 2, folder: folder)
            let inboxMail = try await env.inject(address, count: 1)
            try await env.scheduler.notify(id)
            try await env.eventually("the Inbox's mail stored") { inboxMail.isSubset(of: try await env.store.providerMessageIds(connectionId: id)) }
            #expect(try await env.store.providerMessageIds(connectionId: id).isDisjoint(with: ruled))
            let twoHoursAgo = Int64(Date().addingTimeInterval(-7200).timeIntervalSince1970 * 1000)
            try await env.directory.updateSyncState(["graph.foldersAt": String(twoHoursAgo)], for: id)
            try await env.scheduler.notify(id)
            try await env.eventually("the new folder's mail stored") { ruled.isSubset(of: try await env.store.providerMessageIds(connectionId: id)) }
            let state = try await env.directory.syncState(for: id)
            #expect(state["graph.folders"]?.contains(folder) == true)
            #expect(try await storedFolderCount() == folderCount + 1)
            #expect(!(state["graph.delta.\(folder)"] ?? "").isEmpty)

            // The folder is deleted: its round answers 404, the tree is read again at once, and real time goes on.
            try await env.control("DELETE", "mailboxes/\(address)/folders/\(folder)")
            let later = try await env.inject(address, count: 1)
            try await env.scheduler.notify(id)
            try await env.eventually("later mail stored", timeout: Self.margin) {
                later.isSubset(of: try await env.store.providerMessageIds(connectionId: id))
            }
            let after = try await env.directory.syncState(for: id)
            #expect(after["graph.folders"]?.contains(folder) == false)
            #expect(try await storedFolderCount() == folderCount)
            #expect(after["graph.delta.\(folder)"] == nil)
            #expect(try await env.catchUpFailures(id) == 0)
            #expect(try await env.directory.connection(id)?.realtime?.failing == nil)
        }
    }

    @Test("a mailbox without a push channel is polled: its mail is stored within a poll period with no notification at all",
          arguments: [ProviderKind.graph, .gmail])
    func polled(provider: ProviderKind) async throws {
        try await EndToEnd.run(messageCount: 60, configure: Self.configure) { env in
            // Gmail without a topic has no watch; a Graph shared mailbox under a delegated token no subscription.
            let connector = env.connector(env.keeper(gmailTopic: ""))
            let parent = provider == .graph ? try await env.connectLive(connector, .graph, EndToEnd.graphUser) : nil
            let address = provider == .graph ? EndToEnd.graphShared : EndToEnd.gmailUser
            let id = try await env.connectLive(connector, provider, address, parentId: parent)
            try await env.eventually("caught up once") { try await env.caughtUp(id) }
            #expect(try await env.directory.connection(id)?.realtime?.mode == .poll)

            for round in 1...2 {
                let since = ContinuousClock.now
                let ids = try await env.inject(address, count: 1)
                try await env.eventually("round \(round): polled mail stored", timeout: Self.pollPeriod + Self.margin) {
                    ids.isSubset(of: try await env.store.providerMessageIds(connectionId: id))
                }
                #expect(ContinuousClock.now - since <= Self.pollPeriod * 1.1 + Self.margin)
            }
            #expect(try await env.directory.connection(id)?.health == .healthy)
        }
    }

    @Test("a mailbox with a push channel is caught up after the safety period when no notification comes",
          arguments: [ProviderKind.graph, .gmail])
    func pushSafety(provider: ProviderKind) async throws {
        try await EndToEnd.run(messageCount: 60, configure: Self.configure) { env in
            let address = Self.address(provider)
            let connector = env.connector(env.keeper())
            let id = try await env.connectLive(connector, provider, address)
            try await env.eventually("caught up once") { try await env.caughtUp(id) }
            #expect(try await env.directory.connection(id)?.realtime?.mode == .push)
            let last = try #require(try await env.lastCatchUpAt(id))
            let due = try #require(try await env.dueAt(id))
            #expect(due - last == Self.ms(Self.pushSafetyPeriod), "the next catch-up is the safety period away")

            let ids = try await env.inject(address, count: 1)
            try await env.eventually("mail stored by the safety catch-up", timeout: Self.pushSafetyPeriod + Self.margin) {
                ids.isSubset(of: try await env.store.providerMessageIds(connectionId: id))
            }
            // Not polled: the catch-up that stored it came at the safety period, not the (shorter) poll period.
            // (It stores the mail before it records itself.)
            try await env.eventually("the safety catch-up recorded") { try await env.lastCatchUpAt(id) != last }
            let next = try #require(try await env.lastCatchUpAt(id))
            #expect(next - last >= Self.ms(Self.pushSafetyPeriod))
        }
    }
}

// MARK: Helpers

extension EndToEnd {
    /// The subscription keeper as the server wires it. Graph's notification URL is the simulator's sink (it
    /// answers the validation handshake and keeps what it is sent); Gmail's topic has no push endpoint, so
    /// its watch is made but pushes go nowhere. Empty `gmailTopic`: Gmail mailboxes are polled.
    func keeper(gmailTopic: String = "projects/backfill-sim/topics/realtime-trouble") -> SubscriptionKeeper {
        SubscriptionKeeper(
            directory: directory, scheduler: scheduler, realtime: router, publicURL: "\(sim.controlBaseURL)/sink/graph?to=",
            gmailTopic: gmailTopic, logger: Logger(label: "test.keeper")
        )
    }

    func connector(_ keeper: SubscriptionKeeper?) -> MailboxConnector {
        MailboxConnector(directory: directory, scheduler: scheduler, keeper: keeper, logger: Logger(label: "test.connector"))
    }

    /// New tokens for a personal mailbox, as the OAuth flow would get them.
    func freshCredentials(_ address: String) async throws -> OAuthCredentials {
        let tokens = try await control("POST", "tokens", body: ["mailbox": address])
        return OAuthCredentials(
            accessToken: try #require(tokens["accessToken"] as? String),
            refreshToken: try #require(tokens["refreshToken"] as? String),
            expiresAt: Date().addingTimeInterval(Double(tokens["expiresIn"] as? Int ?? 3599))
        )
    }

    /// Connects a mailbox as the API does (channel opened, one catch-up queued); a shared one with its owner's tokens.
    func connectLive(
        _ connector: MailboxConnector, _ provider: ProviderKind, _ address: String, parentId: String? = nil
    ) async throws -> String {
        let credentials = try await freshCredentials(parentId == nil ? address : Self.graphUser)
        return try await connector.connect(provider: provider, address: address, credentials: credentials, parentId: parentId).connection.id
    }

    /// New mail in the Inbox, or in `folder` (a role's name or a folder id).
    func inject(_ address: String, count: Int, folder: String? = nil) async throws -> Set<String> {
        var body: [String: Any] = ["count": count]
        if let folder { body["folder"] = folder }
        let injected = try await control("POST", "mailboxes/\(address)/inject", body: body)
        return Set(try #require(injected["ids"] as? [String]))
    }

    func connectionField(_ id: String, _ field: String) async throws -> String? {
        try await redis.send(["HGET", scheduler.keys.connection(id), field]).string
    }

    func lastCatchUpAt(_ id: String) async throws -> Int64? {
        try await connectionField(id, "lastCatchUpAt").flatMap(Int64.init)
    }

    func catchUpFailures(_ id: String) async throws -> Int {
        try await connectionField(id, "catchUpFailures").flatMap(Int.init) ?? 0
    }

    /// A catch-up finished and no notification waits.
    func caughtUp(_ id: String) async throws -> Bool {
        guard try await lastCatchUpAt(id) != nil else { return false }
        return try await directory.dirtyCount(id) == 0
    }

    /// When the connection's next catch-up is due (ms), nil when none is scheduled.
    func dueAt(_ id: String) async throws -> Int64? {
        try await redis.send(["ZSCORE", scheduler.keys.realtimeDue, id]).string.flatMap { Double($0) }.map { Int64($0) }
    }

    func isScheduled(_ id: String) async throws -> Bool {
        try await dueAt(id) != nil
    }

    /// A nudge of the connection has been taken by a worker (claimed or declined) and no worker holds it.
    func settled(_ id: String) async throws -> Bool {
        let queued = try await redis.send(["HEXISTS", scheduler.keys.nudged, id]).int == 1
        let owner = try await redis.send(["HGET", scheduler.keys.lease(id), "owner"]).string ?? ""
        return !queued && owner.isEmpty
    }

    func journalStatuses(_ address: String) async throws -> [Int] {
        let object = try await control("GET", "journal?mailbox=\(address)")
        return try #require(object["value"] as? [[String: Any]]).map { $0["status"] as? Int ?? 0 }
    }
}
