import BackfillCore
import BackfillHTTP
import Foundation

extension GraphProvider: RealtimeSync {
    /// Subscriptions last under Graph's 10,080-minute maximum for Outlook messages.
    static let subscriptionLifetime: TimeInterval = 10_000 * 60
    /// Renewed when a third of the lifetime Graph granted is left, at most a day before it expires: a day ahead
    /// for Graph's week-long subscriptions, in time for short ones (a time-compressed run's).
    static func renewalMargin(lifetime: TimeInterval) -> TimeInterval {
        min(max(lifetime, 0) / 3, 24 * 3600)
    }
    /// The sync-state field holding when the subscription is due for renewal (set from the granted lifetime).
    static let renewAtSyncKey = "graph.subscriptionRenewAt"
    /// The sync-state field where the webhook records the last lifecycle event Graph sent for a subscription.
    public static let lifecycleSyncKey = "graph.lifecycle"
    /// Lifecycle events after which the subscription no longer delivers until it is made anew.
    public static let lapsingLifecycleEvents: Set<String> = ["subscriptionRemoved", "reauthorizationRequired"]

    /// How often a catch-up reads the mailbox's folder tree again, so a folder made under the Inbox since (a rule's
    /// "Inbox/Invoices") is synced too: about 3 requests a mailbox an hour. A deleted folder is noticed at once (its
    /// round fails).
    static let folderRefreshInterval: TimeInterval = 3600

