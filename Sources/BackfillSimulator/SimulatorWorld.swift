import Foundation

/// Everything the simulator knows, behind one lock (see `SimulatorEngine`): mailboxes, tokens, cursors,
/// subscriptions, the journal, knobs and the clock. Its methods run under that lock and never wait.
final class SimulatorWorld {
    let scenario: Scenario
    var knobs: SimulatorKnobs
    var clock: SimulatedClock
    var mailboxes: [Mailbox] = []
    var tokens: TokenRegistry
    var journal: [JournalEntry] = []
    var deltaStates: [String: DeltaState] = [:]
    var deltaChains: [UInt64: Int] = [:]
    var gmailPages: [String: GmailPageState] = [:]
    var subscriptions: [String: Subscription] = [:]
    var watches: [Int: GmailWatch] = [:]
    var pubsubEndpoints: [String: String]
    var queuedFaults: [QueuedFault] = []
    var deliveries: [DeliveryRecord] = []
    /// Change notifications lost and repeated on purpose (`notificationDropPercent`, `notificationDuplicatePercent`).
    var notificationsDropped = 0
    var notificationsDuplicated = 0
    /// Bodies received by the built-in webhook sink (`/_sim/sink/{name}`), by name.
    var sinks: [String: [String]] = [:]
    /// Set once the server is bound: "http://127.0.0.1:PORT".
    var baseURL = "http://127.0.0.1"
    var faultRandom: SeededRandom
    /// The tenant admin removed the app's `Mail.Read` consent: every Graph call with an app token gets 403, and
    /// new app tokens carry no roles (`/_sim/app/revoke-consent`, `restore-consent`).
    var appConsentRevoked = false
    /// The app's service principal is disabled in the tenant: client credentials grants are refused
    /// (`unauthorized_client`, `/_sim/app/disable`, `enable`); tokens already issued live out their time.
    var appDisabled = false
    /// Client credentials grants answered with a token (`GET /_sim/app`).
    var appTokenGrants = 0
    var counter: UInt64 = 0
    private var byAddress: [String: Int] = [:]

    init(scenario: Scenario) throws {
        try scenario.validate()
        self.scenario = scenario
        knobs = scenario.knobs
        let start = try scenario.startTime.map { text -> Date in
            guard let seconds = ISOTime.parse(text) else { throw SimulatorError.invalidScenario("bad startTime") }
            return Date(timeIntervalSince1970: TimeInterval(seconds))
        }
        clock = SimulatedClock(start: start)
        tokens = TokenRegistry(salt: scenario.seed ^ 0x746F_6B65)
        faultRandom = SeededRandom(seed: scenario.knobs.faultSeed)
        pubsubEndpoints = scenario.pubsubPushEndpoints
        let now = clock.now
        for spec in scenario.mailboxes {
            byAddress[spec.address.lowercased()] = mailboxes.count
            mailboxes.append(Mailbox(spec: spec, scenarioSeed: scenario.seed, now: now,
                                     nonMessageEvery: knobs.graphNonMessageEvery))
        }
    }

    var now: Date { clock.now }

    func mailbox(named name: String) -> Int? {
        if let index = byAddress[name.lowercased()] { return index }
        return mailboxes.firstIndex { $0.userID == name.lowercased() }
    }

    func nextCounter() -> UInt64 {
        counter += 1
        return counter
    }

    func opaqueToken() -> String {
        IdentifierCodec.token(nextCounter(), salt: scenario.seed ^ 0x5049_4E47)
    }

    // MARK: Admission

    /// A provider request that passed authentication and addressing.
    struct Call {
        let mailbox: Int
        let isGraph: Bool
        let route: String
        let journalIndex: Int
        let cost: Int
    }

    enum Admission {
        case refused(SimResponse)
        case admitted(Call)
    }

