import BackfillHTTP
import BackfillSimulator
import Foundation
import Testing

@Suite("Limits, faults and the journal")
struct LimitsTests {
    @Test("the 5th concurrent Graph request for one mailbox gets 429 ApplicationThrottled with Retry-After")
    func graphConcurrencyLimit() async throws {
        var knobs = SimulatorKnobs()
        knobs.latencyMs = 1500
        try await SimulatorHarness.with(knobs: knobs) { sim in
            let token = try await sim.tokens(for: SimulatorHarness.graphAddress).access
            let url = sim.server.graphBaseURL + "/me/mailFolders/inbox/messages?$top=1"
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0 ..< 4 {
                    group.addTask { try await sim.send(url, token: token).status }
                }
                try await sim.waitUntil { try await sim.stats(SimulatorHarness.graphAddress)["inFlight"] as? Int == 4 }
                let fifth = try await sim.send(url, token: token)
                #expect(fifth.status == 429)
                #expect(fifth.headers["Retry-After"] == "10")
                let error = try #require(try sim.json(fifth)["error"] as? [String: Any])
                #expect(error["code"] as? String == "ApplicationThrottled")
                var statuses: [Int] = []
                for try await status in group { statuses.append(status) }
                #expect(statuses == [200, 200, 200, 200])
            }
            let stats = try await sim.stats(SimulatorHarness.graphAddress)
            #expect(stats["maxInFlight"] as? Int == 5)
        }
    }

    @Test("the journal flags a request made before its Retry-After and counts the violation")
    func journalFlagsEarlyRetry() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.graphAddress).access
            try await sim.control("POST", "/faults", ["mailbox": SimulatorHarness.graphAddress, "route": "messages.list",
                                                      "status": 429, "retryAfter": 30, "count": 1])
            let url = sim.server.graphBaseURL + "/me/mailFolders/inbox/messages?$top=1"
            #expect(try await sim.send(url, token: token).status == 429)
            #expect(try await sim.send(url, token: token).status == 200)
            try await sim.control("POST", "/clock/advance", ["seconds": 31])
            #expect(try await sim.send(url, token: token).status == 200)
            let journal = try await sim.control("GET", "/journal?mailbox=\(SimulatorHarness.graphAddress)")
            let entries = try #require(journal["value"] as? [[String: Any]])
            #expect(entries.map { $0["status"] as? Int } == [429, 200, 200])
            #expect(entries.map { $0["beforeRetryAfter"] as? Bool } == [false, true, false])
            #expect(entries.map { $0["route"] as? String } == Array(repeating: "graph.messages.list", count: 3))
            #expect(try await sim.stats(SimulatorHarness.graphAddress)["violations"] as? Int == 1)
        }
    }

    @Test("Gmail refuses requests once the minute's quota units are spent and accepts them after the window slides")
    func gmailQuotaWindow() async throws {
        var knobs = SimulatorKnobs()
        knobs.gmailUserUnitsPerMinute = 20
        try await SimulatorHarness.with(knobs: knobs) { sim in
            let token = try await sim.tokens(for: SimulatorHarness.gmailAddress).access
            let url = sim.server.gmailBaseURL + "/gmail/v1/users/me/messages?maxResults=10"
            for _ in 0 ..< 4 { #expect(try await sim.send(url, token: token).status == 200) }
            let refused = try await sim.send(url, token: token)
            #expect(refused.status == 403)
            let errors = try #require((try sim.json(refused)["error"] as? [String: Any])?["errors"] as? [[String: Any]])
            #expect(errors.first?["reason"] as? String == "userRateLimitExceeded")
            try await sim.control("POST", "/clock/advance", ["seconds": 61])
            #expect(try await sim.send(url, token: token).status == 200)
        }
    }

    @Test("an unreachable shared mailbox gives 403 once its grant is revoked, and /me with an app token gives 400")
    func sharedMailboxGrant() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.graphAddress).access
            let url = "\(sim.server.graphBaseURL)/users/\(SimulatorHarness.sharedAddress)/mailFolders"
            #expect(try await sim.send(url, token: token).status == 200)
            try await sim.control("POST", "/mailboxes/\(SimulatorHarness.sharedAddress)/revoke-grant")
            let denied = try await sim.send(url, token: token)
            #expect(denied.status == 403)
            #expect((try sim.json(denied)["error"] as? [String: Any])?["code"] as? String == "ErrorAccessDenied")
            let app = try #require(try await sim.control("POST", "/tokens", ["app": true])["accessToken"] as? String)
            #expect(try await sim.send(sim.server.graphBaseURL + "/me/mailFolders", token: app).status == 400)
            #expect(try await sim.send(url, token: app).status == 200)
        }
    }
}