    /// Runs the folders' delta rounds (the Inbox's first, then the others side by side), each from its stored link
    /// to a new `@odata.deltaLink`, stores the rounds' messages, then saves the new links (a failure saves none: the
    /// rounds are run again, and what they store again is already there). A dead link (410 / SyncStateNotFound) is replaced by a fresh round
    /// from the last catch-up (`ResyncPoint`), run at once, so an expired cursor leaves no gap; it is reported.
    /// The folder tree is read again when it is older than `folderRefreshInterval`, and when a round answers 404
    /// `ErrorItemNotFound` (a deleted folder; also, for a moment, a folder just made): a new folder is synced from
    /// when the tree was read before, a deleted one is dropped.
    public func catchUp(connectionId: String, into store: any MessageStore) async throws -> CatchUpResult {
        let mailbox = try await mailbox(connectionId)
        guard var folders = try await storedFolders(connectionId) else {
            try await ensureRealtimeCursors(mailbox, folders: resolveFolders(mailbox), since: clock.now())
            return CatchUpResult(inserted: 0, resyncNeeded: false)
        }
        var state = try await directory.syncState(for: connectionId)
        let started = clock.now()
        var refreshed = false
        var links = [SyncKey.syncedAt: ResyncPoint.encode(started)]
        /// Reads the tree again; the links of new and deleted folders go with this catch-up's.
        func refreshFolders() async throws {
            let (current, changes) = try await refreshedFolders(mailbox, stored: folders, state: state, now: started)
            folders = current
            state.merge(changes) { _, new in new }
            links.merge(changes) { _, new in new }
            refreshed = true
        }
        let readAt = state[SyncKey.foldersAt].flatMap(Int64.init).map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) }
        if readAt.map({ started.timeIntervalSince($0) >= Self.folderRefreshInterval }) ?? true { try await refreshFolders() }
        /// One folder's round from its link in `state` (the sync state with the refresh's new links).
        @Sendable func round(_ folder: GraphFolder, _ state: [String: String]) async throws -> (round: DeltaRound, resynced: Bool) {
            let start = state[SyncKey.delta(folder.id)].flatMap { $0.isEmpty ? nil : $0 }
            do {
                return (try await deltaRound(mailbox, folder: folder, from: start ?? mailbox.delta(in: folder.id, since: started)), false)
            } catch ProviderFailure.cursorExpired {
                let resyncFrom = ResyncPoint.start(syncedAt: state[SyncKey.syncedAt], now: started)
                return (try await deltaRound(mailbox, folder: folder, from: mailbox.delta(in: folder.id, since: resyncFrom)), true)
            }
        }
        // The Inbox's round goes alone first, as in `resolveFolders`: a refused token or a throttle shows on one
        // request, not on one per folder.
        func rounds() async throws -> [(round: DeltaRound, resynced: Bool)] {
            guard let inbox = folders.first else { return [] }
            let links = state
            return [try await round(inbox, links)] + (try await concurrently(Array(folders.dropFirst())) { try await round($0, links) })
        }
        var results: [(round: DeltaRound, resynced: Bool)]
        while true {
            do {
                results = try await rounds()
                break
            } catch let notFound as FolderNotFound {
                // Deleted since the tree was read? Read it again, once, and run the rounds over it. Read already, or
                // unchanged, the 404 stands: a folder just made can answer it for a moment (tried after the backoff).
                let before = folders
                if !refreshed { try await refreshFolders() }
                guard folders != before else { throw ProviderFailure.transient(notFound.detail) }
            }
        }
        let messages = results.flatMap(\.round.messages)
        let inserted = messages.isEmpty ? 0 : try await store.insert(messages)
        for (folder, result) in zip(folders, results) { links[SyncKey.delta(folder.id)] = result.round.deltaLink }
        try await directory.updateSyncState(links, for: connectionId)
        return CatchUpResult(inserted: inserted, resyncNeeded: results.contains(where: \.resynced))
    }

    /// The folder tree as the mailbox has it now, and the sync-state changes that go with it: a new folder's round
    /// starts from when the tree was read before (`ResyncPoint`'s margin included), so mail a rule put there since
    /// is delivered; a deleted folder's link is removed (its mail went to Deleted Items, which is not synced).
    private func refreshedFolders(
        _ mailbox: GraphMailbox, stored: [GraphFolder], state: [String: String], now: Date
    ) async throws -> (folders: [GraphFolder], changes: [String: String]) {
        let current = try await resolveFolders(mailbox)
        let since = ResyncPoint.start(syncedAt: state[SyncKey.foldersAt] ?? state[SyncKey.syncedAt], now: now)
        var changes = [
            SyncKey.folders: String(decoding: try JSONEncoder().encode(current), as: UTF8.self),
            SyncKey.foldersAt: ResyncPoint.encode(now),
        ]
        let currentIds = Set(current.map(\.id))
        for folder in current where (state[SyncKey.delta(folder.id)] ?? "").isEmpty {
            changes[SyncKey.delta(folder.id)] = mailbox.delta(in: folder.id, since: since)
        }
        for folder in stored where !currentIds.contains(folder.id) { changes[SyncKey.delta(folder.id)] = "" }
        return (current, changes)
    }

    public func ensureSubscription(connectionId: String, notificationURL: String, clientState: String) async throws
        -> SubscriptionStatus
    {
        let mailbox = try await mailbox(connectionId)
        let state = try await directory.syncState(for: connectionId)
        let now = clock.now()
        let expiresAt = now.addingTimeInterval(Self.subscriptionLifetime)
        // Graph said the subscription was removed or must be authorized again: make a new one.
        let lapsed = Self.lapsingLifecycleEvents.contains(state[Self.lifecycleSyncKey] ?? "")
        if let id = state[SyncKey.subscriptionId], !id.isEmpty, !lapsed {
            let current = state[SyncKey.subscriptionExpiresAt].flatMap(GraphDate.parse)
            // One saved before the renewal time was kept: a day ahead, as the lifetime asked for gives.
            let renewAt = state[Self.renewAtSyncKey].flatMap(GraphDate.parse)
                ?? current?.addingTimeInterval(-Self.renewalMargin(lifetime: Self.subscriptionLifetime))
            if let current, let renewAt, now < renewAt, now < current {
                return SubscriptionStatus(id: id, expiresAt: current, changed: false, renewAt: renewAt)
            }
            do {
                let body = try JSONEncoder().encode(["expirationDateTime": GraphDate.format(expiresAt)])
                let response = try await send(
                    mailbox.subscriptionCaller, method: "PATCH", url: "\(endpoints.graphBaseURL)/subscriptions/\(FormEncoding.escape(id))",
                    body: body, route: "graph PATCH subscriptions", extraHeaders: [("Content-Type", "application/json")]
                )
                // Graph answers with the subscription as renewed: its expiry is what was granted.
                let granted = (try? JSONDecoder().decode(CreatedSubscription.self, from: response.body))?.expirationDateTime
                    .flatMap(GraphDate.parse) ?? expiresAt
                let renewAt = try await saveSubscription(id: id, expiresAt: granted, now: now, connectionId: connectionId)
                return SubscriptionStatus(id: id, expiresAt: granted, changed: true, renewAt: renewAt)
            } catch ProviderFailure.permissionLost, ProviderFailure.transient {
                // Gone (404) or not renewable: create a new one below.
            }
        }
        let request = SubscriptionRequest(
            changeType: "created", notificationUrl: notificationURL, lifecycleNotificationUrl: notificationURL,
            resource: mailbox.subscriptionResource,
            expirationDateTime: GraphDate.format(expiresAt), clientState: clientState
        )
        let response = try await send(
            mailbox.subscriptionCaller, method: "POST", url: "\(endpoints.graphBaseURL)/subscriptions", body: try JSONEncoder().encode(request),
            route: "graph POST subscriptions", extraHeaders: [("Content-Type", "application/json")]
        )
        let created = try ResponseDecoding.decode(CreatedSubscription.self, from: response.body, route: "graph POST subscriptions")
        let confirmedExpiry = created.expirationDateTime.flatMap(GraphDate.parse) ?? expiresAt
        let renewAt = try await saveSubscription(id: created.id, expiresAt: confirmedExpiry, now: now, connectionId: connectionId)
        if lapsed { try await directory.updateSyncState([Self.lifecycleSyncKey: ""], for: connectionId) }
        return SubscriptionStatus(id: created.id, expiresAt: confirmedExpiry, changed: true, created: true, renewAt: renewAt)
    }

    // MARK: Helpers

    /// One folder's delta pages from `link` to the round's `@odata.deltaLink`, and the messages they listed.
    private struct DeltaRound: Sendable {
        var messages: [StoredMessage]
        var deltaLink: String
    }

    /// A round's folder answered 404 `ErrorItemNotFound`: deleted since the tree was read, or made a moment ago.
    private struct FolderNotFound: Error {
        var detail: String
    }

    private func deltaRound(_ mailbox: GraphMailbox, folder: GraphFolder, from link: String) async throws -> DeltaRound {
        var url = link
        var messages: [StoredMessage] = []
        let route = "graph GET messages/delta"
        while true {
            let response = try await send(mailbox, url: url, route: route, allowing: [404])
            if response.status == 404 {
                let failure = GraphErrorClassifier.failure(for: response, route: route, now: clock.now())
                // Any other 404 (a mailbox that is gone) is the classifier's.
                guard case .transient(let detail) = failure else { throw failure }
                throw FolderNotFound(detail: detail)
            }
            let page = try ResponseDecoding.decode(GraphPage<GraphMessage>.self, from: response.body, route: route)
            for item in page.value where item.isStorable {
                guard var message = item.stored(connectionId: mailbox.connectionId, folder: folder.kind, source: .realtime) else {
                    continue
                }
                // Delta ignores a nested `$select` on expanded attachments, so metadata is fetched apart.
                if item.hasAttachments == true {
                    message.attachments = try await attachments(mailbox, messageId: item.id)
                }
                messages.append(message)
            }
            if let deltaLink = page.deltaLink { return DeltaRound(messages: messages, deltaLink: deltaLink) }
            guard let next = page.nextLink else {
                throw ProviderFailure.invalidResponse("graph GET messages/delta: page without nextLink or deltaLink")
            }
            url = next
        }
    }

    private func attachments(_ mailbox: GraphMailbox, messageId: String) async throws -> [AttachmentMetadata] {
        let page: GraphPage<GraphMessage.Attachment> = try await get(
            mailbox, url: mailbox.attachments(of: messageId), route: "graph GET messages/attachments"
        )
        return page.value.map(\.metadata)
    }

    /// Saves the subscription as granted at `now` and returns when it is due for renewal.
    private func saveSubscription(id: String, expiresAt: Date, now: Date, connectionId: String) async throws -> Date {
        let renewAt = expiresAt.addingTimeInterval(-Self.renewalMargin(lifetime: expiresAt.timeIntervalSince(now)))
        try await directory.updateSyncState([
            SyncKey.subscriptionId: id, SyncKey.subscriptionExpiresAt: GraphDate.format(expiresAt),
            Self.renewAtSyncKey: GraphDate.format(renewAt),
        ], for: connectionId)
        return renewAt
    }

    private struct SubscriptionRequest: Encodable {
        var changeType: String
        var notificationUrl: String
        /// Lifecycle events (`subscriptionRemoved`, `reauthorizationRequired`, `missed`) come to the same endpoint.
        var lifecycleNotificationUrl: String
        var resource: String
        var expirationDateTime: String
        var clientState: String
    }

    private struct CreatedSubscription: Decodable {
        var id: String
        var expirationDateTime: String?
    }
}
