import BackfillCore
import BackfillHTTP
import Foundation

/// Gmail: backfills the INBOX and SENT labels by date window, newest first. Each page lists up to
/// `listPageSize` ids and fetches those messages (`format=full` through a `fields` projection) with
/// bounded concurrency. A message carrying both labels is stored once, from the INBOX pass.
///
/// Every request goes through the mailbox's admission: the per-user quota is spent evenly, and a throttled
/// request waits out a short Retry-After and is sent again instead of failing its page. Pages are small
/// (100 ids by default) so that a page lost to a long throttle costs little; a smaller page costs one more
/// `messages.list` (5 units) per page, 1% of a 100-message page's 505 units.
public struct GmailProvider: MailProvider {
    enum SyncKey {
        static let historyId = "gmail.historyId"
        static let watchExpiresAt = "gmail.watchExpiresAt"
        /// Ms since 1970: mail received from then on predates the history cursor (it came between the backfill
        /// window's end and the cursor's taking); the next catch-up lists it by date, then removes this.
        static let gapSince = "gmail.gapSince"
        /// Ms since 1970: when the last completed catch-up began (or the cursor was taken); see `ResyncPoint`.
        static let syncedAt = "gmail.syncedAt"
    }

    /// A mailbox has 4 request slots across all instances (`SharedAdmission`): more fetches in flight would
    /// only wait on slots, each holding a place and quota units while it waits.
    public static let maxFetchConcurrency = AdmissionPolicy.requestsInFlightPerMailbox

    let endpoints: ProviderEndpoints
    let directory: any ConnectionDirectory
    let api: ProviderRequestSender
    let clock: any WallClock
    let listPageSize: Int
    let fetchConcurrency: Int
    let pageBudget: Duration
    /// The per-user quota before pacing (the duration estimate's limit).
    let quotaUnitsPerMinute: Int

    /// - Parameters:
    ///   - listPageSize: ids per `messages.list` page (≤ 500), hence messages per backfill page.
    ///   - admission: the mailboxes' shared Retry-After gate and request slots; servers pass the one all
    ///     instances share.
    ///   - fetchConcurrency: message fetches in flight at once, at most `maxFetchConcurrency`.
    ///   - pageBudget: how long a page may take before it is cut short (well inside the scheduler's lease).
    ///   - quotaUnitsPerMinute: the per-user quota (Gmail's is 15,000 units a minute). Requests are paced at
    ///     97% of it: the provider's window and this process's clock never line up exactly.
    public init(
        endpoints: ProviderEndpoints, directory: any ConnectionDirectory, http: HTTPClient,
        admission: any SharedAdmission = LocalSharedAdmission(), clock: any WallClock = SystemWallClock(), listPageSize: Int = 100,
        fetchConcurrency: Int = GmailProvider.maxFetchConcurrency,
        pageBudget: Duration = .seconds(2), quotaUnitsPerMinute: Int = AdmissionPolicy.gmailQuotaUnitsPerMinute
    ) {
        let transport = ProviderTransport(http: http)
        let fetchConcurrency = min(max(fetchConcurrency, 1), Self.maxFetchConcurrency)
        self.endpoints = endpoints
        self.directory = directory
        self.api = ProviderRequestSender(
            transport: transport, shared: admission,
            admissions: MailboxAdmissions(policy: AdmissionPolicy(
                maxConcurrent: fetchConcurrency, unitsPerMinute: AdmissionPolicy.pacedUnitsPerMinute(quotaUnitsPerMinute)
            )),
            tokens: OAuthTokenSource(client: .google(endpoints), directory: directory, transport: transport, clock: clock),
            appTokens: nil,
            metrics: ProviderRequestMetrics(provider: "gmail")
        )
        self.clock = clock
        self.listPageSize = min(max(listPageSize, 1), 500)
        self.fetchConcurrency = fetchConcurrency
        self.pageBudget = pageBudget
        self.quotaUnitsPerMinute = quotaUnitsPerMinute
    }

    /// Takes the history cursor first (so nothing arriving during the backfill is missed), then counts
    /// the window's ids: INBOX ∪ SENT from the listing, exact at listing time (label totals have no dates,
    /// `resultSizeEstimate` is not a count).
    public func prepare(_ job: BackfillJob) async throws -> BackfillPreparation {
        let mailbox = try await mailbox(job.connectionId)
        try await ensureHistoryCursor(mailbox, gapSince: job.window.end)
        let ids = try await listedIds(mailbox, window: job.window).map(\.id)
        return BackfillPreparation(estimatedTotal: Set(ids).count)
    }

