import BackfillCore
import BackfillHTTP
@testable import BackfillProviders
import Foundation
import MetricsTestKit
import Testing

/// The pacer in front of a stand-in transport that answers from a script and records when each request left.
@Suite("Mailbox pacer: Retry-After gate, single file after a throttle, quota window")
struct MailboxPacerTests {
    /// Answers each send with the next scripted status (200 once the script runs out) and records it.
    actor Transport {
        private var script: [(status: Int, retryAfter: String?)]
        private(set) var sent: [(at: ContinuousClock.Instant, mailbox: String)] = []
        private(set) var inFlight = 0
        private(set) var maxInFlight = 0

        init(_ script: [(status: Int, retryAfter: String?)] = []) {
            self.script = script
        }

        func send(_ mailbox: String, hold: Duration = .zero) async throws -> HTTPResponse {
            sent.append((ContinuousClock.now, mailbox))
            inFlight += 1
            maxInFlight = max(maxInFlight, inFlight)
            let answer = script.isEmpty ? (200, nil) : script.removeFirst()
            if hold > .zero { try await Task.sleep(for: hold) }
            inFlight -= 1
            var headers = HTTPHeaders()
            if let retryAfter = answer.1 { headers.add("Retry-After", retryAfter) }
            return HTTPResponse(status: answer.0, headers: headers, body: Data())
        }

        func resetMaxInFlight() { maxInFlight = inFlight }
    }

    static func failure(_ response: HTTPResponse) -> ProviderFailure? {
        response.status == 200 ? nil : GraphErrorClassifier.failure(for: response, route: "test", now: Date())
    }

    @Test("a short Retry-After holds every request of that mailbox until it passes, then the throttled one goes again")
    func gate() async throws {
        let pacer = MailboxPacer(.init(maxConcurrent: 4, unitsPerMinute: nil), gate: LocalRetryGate(), metrics: ProviderRequestMetrics(provider: "test"))
        let transport = Transport([(429, "0.3")])
        let started = ContinuousClock.now
        let response = try await pacer.send(mailbox: "a", cost: 1, { try await transport.send("a") }, failure: Self.failure)
        let next = try await pacer.send(mailbox: "a", cost: 1, { try await transport.send("a") }, failure: Self.failure)
        let other = try await pacer.send(mailbox: "b", cost: 1, { try await transport.send("b") }, failure: Self.failure)
        let statuses: [Int] = [response.status, next.status, other.status]
        #expect(statuses == [200, 200, 200])
        let sent = await transport.sent
        #expect(sent.map(\.mailbox) == ["a", "a", "a", "b"])
        #expect(sent[1].at - sent[0].at >= .milliseconds(300))
        #expect(sent[3].at - started < .milliseconds(300) + (sent[2].at - started), "mailbox b waited on a's gate")
    }