    /// Records the request in the journal and applies limits and faults, in the order the real services
    /// do: concurrency, then the rate window, then injected faults.
    /// - Parameter retryNotBeforeAtArrival: for a batch's calls, the mailbox's Retry-After time when the batch
    ///   arrived: its calls are sent together, so a refusal among them does not make the others early.
    func admit(
        mailbox index: Int, isGraph: Bool, route: String, cost: Int, request: SimRequest,
        retryNotBeforeAtArrival: Date?? = nil
    ) -> Admission {
        let now = self.now
        let mailbox = mailboxes[index]
        var traffic = mailbox.traffic
        let early = (retryNotBeforeAtArrival ?? traffic.retryNotBefore).map { now < $0 } ?? false
        if early { traffic.violations += 1 }
        traffic.requests += 1
        traffic.maxInFlight = max(traffic.maxInFlight, traffic.inFlight + 1)
        let entry = JournalEntry(
            sequence: journal.count, time: now, mailbox: mailbox.address, provider: isGraph ? "graph" : "gmail",
            method: request.method, route: route, inFlightAtStart: traffic.inFlight, beforeRetryAfter: early,
            retryAttempt: request.header("retry-attempt")
        )
        journal.append(entry)
        let call = Call(mailbox: index, isGraph: isGraph, route: route, journalIndex: entry.sequence, cost: cost)
        let refusal = refusal(for: call, path: request.path, traffic: &traffic, now: now)
        mailbox.traffic = traffic
        if let refusal {
            finish(call, response: refusal, admitted: false)
            return .refused(refusal)
        }
        mailbox.traffic.inFlight += 1
        return .admitted(call)
    }

    private func refusal(for call: Call, path: String, traffic: inout MailboxTraffic, now: Date) -> SimResponse? {
        if let position = queuedFaults.firstIndex(where: { $0.matches(mailbox: mailboxes[call.mailbox].address,
                                                                      route: call.route, path: path) }) {
            let fault = queuedFaults[position]
            queuedFaults[position].remaining -= 1
            if queuedFaults[position].remaining <= 0 { queuedFaults.remove(at: position) }
            return fault.response(isGraph: call.isGraph, style: knobs.graphRetryAfterStyle, now: now)
        }
        if call.isGraph {
            traffic.window.slide(to: now, length: knobs.graphWindowSeconds)
            traffic.window.add(1, at: now)
            if traffic.inFlight >= knobs.graphConcurrentRequests {
                return GraphErrors.throttled(code: "ApplicationThrottled",
                                             message: "Application is over its MailboxConcurrency limit.",
                                             retryAfter: knobs.graphRetryAfterSeconds, style: knobs.graphRetryAfterStyle,
                                             now: now)
            }
            if traffic.window.total > knobs.graphWindowRequests {
                let wait = traffic.window.timeUntilRoom(for: 0, limit: knobs.graphWindowRequests,
                                                        length: knobs.graphWindowSeconds, now: now)
                return GraphErrors.throttled(code: "TooManyRequests", message: "Please retry again later.",
                                             retryAfter: max(wait, 1), style: knobs.graphRetryAfterStyle, now: now)
            }
        } else {
            if traffic.inFlight >= knobs.gmailConcurrentRequests {
                return GmailErrors.error(429, reason: "rateLimitExceeded", domain: "usageLimits",
                                         message: "Too many concurrent requests for user", status: "RESOURCE_EXHAUSTED")
            }
            traffic.window.slide(to: now, length: 60)
            if traffic.window.total + call.cost > knobs.gmailUserUnitsPerMinute {
                return knobs.gmailQuotaStatus == 429
                    ? GmailErrors.error(429, reason: "rateLimitExceeded", domain: "usageLimits",
                                        message: "Resource has been exhausted (e.g. check quota).",
                                        status: "RESOURCE_EXHAUSTED")
                    : GmailErrors.error(403, reason: "userRateLimitExceeded", domain: "usageLimits",
                                        message: "User-rate limit exceeded.", status: "PERMISSION_DENIED")
            }
            traffic.window.add(call.cost, at: now)
        }
        return chaos(isGraph: call.isGraph, now: now)
    }

    /// Random throttles and server errors at the knobs' rates, from the fault seed.
    private func chaos(isGraph: Bool, now: Date) -> SimResponse? {
        guard knobs.throttlePercent > 0 || knobs.serverErrorPercent > 0 else { return nil }
        let roll = faultRandom.unit() * 100
        if roll < knobs.throttlePercent {
            return isGraph
                ? GraphErrors.throttled(code: "TooManyRequests", message: "Please retry again later.",
                                        retryAfter: knobs.faultRetryAfterSeconds, style: knobs.graphRetryAfterStyle,
                                        now: now)
                : GmailErrors.error(429, reason: "rateLimitExceeded", domain: "usageLimits",
                                    message: "Resource has been exhausted (e.g. check quota).",
                                    status: "RESOURCE_EXHAUSTED",
                                    retryAfter: RetryAfter.text(knobs.faultRetryAfterSeconds, style: knobs.gmailRetryAfterStyle,
                                                                now: now))
        }
        if roll < knobs.throttlePercent + knobs.serverErrorPercent {
            let withRetryAfter = faultRandom.next() % 2 == 0
            let style = isGraph ? .integer : knobs.gmailRetryAfterStyle
            let retryAfter = withRetryAfter ? [("Retry-After", RetryAfter.text(knobs.faultRetryAfterSeconds,
                                                                                 style: style, now: now))] : []
            return isGraph
                ? SimResponse(status: 503, headers: retryAfter)
                : GmailErrors.error(503, reason: "backendError", domain: "global",
                                    message: "The service is currently unavailable.", status: "UNAVAILABLE",
                                    retryAfter: retryAfter.first?.1)
        }
        return nil
    }

