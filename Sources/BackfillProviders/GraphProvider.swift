import BackfillCore
import BackfillHTTP
import Foundation

/// Microsoft Graph mail: backfills Inbox (with every folder under it) and Sent Items by date window,
/// newest first, following `@odata.nextLink` verbatim; immutable ids on every request.
public struct GraphProvider: MailProvider {
    /// Sync-state fields (in the `ConnectionDirectory`) this provider owns.
    enum SyncKey {
        static let folders = "graph.folders"
        static func delta(_ folderId: String) -> String { "graph.delta.\(folderId)" }
        static let subscriptionId = "graph.subscriptionId"
        static let subscriptionExpiresAt = "graph.subscriptionExpiresAt"
    }

    let endpoints: ProviderEndpoints
    let directory: any ConnectionDirectory
    let api: AuthorizedTransport
    let clock: any WallClock
    let pageSize: Int
    /// Waits out short throttles (Retry-After) per mailbox instead of failing the call that met them.
    let pacer: MailboxPacer

    /// - Parameters:
    ///   - retryGate: the mailboxes' Retry-After gate; servers pass the one all instances share.
    ///   - pageSize: messages per page (`Prefer: odata.maxpagesize`).
    public init(
        endpoints: ProviderEndpoints, directory: any ConnectionDirectory, http: HTTPClient, slots: any RequestSlots,
        retryGate: any RetryGate = LocalRetryGate(), clock: any WallClock = SystemWallClock(), pageSize: Int = 100
    ) {
        self.pacer = MailboxPacer(.init(maxConcurrent: 4, unitsPerMinute: nil), gate: retryGate, metrics: ProviderRequestMetrics(provider: "graph"))
        let transport = ProviderTransport(http: http, slots: slots)
        self.endpoints = endpoints
        self.directory = directory
        self.api = AuthorizedTransport(
            transport: transport,
            tokens: OAuthTokenSource(client: .microsoft(endpoints), directory: directory, transport: transport, clock: clock)
        )
        self.clock = clock
        self.pageSize = pageSize
    }

    public func prepare(_ job: BackfillJob) async throws -> BackfillPreparation {
        let mailbox = try await mailbox(job.connectionId)
        let folders = try await resolveFolders(mailbox)
        try await ensureRealtimeCursors(mailbox, folders: folders, since: job.window.end)
        var total = 0
        for folder in folders {
            let response = try await send(
                mailbox, url: mailbox.count(in: folder.id, window: job.window), route: "graph GET messages/$count",
                extraHeaders: [("ConsistencyLevel", "eventual")]
            )
            let text = String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let count = Int(text), count >= 0 else {
                throw ProviderFailure.invalidResponse("graph GET messages/$count: not a count")
            }
            total += count
        }
        return BackfillPreparation(estimatedTotal: total)
    }

    public func fetchPage(_ job: BackfillJob, cursor: String?) async throws -> BackfillPage {
        let mailbox = try await mailbox(job.connectionId)
        var position: GraphCursor
        if let cursor {
            position = try GraphCursor.decode(cursor)
        } else {
            let folders = try await resolveFolders(mailbox)
            guard !folders.isEmpty else { return BackfillPage(messages: [], nextCursor: nil) }
            position = GraphCursor(folders: folders, index: 0, nextLink: nil)
        }
        let folder = position.folders[position.index]
        let url = position.nextLink ?? mailbox.messages(in: folder.id, window: job.window)
        let page: GraphPage<GraphMessage> = try await get(mailbox, url: url, route: "graph GET mailFolders/messages")
        let messages = try page.value.filter(\.isStorable).map { item in
            guard let message = item.stored(connectionId: job.connectionId, folder: folder.kind, source: .backfill) else {
                throw ProviderFailure.invalidResponse("graph GET mailFolders/messages: message without receivedDateTime")
            }
            return message
        }
        if let nextLink = page.nextLink {
            position.nextLink = nextLink
        } else if position.index + 1 < position.folders.count {
            position.index += 1
            position.nextLink = nil
        } else {
            return BackfillPage(messages: messages, nextCursor: nil)
        }
        return BackfillPage(messages: messages, nextCursor: position.encoded())
    }

    /// Makes sure the real-time cursors exist (they normally do, from `prepare`).
    public func finish(_ job: BackfillJob) async throws {
        let mailbox = try await mailbox(job.connectionId)
        let folders: [GraphFolder]
        if let stored = try await storedFolders(job.connectionId) {
            folders = stored
        } else {
            folders = try await resolveFolders(mailbox)
        }
        try await ensureRealtimeCursors(mailbox, folders: folders, since: job.window.end)
    }