    @Test("a request sent again after a token refresh waits out a throttle answered meanwhile, or parks on a long one")
    func resendWaitsForGate() async throws {
        let pacer = MailboxPacer(.init(maxConcurrent: 4, unitsPerMinute: nil, attempts: 1), gate: LocalRetryGate(), metrics: ProviderRequestMetrics(provider: "test"))
        #expect(try await ContinuousClock().measure { try await pacer.waitForGate(mailbox: "a") } < .milliseconds(50))
        // Another request of the mailbox is throttled for 0.3 s (one attempt: the throttle is handed back).
        let short = Transport([(429, "0.3")])
        await #expect(throws: ProviderFailure.self) {
            try await pacer.send(mailbox: "a", cost: 1, { try await short.send("a") }, failure: Self.failure)
        }
        #expect(try await ContinuousClock().measure { try await pacer.waitForGate(mailbox: "a") } >= .milliseconds(250))
        let long = Transport([(429, "30")])
        await #expect(throws: ProviderFailure.self) {
            try await pacer.send(mailbox: "b", cost: 1, { try await long.send("b") }, failure: Self.failure)
        }
        await #expect {
            try await pacer.waitForGate(mailbox: "b")
        } throws: { error in
            guard case .throttled(let retryAfter?) = error as? ProviderFailure else { return false }
            return retryAfter > .seconds(29)
        }
    }

    @Test("a server error is sent again after a short backoff, up to the attempts, then fails as transient")
    func serverErrors() async throws {
        let policy = MailboxPacer.Policy(maxConcurrent: 4, unitsPerMinute: nil, transientAttempts: 3, transientWait: .milliseconds(50))
        let pacer = MailboxPacer(policy, gate: LocalRetryGate(), metrics: ProviderRequestMetrics(provider: "test"))
        let recovering = Transport([(503, nil), (500, nil)])
        let response = try await pacer.send(mailbox: "a", cost: 1, { try await recovering.send("a") }, failure: Self.failure)
        #expect(response.status == 200)
        let sent = await recovering.sent
        #expect(sent.count == 3)
        #expect(sent[1].at - sent[0].at >= .milliseconds(50))
        #expect(sent[2].at - sent[1].at >= .milliseconds(100))
        let failing = Transport([(503, nil), (503, nil), (503, nil), (200, nil)])
        await #expect {
            _ = try await pacer.send(mailbox: "b", cost: 1, { try await failing.send("b") }, failure: Self.failure)
        } throws: { error in
            if case .transient = error as? ProviderFailure { return true }
            return false
        }
        #expect(await failing.sent.count == 3)
    }

    @Test("a long Retry-After, or too many throttles in a row, is left to the scheduler as throttled")
    func parks() async throws {
        let pacer = MailboxPacer(.init(maxConcurrent: 4, unitsPerMinute: nil, attempts: 3), gate: LocalRetryGate(), metrics: ProviderRequestMetrics(provider: "test"))
        let long = Transport([(429, "30")])
        await #expect(throws: ProviderFailure.throttled(retryAfter: .seconds(30))) {
            try await pacer.send(mailbox: "a", cost: 1, { try await long.send("a") }, failure: Self.failure)
        }
        #expect(await long.sent.count == 1)
        let repeated = Transport([(429, "0.01"), (429, "0.01"), (429, "0.01"), (429, "0.01")])
        await #expect(throws: ProviderFailure.throttled(retryAfter: .milliseconds(10))) {
            try await pacer.send(mailbox: "b", cost: 1, { try await repeated.send("b") }, failure: Self.failure)
        }
        #expect(await repeated.sent.count == 3)
    }

    @Test("after a throttle the mailbox sends one request at a time until it has been calm for a while")
    func singleFile() async throws {
        let pacer = MailboxPacer(.init(maxConcurrent: 4, unitsPerMinute: nil, calmAfter: 5), gate: LocalRetryGate(), metrics: ProviderRequestMetrics(provider: "test"))
        let transport = Transport([(429, "0.05")])
        func burst(_ count: Int) async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<count {
                    group.addTask {
                        _ = try await pacer.send(mailbox: "a", cost: 1, { try await transport.send("a", hold: .milliseconds(20)) },
                                                 failure: Self.failure)
                    }
                }
                try await group.waitForAll()
            }
        }
        _ = try await pacer.send(mailbox: "a", cost: 1, { try await transport.send("a") }, failure: Self.failure)
        await transport.resetMaxInFlight()
        try await burst(4)
        #expect(await transport.maxInFlight == 1)
        await transport.resetMaxInFlight()
        try await burst(8)
        #expect(await transport.maxInFlight == 4)
    }

    @Test("quota units spent in any trailing window never exceed the quota")
    func quota() async throws {
        let window = Duration.milliseconds(400)
        let pacer = MailboxPacer(.init(maxConcurrent: 4, unitsPerMinute: 20, quotaWindow: window), gate: LocalRetryGate(), metrics: ProviderRequestMetrics(provider: "test"))
        let transport = Transport()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    _ = try await pacer.send(mailbox: "a", cost: 5, { try await transport.send("a") }, failure: Self.failure)
                }
            }
            try await group.waitForAll()
        }
        let times = await transport.sent.map(\.at).sorted()
        #expect(times.count == 10)
        // The stand-in notes a request a moment after the pacer lets it go, so an earlier request can be
        // noted late by a few milliseconds: the check allows 25 ms of that (the providers pace at 97%).
        for (index, time) in times.enumerated() {
            let inWindow = times[...index].filter { time - $0 < window - .milliseconds(25) }.count
            #expect(inWindow * 5 <= 20)
        }
        #expect(times[9] - times[0] >= window * 2)
    }

    @Test("a request the quota would hold longer than a short wait is not sent: it is a throttle for the scheduler to park")
    func quotaParks() async throws {
        var policy = MailboxPacer.Policy(maxConcurrent: 4, unitsPerMinute: 10, quotaWindow: .seconds(2))
        policy.longestInlineWait = .milliseconds(500)
        let pacer = MailboxPacer(policy, gate: LocalRetryGate(), metrics: ProviderRequestMetrics(provider: "test"))
        let transport = Transport()
        for _ in 0..<2 {
            _ = try await pacer.send(mailbox: "a", cost: 5, { try await transport.send("a") }, failure: Self.failure)
        }
        do {
            _ = try await pacer.send(mailbox: "a", cost: 5, { try await transport.send("a") }, failure: Self.failure)
            Issue.record("the third request was sent into a spent quota")
        } catch let failure as ProviderFailure {
            guard case .throttled(let retryAfter?) = failure else { throw failure }
            #expect(retryAfter > .milliseconds(1500) && retryAfter <= .seconds(2), "waits until the first units slide out")
        }
        #expect(await transport.sent.count == 2)
        // Another mailbox's quota is its own.
        _ = try await pacer.send(mailbox: "b", cost: 5, { try await transport.send("b") }, failure: Self.failure)
        #expect(await transport.sent.count == 3)
    }

    @Test("every request is counted by provider and outcome, retried throttles and failures included")
    func countsOutcomes() async throws {
        let metrics = TestMetrics()
        // One send per server error here (no retry), so each request is one outcome.
        let pacer = MailboxPacer(.init(maxConcurrent: 4, unitsPerMinute: nil, transientAttempts: 1), gate: LocalRetryGate(),
                                 metrics: ProviderRequestMetrics(provider: "graph", factory: metrics))
        let transport = Transport([(429, "0.01"), (200, nil), (503, nil), (403, nil)])
        _ = try await pacer.send(mailbox: "a", cost: 1, { try await transport.send("a") }, failure: Self.failure)
        for expected in [ProviderFailure.transient("test: HTTP 503"), .permissionLost("test: HTTP 403")] {
            await #expect(throws: expected) {
                try await pacer.send(mailbox: "a", cost: 1, { try await transport.send("a") }, failure: Self.failure)
            }
        }
        await #expect(throws: CancellationError.self) {
            try await pacer.send(mailbox: "a", cost: 1, { throw CancellationError() }, failure: Self.failure)
        }
        func count(_ outcome: String) throws -> Int64 {
            try metrics.expectCounter("backfill_provider_requests_total", [("provider", "graph"), ("outcome", outcome)]).totalValue
        }
        #expect(try [count("ok"), count("throttled"), count("transient"), count("permission_lost"), count("cancelled")] == [1, 1, 1, 1, 1])
        #expect(try count("invalid_response") == 0)
    }
}
