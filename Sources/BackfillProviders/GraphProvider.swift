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
        /// Ms since 1970: when the last completed catch-up began (or the cursors were first taken); see `ResyncPoint`.
        static let syncedAt = "graph.syncedAt"
        static let subscriptionExpiresAt = "graph.subscriptionExpiresAt"
        /// Ms since 1970: when `folders` was last read from the mailbox (the catch-up reads it again when it is old).
        static let foldersAt = "graph.foldersAt"
    }

    let endpoints: ProviderEndpoints
    let directory: any ConnectionDirectory
    let api: ProviderRequestSender
    let clock: any WallClock
    let pageSize: Int

    /// Requests in flight per mailbox: admission's bound, and the streams a backfill page lists at once
    /// (Graph refuses a fifth concurrent request to a mailbox).
    static let requestsInFlight = AdmissionPolicy.requestsInFlightPerMailbox
    /// The largest page Graph serves a message listing (`$top` 1–1000; `Prefer: odata.maxpagesize` is capped there):
    /// every page is a round trip at the mailbox's 4 in flight, so fewer pages is less time.
    public static let largestPage = 1000
    /// Streams a backfill is cut into (when the mailbox holds a page per stream or more): twice the requests
    /// in flight, so the page that ends one stream can start the next while most streams still have pages.
    static let plannedStreams = 8

    /// - Parameters:
    ///   - admission: the mailboxes' shared Retry-After gate and request slots; servers pass the one all
    ///     instances share.
    ///   - pageSize: messages per page (`Prefer: odata.maxpagesize`).
    public init(
        endpoints: ProviderEndpoints, directory: any ConnectionDirectory, http: HTTPClient,
        admission: any SharedAdmission = LocalSharedAdmission(), clock: any WallClock = SystemWallClock(),
        pageSize: Int = GraphProvider.largestPage
    ) {
        let transport = ProviderTransport(http: http)
        self.endpoints = endpoints
        self.directory = directory
        self.api = ProviderRequestSender(
            transport: transport, shared: admission,
            admissions: MailboxAdmissions(policy: AdmissionPolicy(maxConcurrent: Self.requestsInFlight)),
            inFlightLimit: Self.requestsInFlight,
            tokens: OAuthTokenSource(client: .microsoft(endpoints), directory: directory, transport: transport, clock: clock),
            appTokens: endpoints.msApp.flatMap { app in
                endpoints.msAppTokenURL.map { AppTokenSource(app: app, tokenURL: $0, transport: transport, clock: clock) }
            },
            metrics: ProviderRequestMetrics(provider: "graph")
        )
        self.clock = clock
        self.pageSize = pageSize
    }

    /// Resolves the folders, takes the real-time cursors, counts each folder's window and cuts it into streams:
    /// the first page starts from the cursor this returns, so nothing is looked up twice.
    public func prepare(_ job: BackfillJob) async throws -> BackfillPreparation {
        let mailbox = try await mailbox(job.connectionId)
        let folders = try await resolveFolders(mailbox)
        try await ensureRealtimeCursors(mailbox, folders: folders, since: job.window.end)
        let counts = try await counts(mailbox, folders: folders, window: job.window)
        let cursor = GraphCursor(
            folders: folders, streams: try await streams(mailbox, folders: folders, window: job.window, counts: counts)
        )
        return BackfillPreparation(estimatedTotal: counts.reduce(0, +), firstCursor: cursor.isFinished ? nil : cursor.encoded())
    }

    /// Lists the next page of up to `requestsInFlight` streams side by side and returns their messages
    /// together: one page, committed whole or not at all (a stream that fails fails the page).
    public func fetchPage(_ job: BackfillJob, cursor: String?) async throws -> BackfillPage {
        let mailbox = try await mailbox(job.connectionId)
        var position: GraphCursor
        if let cursor {
            position = try GraphCursor.decode(cursor, window: job.window)
        } else {
            // A slice that ended before its first commit: the preparation's folders are stored, its cuts are not.
            var folders = try await storedFolders(job.connectionId) ?? []
            if folders.isEmpty { folders = try await resolveFolders(mailbox) }
            let counts = try await counts(mailbox, folders: folders, window: job.window)
            position = GraphCursor(folders: folders, streams: try await streams(mailbox, folders: folders, window: job.window, counts: counts))
        }
        let active = position.activeStreams(limit: Self.requestsInFlight)
        let requests = active.map { index in
            let stream = position.streams[index]
            return stream.nextLink ?? mailbox.messages(in: position.folders[stream.folder].id, window: stream.window)
        }
        let route = "graph GET mailFolders/messages"
        let responses = try await concurrently(requests) { url in try await send(mailbox, url: url, route: route, allowing: [404]) }
        if let notFound = responses.first(where: { $0.status == 404 }) {
            try await dropDeletedFolders(mailbox, &position, streams: zip(active, responses).filter { $0.1.status == 404 }.map(\.0),
                                         failure: GraphErrorClassifier.failure(for: notFound, route: route, now: clock.now()))
        }
        var messages: [StoredMessage] = []
        var skipped: [SkippedMessage] = []
        for (index, response) in zip(active, responses) where response.status != 404 {
            let page = try ResponseDecoding.decode(GraphPage<GraphMessage>.self, from: response.body, route: route)
            let kind = position.folders[position.streams[index].folder].kind
            for item in page.value where item.isStorable {
                guard let message = item.stored(connectionId: job.connectionId, folder: kind, source: .backfill) else {
                    // One unreadable item is the message's trouble, not the page's: it is skipped and listed.
                    skipped.append(SkippedMessage(
                        providerMessageId: item.id, folder: kind,
                        failure: .invalidResponse("graph GET mailFolders/messages: message without a usable id or receivedDateTime")
                    ))
                    continue
                }
                messages.append(message)
            }
            position.streams[index].advance(to: page.nextLink)
        }
        return BackfillPage(messages: messages, nextCursor: position.isFinished ? nil : position.encoded(), skipped: skipped)
    }

    /// Some of the page's streams answered 404: a folder deleted since the preparation read the tree (its mail went
    /// to Deleted Items, which a backfill does not pull), and then every stream of it is done; or a 404 `failure`
    /// stands (a folder just made can answer 404 for a moment, a mailbox that is gone always does).
    private func dropDeletedFolders(
        _ mailbox: GraphMailbox, _ position: inout GraphCursor, streams notFound: [Int], failure: ProviderFailure
    ) async throws {
        guard case .transient = failure else { throw failure }
        let current = Set(try await resolveFolders(mailbox).map(\.id))
        let deleted = Set(notFound.map { position.streams[$0].folder }.filter { !current.contains(position.folders[$0].id) })
        guard notFound.allSatisfy({ deleted.contains(position.streams[$0].folder) }) else { throw failure }
        for index in position.streams.indices where deleted.contains(position.streams[index].folder) {
            position.streams[index].advance(to: nil)
        }
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
        guard let connection = try await RoutedConnection.connection(connectionId, in: directory) else {
            throw ProviderFailure.permissionLost("unknown connection")
        }
        if connection.auth == .app {
            // No stored tokens to remove: a disconnect shows only in the health.
            guard connection.health != .disconnected else {
                throw ProviderFailure.tokenExpired("the mailbox was disconnected; connect it again")
            }
            return GraphMailbox(
                connectionId: connectionId, credentialsOwner: connectionId, baseURL: endpoints.graphBaseURL,
                path: "/users/\(FormEncoding.escape(connection.address))", appOnly: true
            )
        }
        let path = connection.parentId == nil ? "/me" : "/users/\(FormEncoding.escape(connection.address))"
        return GraphMailbox(
            connectionId: connectionId, credentialsOwner: connection.parentId ?? connectionId,
            baseURL: endpoints.graphBaseURL, path: path
        )
    }

    /// Inbox, every folder under it (the folder list is not recursive, so the tree is walked a level at a time),
    /// then Sent Items. The Inbox goes alone, as a backfill's first request: a mailbox that is being throttled says
    /// so before several requests are on the wire (one sent when a sibling's 429 is answered reaches Graph inside
    /// its Retry-After). Then Sent Items and the Inbox's children go side by side, each deeper level's folders too.
    func resolveFolders(_ mailbox: GraphMailbox) async throws -> [GraphFolder] {
        let inbox: GraphFolderItem = try await get(mailbox, url: mailbox.wellKnownFolder("inbox"), route: "graph GET mailFolders/inbox")
        async let sent: GraphFolderItem = get(mailbox, url: mailbox.wellKnownFolder("sentitems"), route: "graph GET mailFolders/sentitems")
        var folders = [GraphFolder(id: inbox.id, kind: .inbox)]
        var level = (inbox.childFolderCount ?? 1) > 0 ? [inbox.id] : []
        while !level.isEmpty {
            let children = try await concurrently(level) { parent in try await childFolders(mailbox, of: parent) }.flatMap { $0 }
            folders += children.map { GraphFolder(id: $0.id, kind: .inbox) }
            level = children.filter { ($0.childFolderCount ?? 1) > 0 }.map(\.id)
        }
        return folders + [GraphFolder(id: try await sent.id, kind: .sent)]
    }

    /// Every page of a folder's children.
    private func childFolders(_ mailbox: GraphMailbox, of parent: String) async throws -> [GraphFolderItem] {
        var children: [GraphFolderItem] = []
        var url: String? = mailbox.childFolders(of: parent)
        while let next = url {
            let page: GraphPage<GraphFolderItem> = try await get(mailbox, url: next, route: "graph GET mailFolders/childFolders")
            children += page.value
            url = page.nextLink
        }
        return children
    }

    // MARK: Streams

    /// Cuts each folder's window (of `counts` messages) into streams of about `streamSize` messages, newest
    /// first: at least one page each, and about `plannedStreams` in all, so a page keeps `requestsInFlight` busy
    /// until near the end even when one folder (a large Inbox) holds most of the mail. The cuts are the received
    /// times of messages at evenly spaced ranks, and the start of the newest week in a folder of more than a page
    /// (so every folder's newest week comes before anything older); each cut is the end of one sub-window and the start of the next, so they
    /// partition the window exactly whatever the cut lands on.
    func streams(_ mailbox: GraphMailbox, folders: [GraphFolder], window: DateWindow, counts: [Int]) async throws -> [GraphStream] {
        // Whole pages a stream (a little under, so a count that drifts up does not add a page of a few messages).
        let fullPage = max(pageSize * 19 / 20, 1)
        let perStream = (counts.reduce(0, +) + Self.plannedStreams - 1) / Self.plannedStreams
        let streamSize = fullPage * max(1, (perStream + fullPage - 1) / fullPage)
        let probes = counts.enumerated().flatMap { folder, count in
            let pieces = max(1, (count + streamSize - 1) / streamSize)
            return (1..<pieces).map { (folder: folder, rank: count * $0 / pieces) }
        }
        let cuts = try await concurrently(probes) { probe in
            (probe.folder, try await receivedTime(mailbox, ofRank: probe.rank, in: folders[probe.folder], window: window))
        }
        let newestWeek = window.newestFirst().first?.start
        var streams: [GraphStream] = []
        for folder in folders.indices {
            // A folder that fits one page comes whole in the first page anyway: cutting its week off would only
            // add a request.
            let weekCut = counts[folder] > fullPage ? [newestWeek].compactMap { $0 } : []
            let inside = (cuts.compactMap { $0.0 == folder ? $0.1 : nil } + weekCut)
                .filter { window.start < $0 && $0 < window.end }
            var end = window.end
            for cut in Set(inside).sorted(by: >) {
                streams.append(GraphStream(folder: folder, window: DateWindow(start: cut, end: end)))
                end = cut
            }
            streams.append(GraphStream(folder: folder, window: DateWindow(start: window.start, end: end)))
        }
        // Newest sub-windows first (every folder's newest piece ends at the window's end), folders in order.
        return streams.sorted { ($0.window.end, $1.folder) > ($1.window.end, $0.folder) }
    }

    /// Each folder's messages in the window, side by side.
    func counts(_ mailbox: GraphMailbox, folders: [GraphFolder], window: DateWindow) async throws -> [Int] {
        try await concurrently(folders) { folder in
            let response = try await send(
                mailbox, url: mailbox.count(in: folder.id, window: window), route: "graph GET messages/$count",
                extraHeaders: [("ConsistencyLevel", "eventual")]
            )
            let text = String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let count = Int(text), count >= 0 else {
                throw ProviderFailure.invalidResponse("graph GET messages/$count: not a count")
            }
            return count
        }
    }

    /// nil when the rank is past the folder's end (the count was behind).
    func receivedTime(_ mailbox: GraphMailbox, ofRank rank: Int, in folder: GraphFolder, window: DateWindow) async throws -> Date? {
        let route = "graph GET mailFolders/messages (cut)"
        let page: GraphPage<GraphMessage> = try await get(
            mailbox, url: mailbox.receivedTime(ofRank: rank, in: folder.id, window: window), route: route
        )
        guard let item = page.value.first else { return nil }
        guard let text = item.receivedDateTime, let date = GraphDate.parse(text) else {
            throw ProviderFailure.invalidResponse("\(route): message without receivedDateTime")
        }
        return date
    }

    /// `body` over `items`, at most `requestsInFlight` at a time (admission's bound: more would only wait
    /// there); results in the order of `items`. The first failure cancels the rest and is thrown.
    func concurrently<Item: Sendable, Result: Sendable>(
        _ items: [Item], _ body: @escaping @Sendable (Item) async throws -> Result
    ) async throws -> [Result] {
        try await withThrowingTaskGroup(of: (Int, Result).self) { group in
            var results = [Result?](repeating: nil, count: items.count)
            for (index, item) in items.enumerated() {
                if index >= Self.requestsInFlight, let (finished, result) = try await group.next() {
                    results[finished] = result
                }
                group.addTask { (index, try await body(item)) }
            }
            for try await (finished, result) in group {
                results[finished] = result
            }
            return results.compactMap { $0 }
        }
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
        var changes = [
            SyncKey.folders: String(decoding: try JSONEncoder().encode(folders), as: UTF8.self),
            SyncKey.foldersAt: ResyncPoint.encode(clock.now()),
        ]
        for folder in folders where (state[SyncKey.delta(folder.id)] ?? "").isEmpty {
            changes[SyncKey.delta(folder.id)] = mailbox.delta(in: folder.id, since: since)
        }
        if (state[SyncKey.syncedAt] ?? "").isEmpty { changes[SyncKey.syncedAt] = ResyncPoint.encode(since) }
        try await directory.updateSyncState(changes, for: mailbox.connectionId)
    }

    // MARK: Requests

    /// Sends with `Prefer: IdType="ImmutableId"` and the page size; throws the classified failure for any
    /// status but 2xx and those in `allowing`.
    func send(
        _ mailbox: GraphMailbox, method: String = "GET", url: String, body: Data? = nil, route: String,
        extraHeaders: [(String, String)] = [], allowing: Set<Int> = []
    ) async throws -> HTTPResponse {
        var headers: HTTPHeaders = [
            "Prefer": "IdType=\"ImmutableId\", odata.maxpagesize=\(pageSize)",
            "Accept": "application/json",
        ]
        for (name, value) in extraHeaders { headers.replace(name, value) }
        let request = ProviderRequest(method: method, url: url, headers: headers, body: body, route: route)
        return try await api.send(request, mailbox: mailbox.connectionId, as: mailbox.tokenOwner) { response in
            (200..<300).contains(response.status) || allowing.contains(response.status)
                ? nil : GraphErrorClassifier.failure(for: response, route: route, now: clock.now())
        }
    }

    func get<T: Decodable>(_ mailbox: GraphMailbox, url: String, route: String) async throws -> T {
        let response = try await send(mailbox, url: url, route: route)
        return try ResponseDecoding.decode(T.self, from: response.body, route: route)
    }
}