    // MARK: Mailbox and folders

    func mailbox(_ connectionId: String) async throws -> GraphMailbox {
        guard let connection = try await directory.connection(connectionId) else {
            throw ProviderFailure.permissionLost("unknown connection")
        }
        let path = connection.parentId == nil ? "/me" : "/users/\(FormEncoding.escape(connection.address))"
        return GraphMailbox(
            connectionId: connectionId, credentialsOwner: connection.parentId ?? connectionId,
            baseURL: endpoints.graphBaseURL, path: path
        )
    }

    /// Inbox, every folder under it (the folder list is not recursive, so the tree is walked), then Sent Items.
    func resolveFolders(_ mailbox: GraphMailbox) async throws -> [GraphFolder] {
        let inbox: GraphFolderItem = try await get(mailbox, url: mailbox.wellKnownFolder("inbox"), route: "graph GET mailFolders/inbox")
        var folders = [GraphFolder(id: inbox.id, kind: .inbox)]
        var pending = (inbox.childFolderCount ?? 1) > 0 ? [inbox.id] : []
        while let parent = pending.popLast() {
            var url: String? = mailbox.childFolders(of: parent)
            while let next = url {
                let page: GraphPage<GraphFolderItem> = try await get(mailbox, url: next, route: "graph GET mailFolders/childFolders")
                for child in page.value {
                    folders.append(GraphFolder(id: child.id, kind: .inbox))
                    if (child.childFolderCount ?? 1) > 0 { pending.append(child.id) }
                }
                url = page.nextLink
            }
        }
        let sent: GraphFolderItem = try await get(mailbox, url: mailbox.wellKnownFolder("sentitems"), route: "graph GET mailFolders/sentitems")
        folders.append(GraphFolder(id: sent.id, kind: .sent))
        return folders
    }

    func storedFolders(_ connectionId: String) async throws -> [GraphFolder]? {
        guard let text = try await directory.syncState(for: connectionId)[SyncKey.folders] else { return nil }
        return try? JSONDecoder().decode([GraphFolder].self, from: Data(text.utf8))
    }

    /// Records the folders and, for each folder without one, a delta cursor starting at `since`. The
    /// cursor is the round's first request; the first catch-up runs it, so mail received after `since`
    /// but before that catch-up is delivered rather than skipped.
    func ensureRealtimeCursors(_ mailbox: GraphMailbox, folders: [GraphFolder], since: Date) async throws {
        let state = try await directory.syncState(for: mailbox.connectionId)
        var changes = [SyncKey.folders: String(decoding: try JSONEncoder().encode(folders), as: UTF8.self)]
        for folder in folders where (state[SyncKey.delta(folder.id)] ?? "").isEmpty {
            changes[SyncKey.delta(folder.id)] = mailbox.delta(in: folder.id, since: since)
        }
        try await directory.updateSyncState(changes, for: mailbox.connectionId)
    }

    // MARK: Requests

    /// Sends with `Prefer: IdType="ImmutableId"` and the page size; throws the classified failure for any
    /// status but 2xx.
    func send(
        _ mailbox: GraphMailbox, method: String = "GET", url: String, body: Data? = nil, route: String,
        extraHeaders: [(String, String)] = []
    ) async throws -> HTTPResponse {
        var headers: HTTPHeaders = [
            "Prefer": "IdType=\"ImmutableId\", odata.maxpagesize=\(pageSize)",
            "Accept": "application/json",
        ]
        for (name, value) in extraHeaders { headers.replace(name, value) }
        let request = ProviderRequest(method: method, url: url, headers: headers, body: body, route: route)
        return try await pacer.send(mailbox: mailbox.connectionId, cost: 1) { [api] in
            try await api.send(request, mailbox: mailbox.connectionId, owner: mailbox.credentialsOwner)
        } failure: { response in
            (200..<300).contains(response.status) ? nil : GraphErrorClassifier.failure(for: response, route: route, now: clock.now())
        }
    }

    func get<T: Decodable>(_ mailbox: GraphMailbox, url: String, route: String) async throws -> T {
        let response = try await send(mailbox, url: url, route: route)
        return try ResponseDecoding.decode(T.self, from: response.body, route: route)
    }
}