    /// Every id INBOX then SENT list in `window` (by `after:`/`before:`, whole seconds), with its label,
    /// newest first per label; an id in both comes twice.
    func listedIds(_ mailbox: GmailMailbox, window: DateWindow) async throws -> [(id: String, label: String)] {
        var ids: [(id: String, label: String)] = []
        for label in GmailCursor.labels {
            var pageToken: String?
            repeat {
                let page: GmailMessageList = try await get(
                    mailbox, url: mailbox.list(label: label, window: window, pageToken: pageToken, pageSize: 500),
                    route: "gmail GET messages.list"
                )
                ids += (page.messages ?? []).map { ($0.id, label) }
                pageToken = page.nextPageToken
            } while pageToken != nil
        }
        return ids
    }

    public func fetchPage(_ job: BackfillJob, cursor: String?) async throws -> BackfillPage {
        let mailbox = try await mailbox(job.connectionId)
        var position = try cursor.map(GmailCursor.decode) ?? GmailCursor(labelIndex: 0, pageToken: nil)
        let list: GmailMessageList = try await get(
            mailbox, url: mailbox.list(label: position.label, window: job.window, pageToken: position.pageToken, pageSize: listPageSize),
            route: "gmail GET messages.list"
        )
        let ids = (list.messages ?? []).map(\.id)
        let start = position.start(in: ids)
        let pending = Array(ids[start...])
        let (fetched, count) = try await messages(pending, in: mailbox, budget: pageBudget)
        let folder = position.folder
        let stored = try fetched.filter { message in
            let labels = message.labels
            if labels.contains("DRAFT") { return false }
            if folder == .sent && labels.contains("INBOX") { return false }
            guard let receivedAt = message.receivedAt else {
                throw ProviderFailure.invalidResponse("gmail GET messages.get: message without internalDate")
            }
            return job.window.contains(receivedAt)
        }
        .compactMap { $0.stored(connectionId: job.connectionId, folder: folder, source: .backfill) }

        if count < pending.count {
            // Cut short by the time budget: the next page lists this page again and goes on after its last id.
            position.done = start + count
            position.lastDoneId = pending[count - 1]
        } else if let next = list.nextPageToken {
            position = GmailCursor(labelIndex: position.labelIndex, pageToken: next)
        } else if position.labelIndex + 1 < GmailCursor.labels.count {
            position = GmailCursor(labelIndex: position.labelIndex + 1, pageToken: nil)
        } else {
            return BackfillPage(messages: stored, nextCursor: nil)
        }
        return BackfillPage(messages: stored, nextCursor: position.encoded())
    }

    /// Makes sure the history cursor exists (it normally does, from `prepare`).
    public func finish(_ job: BackfillJob) async throws {
        try await ensureHistoryCursor(mailbox(job.connectionId), gapSince: job.window.end)
    }

    // MARK: Mailbox, cursor, messages

    func mailbox(_ connectionId: String) async throws -> GmailMailbox {
        guard let connection = try await RoutedConnection.connection(connectionId, in: directory) else {
            throw ProviderFailure.permissionLost("unknown connection")
        }
        return GmailMailbox(
            connectionId: connectionId, credentialsOwner: connection.parentId ?? connectionId,
            baseURL: endpoints.gmailBaseURL,
            userId: connection.parentId == nil ? "me" : FormEncoding.escape(connection.address)
        )
    }

    /// Stores the profile's current `historyId` unless a cursor is already stored (an older cursor
    /// covers more, so it is kept). A history id only covers what comes after it; with `gapSince` (the
    /// backfill window's end) the mail received from then until now is left for the next catch-up to list.
    func ensureHistoryCursor(_ mailbox: GmailMailbox, gapSince: Date? = nil) async throws {
        let state = try await directory.syncState(for: mailbox.connectionId)
        guard (state[SyncKey.historyId] ?? "").isEmpty else { return }
        let taken = clock.now()
        var changes = [SyncKey.historyId: try await currentHistoryId(mailbox), SyncKey.syncedAt: ResyncPoint.encode(gapSince ?? taken)]
        if let gapSince { changes[SyncKey.gapSince] = ResyncPoint.encode(gapSince) }
        try await directory.updateSyncState(changes, for: mailbox.connectionId)
    }

