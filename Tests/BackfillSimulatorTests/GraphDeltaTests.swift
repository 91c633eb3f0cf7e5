import BackfillHTTP
import BackfillSimulator
import Foundation
import Testing

@Suite("Graph delta")
struct GraphDeltaTests {
    /// Runs a delta round from `url` to its deltaLink; returns items and the deltaLink.
    static func round(_ sim: SimulatorHarness, token: String, from url: String) async throws
        -> (items: [[String: Any]], deltaLink: String, pages: Int)
    {
        var items: [[String: Any]] = []
        var next = url
        var pages = 0
        while true {
            let response = try await sim.send(next, token: token, headers: [("Prefer", "odata.maxpagesize=200, IdType=\"ImmutableId\"")])
            try #require(response.status == 200)
            let page = try sim.json(response)
            pages += 1
            items += page["value"] as? [[String: Any]] ?? []
            if let deltaLink = page["@odata.deltaLink"] as? String { return (items, deltaLink, pages) }
            next = try #require(page["@odata.nextLink"] as? String)
        }
    }

    @Test("a delta round returns the folder, the next round returns new and removed messages, expiry gives 410")
    func deltaRounds() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.graphAddress).access
            let start = sim.server.graphBaseURL + "/me/mailFolders/inbox/messages/delta?$select=id,receivedDateTime"
            let first = try await Self.round(sim, token: token, from: start)
            let mailbox = try await sim.control("GET", "/mailboxes/\(SimulatorHarness.graphAddress)")
            let inboxCount = try #require((mailbox["folders"] as? [[String: Any]])?.first?["messages"] as? Int)
            #expect(first.items.count == inboxCount)
            #expect(first.pages == (inboxCount + 199) / 200)
            let injected = try await sim.control("POST", "/mailboxes/\(SimulatorHarness.graphAddress)/inject", ["folder": "inbox"])
            let newID = try #require((injected["ids"] as? [String])?.first)
            let removedID = try #require(first.items.first?["id"] as? String)
            try await sim.control("POST", "/mailboxes/\(SimulatorHarness.graphAddress)/delete", ["id": removedID])
            let second = try await Self.round(sim, token: token, from: first.deltaLink)
            #expect(second.items.compactMap { $0["id"] as? String } == [newID, removedID])
            #expect((second.items[1]["@removed"] as? [String: Any])?["reason"] as? String == "deleted")
            try await sim.control("POST", "/cursors/expire", ["mailbox": SimulatorHarness.graphAddress])
            let expired = try await sim.send(second.deltaLink, token: token)
            #expect(expired.status == 410)
            #expect((try sim.json(expired)["error"] as? [String: Any])?["code"] as? String == "SyncStateNotFound")
        }
    }

    @Test("delta accepts only a single receivedDateTime ge filter, and $top caps the whole round")
    func deltaFilterRules() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.graphAddress).access
            let base = sim.server.graphBaseURL + "/me/mailFolders/inbox/messages/delta"
            let range = SimulatorHarness.encode("receivedDateTime ge 2026-01-01T00:00:00Z and receivedDateTime lt 2026-02-01T00:00:00Z")
            let rejected = try await sim.send(base + "?$filter=\(range)", token: token)
            #expect(rejected.status == 400)
            #expect((try sim.json(rejected)["error"] as? [String: Any])?["code"] as? String == "ErrorInvalidUrlQuery")
            let capped = try await Self.round(sim, token: token, from: base + "?$top=25")
            #expect(capped.items.count == 25)
        }
    }

    @Test("a nextLink several pages old gives 410 SyncStateNotFound while the newest one still works")
    func oldNextLinkDies() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.graphAddress).access
            var links = [sim.server.graphBaseURL + "/me/mailFolders/inbox/messages/delta?$select=id"]
            for _ in 0 ..< 5 {
                let page = try sim.json(try await sim.send(links.last!, token: token,
                                                           headers: [("Prefer", "odata.maxpagesize=10")]))
                #expect((page["value"] as? [Any])?.count == 10)
                links.append(try #require(page["@odata.nextLink"] as? String))
            }
            let stale = try await sim.send(links[1], token: token)
            #expect(stale.status == 410)
            #expect((try sim.json(stale)["error"] as? [String: Any])?["code"] as? String == "SyncStateNotFound")
            #expect(try await sim.send(links[5], token: token).status == 200)
        }
    }
}
