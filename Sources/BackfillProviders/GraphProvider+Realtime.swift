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

    /// Runs the folders' delta rounds (the Inbox's first, then the others side by side), each from its stored link
    /// to a new `@odata.deltaLink`, stores the rounds' messages, then saves the new links (a failure saves none: the
    /// rounds are run again, and what they store again is already there). A dead link (410 / SyncStateNotFound) is replaced by a fresh round
    /// from the last catch-up (`ResyncPoint`), run at once, so an expired cursor leaves no gap; it is reported.
    public func catchUp(connectionId: String, into store: any MessageStore) async throws -> CatchUpResult {
        let mailbox = try await mailbox(connectionId)
        guard let folders = try await storedFolders(connectionId) else {
            try await ensureRealtimeCursors(mailbox, folders: resolveFolders(mailbox), since: clock.now())
            return CatchUpResult(inserted: 0, resyncNeeded: false)
        }
        let state = try await directory.syncState(for: connectionId)
        let started = clock.now()
        @Sendable func round(_ folder: GraphFolder) async throws -> (round: DeltaRound, resynced: Bool) {
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
        let rounds = folders.isEmpty ? [] : [try await round(folders[0])] + (try await concurrently(Array(folders.dropFirst()), round))
        let messages = rounds.flatMap(\.round.messages)
        let inserted = messages.isEmpty ? 0 : try await store.insert(messages)
        var links = [SyncKey.syncedAt: ResyncPoint.encode(started)]
        for (folder, result) in zip(folders, rounds) { links[SyncKey.delta(folder.id)] = result.round.deltaLink }
        try await directory.updateSyncState(links, for: connectionId)
        return CatchUpResult(inserted: inserted, resyncNeeded: rounds.contains(where: \.resynced))
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

    private func deltaRound(_ mailbox: GraphMailbox, folder: GraphFolder, from link: String) async throws -> DeltaRound {
        var url = link
        var messages: [StoredMessage] = []
        while true {
            let page: GraphPage<GraphMessage> = try await get(mailbox, url: url, route: "graph GET messages/delta")
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