    /// Ends a request: frees its slot, completes its journal entry, remembers a Retry-After it was given.
    func finish(_ call: Call, response: SimResponse, admitted: Bool) {
        let now = self.now
        let mailbox = mailboxes[call.mailbox]
        if admitted { mailbox.traffic.inFlight -= 1 }
        journal[call.journalIndex].status = response.status
        journal[call.journalIndex].finished = now
        if let value = response.header("Retry-After"), let seconds = RetryAfter.seconds(value, now: now) {
            let until = now.addingTimeInterval(seconds)
            mailbox.traffic.retryNotBefore = max(mailbox.traffic.retryNotBefore ?? until, until)
        }
    }

    /// A 200 body cut short or broken, at the knobs' rates.
    func corrupt(_ response: SimResponse) -> SimResponse {
        guard response.status == 200, knobs.truncatedPercent > 0 || knobs.malformedPercent > 0 else { return response }
        let roll = faultRandom.unit() * 100
        var damaged = response
        if roll < knobs.truncatedPercent {
            damaged.body = response.body.prefix(response.body.count / 2)
        } else if roll < knobs.truncatedPercent + knobs.malformedPercent {
            damaged.body = Data("{\"value\":[{\"id\":\"AAMk".utf8) + Data(repeating: 0x7B, count: 3)
        }
        return damaged
    }

    // MARK: Authentication

    enum Principal {
        case user(String)
        case app
    }

    /// The application permission an app-only token needs to read mail and subscribe to it.
    static let mailReadRole = "Mail.Read"

    /// The app's service principal id in the tenant: the `creatorId` of subscriptions it makes.
    var appServicePrincipalID: String { Mailbox.guid(from: scenario.seed ^ 0x4150_5053_5049_4431) }

    /// The principal of a bearer token, or the provider's 401 (403 for an app token without `Mail.Read`).
    func authenticate(_ request: SimRequest, provider: TokenRegistry.Provider) -> Result<Principal, SimResponse> {
        guard let token = request.bearerToken, let grant = tokens.access[token], grant.provider == provider else {
            return .failure(provider == .microsoft
                ? GraphErrors.unauthorized("CompactToken parsing failed with error code: 80049217")
                : GmailErrors.unauthenticated())
        }
        guard grant.expires > now else {
            return .failure(provider == .microsoft
                ? GraphErrors.unauthorized("Access token has expired or is not yet valid.")
                : GmailErrors.unauthenticated())
        }
        if grant.principal == nil, appConsentRevoked || !grant.roles.contains(Self.mailReadRole) {
            return .failure(GraphErrors.accessDenied)
        }
        return .success(grant.principal.map(Principal.user) ?? .app)
    }
}

/// A fault queued through the control API: the next `remaining` matching requests get it.
struct QueuedFault {
    let mailbox: String?
    /// A substring of the route name (e.g. "messages.list"); nil matches every route.
    let route: String?
    /// A substring of the request's path (e.g. one message's id: a message the provider refuses to serve); nil
    /// matches every path.
    let path: String?
    let status: Int
    let retryAfter: Double?
    let body: String?
    var remaining: Int

    func matches(mailbox address: String, route name: String, path requestPath: String) -> Bool {
        (mailbox.map { $0.lowercased() == address.lowercased() } ?? true) && (route.map { name.contains($0) } ?? true)
            && (path.map { requestPath.contains($0) } ?? true)
    }

    func response(isGraph: Bool, style: SimulatorKnobs.RetryAfterStyle, now: Date) -> SimResponse {
        var headers: [(String, String)] = []
        if let retryAfter {
            headers.append(("Retry-After", RetryAfter.text(retryAfter, style: isGraph ? style : .integer, now: now)))
        }
        if let body {
            headers.append(("Content-Type", "application/json; charset=utf-8"))
            return SimResponse(status: status, headers: headers, body: Data(body.utf8))
        }
        return SimResponse(status: status, headers: headers)
    }
}

/// An outbound POST the simulator made (a webhook notification, a validation, a Pub/Sub push).
struct DeliveryRecord {
    let kind: String
    let url: String
    let body: String
    var status: Int?
}
