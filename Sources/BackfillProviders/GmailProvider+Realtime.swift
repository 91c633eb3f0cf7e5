import BackfillCore
import Foundation

extension GmailProvider: RealtimeSync {
    /// Google recommends renewing the watch daily; it lasts 7 days.
    static let watchRenewalAge: TimeInterval = 24 * 3600
    static let watchLifetime: TimeInterval = 7 * 24 * 3600
    /// The sync-state field holding when the watch is due to be made again (ms since 1970).
    static let watchRenewAtSyncKey = "gmail.watchRenewAt"

    /// Reads `history.list` (messageAdded) from the stored `historyId`, keeps INBOX/SENT additions, fetches
    /// and stores them, then saves the response's `historyId`. Mail from before the cursor was taken
    /// (`gapSince`) is listed by date once. A 404 (expired id) takes the profile's current id and lists by
    /// date what came since the last catch-up (`ResyncPoint`), so an expired cursor leaves no gap. A message refused
    /// while the others are served fails the catch-up, unless catch-ups in a row have refused it (`CatchUpRefusals`):
    /// then it is listed as skipped, and the catch-up goes on without it.
    public func catchUp(connectionId: String, into store: any MessageStore) async throws -> CatchUpResult {
        let mailbox = try await mailbox(connectionId)
        let state = try await directory.syncState(for: connectionId)
        let stored = state[SyncKey.historyId] ?? ""
        guard !stored.isEmpty else {
            try await ensureHistoryCursor(mailbox)
            return CatchUpResult(inserted: 0, resyncNeeded: false)
        }
        let route = "gmail GET history.list"
        let started = clock.now()
        var gapSince = state[SyncKey.gapSince].flatMap(Int64.init).map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) }
        var resyncNeeded = false
        var added: [String: FolderKind] = [:]
        var order: [String] = []
        var pageToken: String?
        var latest = stored
        repeat {
            let response = try await send(mailbox, url: mailbox.history(since: stored, pageToken: pageToken), route: route, allowing: [404])
            if response.status == 404 {
                // Expired: a fresh cursor first, then the time since the last catch-up listed by date below.
                latest = try await currentHistoryId(mailbox)
                let resyncFrom = ResyncPoint.start(syncedAt: state[SyncKey.syncedAt], now: started)
                gapSince = min(gapSince ?? resyncFrom, resyncFrom)
                resyncNeeded = true
                break
            }
            let page = try ResponseDecoding.decode(HistoryPage.self, from: response.body, route: route)
            for record in page.history ?? [] {
                for addition in record.messagesAdded ?? [] {
                    let labels = Set(addition.message.labelIds ?? [])
                    guard !labels.contains("DRAFT"), let folder = Self.folder(for: labels), added[addition.message.id] == nil else {
                        continue
                    }
                    added[addition.message.id] = folder
                    order.append(addition.message.id)
                }
            }
            latest = page.historyId ?? latest
            pageToken = page.nextPageToken
        } while pageToken != nil

        // The gap is listed after the history, so mail that came in between is in one or the other (or both).
        var gapIds = Set<String>()
        if let gapSince {
            let window = DateWindow(start: gapSince, end: clock.now().addingTimeInterval(86_400))
            for (id, label) in try await listedIds(mailbox, window: window) where added[id] == nil {
                added[id] = label == "INBOX" ? .inbox : .sent
                order.append(id)
                gapIds.insert(id)
            }
        }
        let fetched = try await messages(order, in: mailbox)
        var refusals = CatchUpRefusals(encoded: state[SyncKey.refusals])
        var skipped: [SkippedMessage] = []
        switch refusals.record(refused: fetched.skipped.map(\.id)) {
        case .proceed: break
        case .fail:
            // Real time skips nothing it can help: the catch-up runs again from the same cursor, and counts.
            try await directory.updateSyncState([SyncKey.refusals: refusals.encoded], for: connectionId)
            throw fetched.skipped[0].failure
        case .skip:
            // Listed before the cursor moves past them: a crash in between lists them again, never loses them.
            skipped = fetched.skipped.map { SkippedMessage(providerMessageId: $0.id, folder: added[$0.id] ?? .inbox, failure: $0.failure) }
            try await directory.listSkipped(skipped, for: connectionId)
        }
        let messages = fetched.messages.compactMap { message -> StoredMessage? in
            // Listing by date is in whole seconds: the gap's edge is cut exactly, as the backfill's window is.
            if let gapSince, gapIds.contains(message.id), let receivedAt = message.receivedAt, receivedAt < gapSince {
                return nil
            }
            guard !message.labels.contains("DRAFT") else { return nil }
            let folder = Self.folder(for: message.labels) ?? added[message.id] ?? .inbox
            return message.stored(connectionId: connectionId, folder: folder, source: .realtime)
        }
        let inserted = messages.isEmpty ? 0 : try await store.insert(messages)
        try await directory.updateSyncState(
            [SyncKey.historyId: latest, SyncKey.gapSince: "", SyncKey.syncedAt: ResyncPoint.encode(started), SyncKey.refusals: ""],
            for: connectionId
        )
        return CatchUpResult(inserted: inserted, resyncNeeded: resyncNeeded, skipped: skipped)
    }

    /// Calls `users.watch` on INBOX and SENT with `notificationURL` as the Pub/Sub topic, unless the
    /// last watch is not yet due for renewal (`renewAt`).
    public func ensureSubscription(connectionId: String, notificationURL: String, clientState: String) async throws
        -> SubscriptionStatus
    {
        let mailbox = try await mailbox(connectionId)
        let now = clock.now()
        let state = try await directory.syncState(for: connectionId)
        func date(_ key: String) -> Date? {
            state[key].flatMap(Int64.init).map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) }
        }
        let current = date(SyncKey.watchExpiresAt)
        // One saved before the renewal time was kept was a 7-day watch.
        if let current, case let renewAt = date(Self.watchRenewAtSyncKey) ?? Self.renewAt(current, lifetime: Self.watchLifetime),
           now < renewAt, now < current {
            return SubscriptionStatus(id: "watch", expiresAt: current, changed: false, renewAt: renewAt)
        }
        let route = "gmail POST watch"
        let body = try JSONEncoder().encode(
            WatchRequest(topicName: notificationURL, labelIds: GmailCursor.labels, labelFilterBehavior: "include")
        )
        let response = try await send(mailbox, method: "POST", url: mailbox.watch, body: body, route: route)
        let watch = try ResponseDecoding.decode(WatchResponse.self, from: response.body, route: route)
        guard let ms = Int64(watch.expiration) else {
            throw ProviderFailure.invalidResponse("\(route): unreadable expiration")
        }
        let expiresAt = Date(timeIntervalSince1970: TimeInterval(ms) / 1000)
        let renewAt = Self.renewAt(expiresAt, lifetime: expiresAt.timeIntervalSince(now))
        try await directory.updateSyncState(
            [SyncKey.watchExpiresAt: watch.expiration, Self.watchRenewAtSyncKey: String(Int64(renewAt.timeIntervalSince1970 * 1000))],
            for: connectionId
        )
        return SubscriptionStatus(
            id: "watch", expiresAt: expiresAt, changed: true, created: current.map { $0 <= now } ?? true, renewAt: renewAt
        )
    }

    /// A watch is made again once it is a day old (as Google advises), not only before it expires, or sooner
    /// when it was granted less (a time-compressed run): once a third of its lifetime is left.
    static func renewAt(_ expiresAt: Date, lifetime: TimeInterval) -> Date {
        expiresAt.addingTimeInterval(-max(lifetime / 3, lifetime - watchRenewalAge))
    }

    /// INBOX wins over SENT, as in the backfill; nil for mail in neither.
    private static func folder(for labels: Set<String>) -> FolderKind? {
        labels.contains("INBOX") ? .inbox : labels.contains("SENT") ? .sent : nil
    }

    private struct HistoryPage: Decodable {
        struct Record: Decodable {
            struct Added: Decodable {
                struct Message: Decodable {
                    var id: String
                    var labelIds: [String]?
                }
                var message: Message
            }
            var messagesAdded: [Added]?
        }
        var history: [Record]?
        var nextPageToken: String?
        var historyId: String?
    }

    private struct WatchRequest: Encodable {
        var topicName: String
        var labelIds: [String]
        var labelFilterBehavior: String
    }

    private struct WatchResponse: Decodable {
        var historyId: String?
        var expiration: String
    }
}
