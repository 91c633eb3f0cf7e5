import BackfillCore
import BackfillHTTP
import Foundation

/// Gmail: backfills the INBOX and SENT labels by date window, newest first: the window is cut into pieces
/// (`DateWindow.newestFirst`, the newest week first) and each piece lists INBOX, then SENT, so the newest week of
/// both is stored before anything older. Each page lists up to `listPageSize` ids and fetches those messages
/// (`format=full` through a `fields` projection) through the batch endpoint. A message carrying both labels is
/// stored once, from the INBOX pass.
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
        /// Messages the last catch-ups could not fetch, with how many in a row refused each (`CatchUpRefusals`).
        static let refusals = "gmail.refusals"
    }

    /// Message fetches per batch request, and one batch at a time: Gmail runs a batch's calls side by side and
    /// refuses a user more than about ten calls at once ("Too many concurrent requests for user"), so ten
    /// calls a round trip is the most a mailbox can have on the wire. At 150 ms a round trip that is 66
    /// messages a second, past the quota's 48 (250 units a second at 97%, 5 units a message).
    public static let callsPerBatch = AdmissionPolicy.gmailCallsInFlightPerMailbox

    let endpoints: ProviderEndpoints
    let directory: any ConnectionDirectory
    let api: ProviderRequestSender
    let clock: any WallClock
    let listPageSize: Int
    let listingsPerPage: Int
    let batchSize: Int
    let pageBudget: Duration
    /// The per-user quota before pacing (the duration estimate's limit).
    let quotaUnitsPerMinute: Int

    /// - Parameters:
    ///   - listPageSize: ids per `messages.list` page (≤ 500), hence messages per backfill page.
    ///   - listingsPerPage: listings one page may gather when each ends its piece with fewer ids than a page (6:
    ///     a sparse mailbox cut into many pieces still fills its pages, without many round trips of listing first).
    ///   - admission: the mailboxes' shared Retry-After gate and request slots; servers pass the one all
    ///     instances share.
    ///   - batchSize: message fetches per batch request (1…100), `callsPerBatch` unless a test needs fewer.
    ///   - pageBudget: how long a page may take before it is cut short (well inside the scheduler's lease).
    ///   - quotaUnitsPerMinute: the per-user quota (Gmail's is 15,000 units a minute). Requests are paced at
    ///     97% of it: the provider's window and this process's clock never line up exactly.
    public init(
        endpoints: ProviderEndpoints, directory: any ConnectionDirectory, http: HTTPClient,
        admission: any SharedAdmission = LocalSharedAdmission(), clock: any WallClock = SystemWallClock(), listPageSize: Int = 100,
        listingsPerPage: Int = 6, batchSize: Int = GmailProvider.callsPerBatch,
        pageBudget: Duration = .seconds(5), quotaUnitsPerMinute: Int = AdmissionPolicy.gmailQuotaUnitsPerMinute
    ) {
        let transport = ProviderTransport(http: http)
        self.endpoints = endpoints
        self.directory = directory
        self.api = ProviderRequestSender(
            transport: transport, shared: admission,
            admissions: MailboxAdmissions(policy: AdmissionPolicy(
                unitsPerMinute: AdmissionPolicy.pacedUnitsPerMinute(quotaUnitsPerMinute)
            )),
            inFlightLimit: AdmissionPolicy.gmailCallsInFlightPerMailbox,
            tokens: OAuthTokenSource(client: .google(endpoints), directory: directory, transport: transport, clock: clock),
            appTokens: nil,
            metrics: ProviderRequestMetrics(provider: "gmail")
        )
        self.clock = clock
        self.listPageSize = min(max(listPageSize, 1), 500)
        self.listingsPerPage = max(listingsPerPage, 1)
        self.batchSize = min(max(batchSize, 1), 100)
        self.pageBudget = pageBudget
        self.quotaUnitsPerMinute = quotaUnitsPerMinute
    }

    /// Takes the history cursor (so nothing arriving during the backfill is missed: the mail from the window's
    /// end until the cursor is listed by date by the next catch-up) while it counts the window's ids: INBOX ∪ SENT
    /// from the listing, exact at listing time (label totals have no dates, `resultSizeEstimate` is not a count).
    /// The two go side by side: neither needs the other, and each is a round trip before the first page.
    public func prepare(_ job: BackfillJob) async throws -> BackfillPreparation {
        let mailbox = try await mailbox(job.connectionId)
        async let cursor: Void = ensureHistoryCursor(mailbox, gapSince: job.window.end)
        let ids = try await listedIds(mailbox, window: job.window).map(\.id)
        try await cursor
        return BackfillPreparation(estimatedTotal: Set(ids).count)
    }

    /// Every id INBOX and SENT list in `window` (by `after:`/`before:`, whole seconds), with its label: INBOX's
    /// then SENT's, newest first per label (the two listings run side by side); an id in both comes twice.
    func listedIds(_ mailbox: GmailMailbox, window: DateWindow) async throws -> [(id: String, label: String)] {
        try await withThrowingTaskGroup(of: (Int, [(id: String, label: String)]).self) { group in
            for (index, label) in GmailCursor.labels.enumerated() {
                group.addTask {
                    var ids: [(id: String, label: String)] = []
                    var pageToken: String?
                    repeat {
                        let page: GmailMessageList = try await get(
                            mailbox, url: mailbox.list(label: label, window: window, pageToken: pageToken, pageSize: 500),
                            route: "gmail GET messages.list"
                        )
                        ids += (page.messages ?? []).map { ($0.id, label) }
                        pageToken = page.nextPageToken
                    } while pageToken != nil
                    return (index, ids)
                }
            }
            var byLabel = [[(id: String, label: String)]](repeating: [], count: GmailCursor.labels.count)
            for try await (index, ids) in group { byLabel[index] = ids }
            return byLabel.flatMap { $0 }
        }
    }

    /// Lists the cursor's page and fetches its messages. A listing that ends its piece and label with fewer ids than
    /// a page is followed by the next ones in the same page (at most `listingsPerPage`), so a sparse mailbox cut into
    /// many pieces still fills its pages, in the same newest-first order.
    public func fetchPage(_ job: BackfillJob, cursor: String?) async throws -> BackfillPage {
        let mailbox = try await mailbox(job.connectionId)
        let pieces = job.window.newestFirst()
        var position = try cursor.map(GmailCursor.decode) ?? .start
        // Each listing: its cursor, the ids still to fetch from it, where they start in it, the window it is cut to.
        var listings: [(at: GmailCursor, pending: [String], start: Int, window: DateWindow)] = []
        var after: GmailCursor?
        var listed = 0
        while true {
            let window = position.listed(of: job.window, pieces: pieces)
            let list: GmailMessageList
            do {
                list = try await get(
                    mailbox, url: mailbox.list(label: position.label, window: window, pageToken: position.pageToken, pageSize: listPageSize),
                    route: "gmail GET messages.list"
                )
            } catch let failure as ProviderFailure where failure.isThrottle && !listings.isEmpty {
                break  // what is listed goes now; the next page lists on from `after`
            }
            let ids = (list.messages ?? []).map(\.id)
            let start = position.start(in: ids)
            listings.append((position, Array(ids[start...]), start, window))
            listed += ids.count
            if let next = list.nextPageToken {
                after = GmailCursor(piece: position.piece, labelIndex: position.labelIndex, pageToken: next)
                break
            }
            after = position.afterListing(pieces: pieces)
            // Whole listings count (not what is left of a cut one), so a page resumed after a cut gathers the
            // same listings as the page it continues.
            guard let next = after, listed < listPageSize, listings.count < listingsPerPage else { break }
            position = next
        }
        let pending = listings.flatMap(\.pending)
        guard !pending.isEmpty else { return BackfillPage(messages: [], nextCursor: after?.encoded()) }
        let (fetched, count, refused) = try await messages(pending, in: mailbox, budget: pageBudget)
        // Which listing each place in `pending` came from: its folder and the exact window it is cut to. A message in
        // both labels is listed twice in one piece (INBOX, then SENT); each fetch is matched to its own place, in
        // order, so the SENT one is left out below and the message counted once.
        let listingAt = listings.enumerated().flatMap { index, listing in Array(repeating: index, count: listing.pending.count) }
        var place = 0
        func listing(of id: String) -> (at: GmailCursor, pending: [String], start: Int, window: DateWindow) {
            while place < pending.count - 1 && pending[place] != id { place += 1 }
            defer { place += 1 }
            return listings[listingAt[min(place, pending.count - 1)]]
        }
        var skipped: [SkippedMessage] = []
        let stored = fetched.compactMap { message -> StoredMessage? in
            let listing = listing(of: message.id)
            let folder = listing.at.folder
            let labels = message.labels
            if labels.contains("DRAFT") || (folder == .sent && labels.contains("INBOX")) { return nil }
            // The listing is widened by a second each side: the exact cut keeps pieces from overlapping.
            if let receivedAt = message.receivedAt, !listing.window.contains(receivedAt) { return nil }
            guard let row = message.stored(connectionId: job.connectionId, folder: folder, source: .backfill) else {
                skipped.append(SkippedMessage(
                    providerMessageId: message.id, folder: folder,
                    failure: .invalidResponse("gmail GET messages.get: message without a usable id or internalDate")
                ))
                return nil
            }
            return row
        }
        // Refused ones are matched to their places the same way (they are in order too, after the fetched ones' walk).
        place = 0
        var skippedIds = Set(skipped.map(\.providerMessageId))
        for refusal in refused {
            let listing = listing(of: refusal.id)
            // The SENT listing of a message also in INBOX is not its place: it is listed (and skipped) once.
            guard skippedIds.insert(refusal.id).inserted else { continue }
            skipped.append(SkippedMessage(providerMessageId: refusal.id, folder: listing.at.folder, failure: refusal.failure))
        }
        if count < pending.count {
            // Cut short by the time budget: the next page lists the listing it stopped in again and goes on after
            // its last id done there (or from that listing's start, when the cut fell between two listings).
            var offset = 0
            for listing in listings {
                if count < offset + listing.pending.count {
                    var cut = listing.at
                    let doneHere = count - offset
                    if doneHere > 0 {
                        cut.done = listing.start + doneHere
                        cut.lastDoneId = listing.pending[doneHere - 1]
                    }
                    return BackfillPage(messages: stored, nextCursor: cut.encoded(), skipped: skipped)
                }
                offset += listing.pending.count
            }
        }
        return BackfillPage(messages: stored, nextCursor: after?.encoded(), skipped: skipped)
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

    /// Fetches messages in the order given through the batch endpoint, `batchSize` calls a batch and one batch
    /// at a time. A call answered with a throttle or a server error goes again in a later batch, after the wait
    /// `BatchCallVerdict` gives it. With a `budget`, the call is cut short when the budget has passed (throttling
    /// can stretch a page past the scheduler's lease) or when a throttle is too long to wait out in place, once
    /// at least the first id is done; `count` says how many ids from the first were done. Messages deleted since
    /// they were listed (404) are left out. A message the provider refuses to serve while it serves others (server
    /// errors past their sends, a body that cannot be read) is skipped and returned in `skipped` (with
    /// `skipsAlone`, even when none is served: the ids are known to be refused); any other failure fails the call.
    func messages(
        _ ids: [String], in mailbox: GmailMailbox, budget: Duration? = nil, skipsAlone: Bool = false
    ) async throws -> (messages: [GmailMessage], count: Int, skipped: [(id: String, failure: ProviderFailure)]) {
        let deadline = budget.map { ContinuousClock.now + $0 }
        var results = [GmailMessage?](repeating: nil, count: ids.count)
        var failures = [ProviderFailure?](repeating: nil, count: ids.count)
        var done = [Bool](repeating: false, count: ids.count)
        var attempts = [MailboxAdmission.Attempts](repeating: .init(), count: ids.count)
        var notBefore = [ContinuousClock.Instant?](repeating: nil, count: ids.count)
        var pending = Array(ids.indices)
        var prefix = 0
        var served = 0
        while prefix < ids.count {
            if let deadline, prefix > 0, ContinuousClock.now >= deadline { break }
            let now = ContinuousClock.now
            let ready = Array(pending.lazy.filter { notBefore[$0].map { $0 <= now } ?? true }.prefix(batchSize))
            guard !ready.isEmpty else {
                try await ContinuousClock().sleep(until: pending.compactMap { notBefore[$0] }.min() ?? now)
                continue
            }
            let answers: [BatchCall]
            do {
                answers = try await batch(ready.map { ids[$0] }, in: mailbox)
            } catch let failure as ProviderFailure where failure.isThrottle && deadline != nil && prefix > 0 {
                break  // keep what is done; the next page goes on from there
            }
            // Answers first, failures after: whether the provider serves the mailbox's other messages decides
            // whether a failing one is skipped.
            for (index, answer) in zip(ready, answers) {
                switch answer {
                case .message(let message):
                    results[index] = message
                    done[index] = true
                    served += 1
                case .gone: done[index] = true
                case .failed: break
                }
            }
            var giveUp: ProviderFailure?
            for (index, answer) in zip(ready, answers) {
                guard case .failed(let failure, let status) = answer else { continue }
                let admissionAnswer = ProviderRequestSender.answer(status: status, failure: failure)
                switch BatchCallVerdict.after(admissionAnswer, attempts: &attempts[index], policy: api.admissions.policy) {
                case .resend(let after): notBefore[index] = ContinuousClock.now + after
                case .done where SkippedMessage.isSkippable(failure), .giveUp where SkippedMessage.isSkippable(failure) && (served > 0 || skipsAlone):
                    failures[index] = failure
                    done[index] = true
                case .done, .giveUp: giveUp = giveUp ?? failure
                }
            }
            pending.removeAll { done[$0] }
            while prefix < ids.count && done[prefix] { prefix += 1 }
            if let giveUp {
                // Keep what is done when a throttle outlasts the page; anything else fails the call.
                guard giveUp.isThrottle, deadline != nil, prefix > 0 else { throw giveUp }
                break
            }
        }
        let skipped = (0..<prefix).compactMap { index in failures[index].map { (ids[index], $0) } }
        return (results[..<prefix].compactMap { $0 }, prefix, skipped)
    }

    /// One call's answer inside a batch.
    enum BatchCall {
        case message(GmailMessage)
        /// 404: deleted since it was listed.
        case gone
        /// The classified failure and the call's own status.
        case failed(ProviderFailure, status: Int)
    }

    /// Sends one batch of message fetches and reads every call's answer, in the order of `ids`. The batch is sent
    /// again whole (by admission) when every call was throttled, or with a fresh token when a call's was refused.
    private func batch(_ ids: [String], in mailbox: GmailMailbox) async throws -> [BatchCall] {
        let route = "gmail POST batch"
        let boundary = "batch_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let body = GmailBatchBody.request(paths: ids.map(mailbox.messagePath), boundary: boundary)
        let request = ProviderRequest(
            method: "POST", url: mailbox.batch, headers: ["Content-Type": "multipart/mixed; boundary=\(boundary)"],
            body: body, route: route
        )
        var calls: [HTTPResponse] = []
        _ = try await api.send(
            request, mailbox: mailbox.connectionId, as: .connection(mailbox.credentialsOwner), cost: 5 * ids.count, calls: ids.count
        ) { response in
            guard (200..<300).contains(response.status) else {
                if response.status == 401 { return .refusedToken }
                return .failed(GmailErrorClassifier.failure(for: response, route: route, now: clock.now()))
            }
            do throws(GmailBatchBodyError) {
                calls = try GmailBatchBody.responses(of: response, count: ids.count)
            } catch {
                return .failed(.invalidResponse("\(route): \(error.detail)"))
            }
            if calls.contains(where: { $0.status == 401 }) { return .refusedToken }
            let throttles = calls.filter { $0.status >= 400 }.map { GmailErrorClassifier.failure(for: $0, route: route, now: clock.now()) }
                .filter(\.isThrottle)
            guard !throttles.isEmpty else { return .accepted }
            let retryAfter = throttles.compactMap { if case .throttled(let after) = $0 { after } else { nil } }.max()
            // Every call throttled: the whole batch waits and goes again, as one throttled request would.
            return throttles.count == calls.count
                ? .failed(.throttled(retryAfter: retryAfter)) : .acceptedThrottledInside(retryAfter: retryAfter)
        }
        let callRoute = "gmail GET messages.get"
        return calls.map { call in
            switch call.status {
            case 200..<300:
                do {
                    return .message(try ResponseDecoding.decode(GmailMessage.self, from: call.body, route: callRoute))
                } catch let failure as ProviderFailure {
                    return .failed(failure, status: call.status)
                } catch {
                    return .failed(.invalidResponse("\(callRoute): unreadable body"), status: call.status)
                }
            case 404: return .gone
            default: return .failed(GmailErrorClassifier.failure(for: call, route: callRoute, now: clock.now()), status: call.status)
            }
        }
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