    func currentHistoryId(_ mailbox: GmailMailbox) async throws -> String {
        let profile: Profile = try await get(mailbox, url: mailbox.profile, route: "gmail GET profile")
        return profile.historyId
    }

    /// Fetches messages in the order given, at most `fetchConcurrency` at once. With a `budget`, the call is
    /// cut short when the budget has passed (throttling can stretch a page past the scheduler's lease) or
    /// when a fetch is throttled for longer than admission waits in place, once at least the first id is done: the
    /// fetches still outstanding are cancelled and `count` says how many ids from the first were done.
    /// Messages deleted since they were listed (404) are left out; any other failure fails the whole call.
    func messages(
        _ ids: [String], in mailbox: GmailMailbox, budget: Duration? = nil
    ) async throws -> (messages: [GmailMessage], count: Int) {
        let deadline = budget.map { ContinuousClock.now + $0 }
        return try await withThrowingTaskGroup(of: (Int, Result<GmailMessage?, ProviderFailure>).self) { group in
            var results = [GmailMessage?](repeating: nil, count: ids.count)
            var done = [Bool](repeating: false, count: ids.count)
            var prefix = 0
            var next = 0
            func startNext() {
                guard next < ids.count else { return }
                let index = next
                let id = ids[index]
                next += 1
                group.addTask {
                    do {
                        return (index, .success(try await message(id, in: mailbox)))
                    } catch let failure as ProviderFailure where deadline != nil && failure.isThrottle {
                        return (index, .failure(failure))
                    }
                }
            }
            for _ in 0..<fetchConcurrency { startNext() }
            while let (index, result) = try await group.next() {
                switch result {
                case .success(let message):
                    results[index] = message
                    done[index] = true
                    while prefix < ids.count && done[prefix] { prefix += 1 }
                case .failure(let throttle):
                    // Keep what is done; with nothing done, the scheduler parks the backfill.
                    guard prefix > 0 else { throw throttle }
                    group.cancelAll()
                    return (results[..<prefix].compactMap { $0 }, prefix)
                }
                if let deadline, prefix > 0, prefix < ids.count, ContinuousClock.now >= deadline {
                    group.cancelAll()
                    break
                }
                startNext()
            }
            return (results[..<prefix].compactMap { $0 }, prefix)
        }
    }

    private func message(_ id: String, in mailbox: GmailMailbox) async throws -> GmailMessage? {
        let route = "gmail GET messages.get"
        let response = try await send(mailbox, url: mailbox.message(id), route: route, allowing: [404])
        if response.status == 404 { return nil }
        return try ResponseDecoding.decode(GmailMessage.self, from: response.body, route: route)
    }

    // MARK: Requests

    /// Sends and throws the classified failure for any status but 2xx and those in `allowing`.
    func send(
        _ mailbox: GmailMailbox, method: String = "GET", url: String, body: Data? = nil, route: String,
        allowing: Set<Int> = []
    ) async throws -> HTTPResponse {
        var headers: HTTPHeaders = ["Accept": "application/json"]
        if body != nil { headers.replace("Content-Type", "application/json") }
        let request = ProviderRequest(method: method, url: url, headers: headers, body: body, route: route)
        return try await api.send(
            request, mailbox: mailbox.connectionId, as: .connection(mailbox.credentialsOwner), cost: Self.quotaUnits(route)
        ) { response in
            (200..<300).contains(response.status) || allowing.contains(response.status)
                ? nil : GmailErrorClassifier.failure(for: response, route: route, now: clock.now())
        }
    }

    /// What a route costs against the per-user quota (docs/providers.md, Gmail quota).
    static func quotaUnits(_ route: String) -> Int {
        if route.hasSuffix("profile") || route.contains("labels") { return 1 }
        if route.contains("history") { return 2 }
        if route.hasSuffix("watch") { return 100 }
        if route.hasSuffix("stop") { return 50 }
        return 5
    }

    func get<T: Decodable>(_ mailbox: GmailMailbox, url: String, route: String) async throws -> T {
        let response = try await send(mailbox, url: url, route: route)
        return try ResponseDecoding.decode(T.self, from: response.body, route: route)
    }

    private struct Profile: Decodable {
        var historyId: String
    }
}
