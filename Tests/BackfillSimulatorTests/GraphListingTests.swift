import BackfillHTTP
import BackfillSimulator
import Foundation
import Testing

@Suite("Graph message listing")
struct GraphListingTests {
    static let start = "2026-08-27T00:00:00Z"
    static let end = "2026-11-20T00:00:00Z"

    /// The folder listing URL for the window, with immutable ids asked for in `Prefer`.
    static func listURL(_ sim: SimulatorHarness, folder: String) -> String {
        let filter = SimulatorHarness.encode("receivedDateTime ge \(start) and receivedDateTime lt \(end)")
        return "\(sim.server.graphBaseURL)/me/mailFolders/\(folder)/messages?$select=id,receivedDateTime&$filter=\(filter)"
            + "&$orderby=receivedDateTime+desc&$top=100&$count=true"
    }

    static let immutable = [("Prefer", "IdType=\"ImmutableId\"")]

    /// Follows nextLinks verbatim; returns ids in order and the `$skip` values seen.
    static func listAll(_ sim: SimulatorHarness, token: String, folder: String) async throws -> ([String], [Int]) {
        var ids: [String] = []
        var skips: [Int] = []
        var next: String? = listURL(sim, folder: folder)
        while let url = next {
            let response = try await sim.send(url, token: token, headers: immutable)
            try #require(response.status == 200)
            let page = try sim.json(response)
            ids += try #require(page["value"] as? [[String: Any]]).compactMap { $0["id"] as? String }
            next = page["@odata.nextLink"] as? String
            if let next, let skip = URLComponents(string: next)?.queryItems?.first(where: { $0.name == "$skip" })?.value {
                skips.append(Int(skip) ?? -1)
            }
        }
        return (ids, skips)
    }

    @Test("following nextLinks verbatim returns every Inbox, Inbox child and Sent message of the window exactly once")
    func verbatimPagingMatchesExpectedSet() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.graphAddress).access
            let folders = try sim.json(try await sim.send(sim.server.graphBaseURL + "/me/mailFolders/inbox/childFolders",
                                                          token: token))
            let child = try #require((folders["value"] as? [[String: Any]])?.first?["id"] as? String)
            let (inbox, skips) = try await Self.listAll(sim, token: token, folder: "inbox")
            let (projects, _) = try await Self.listAll(sim, token: token, folder: child)
            let (sent, _) = try await Self.listAll(sim, token: token, folder: "sentitems")
            let all = inbox + projects + sent
            let expected = try await sim.expected(SimulatorHarness.graphAddress, start: Self.start, end: Self.end)
            #expect(all.count == Set(all).count, "no message twice")
            #expect(Set(all) == expected)
            #expect(expected.count > 500)
            #expect(skips.first.map { $0 > 100 } == true, "the first nextLink skips past non-message items too")
        }
    }

    @Test("a client that computes $skip from $top misses messages when pages come back smaller than asked")
    func computedSkipMissesMessages() async throws {
        var knobs = SimulatorKnobs()
        knobs.graphMaxPageSize = 60
        try await SimulatorHarness.with(knobs: knobs) { sim in
            let token = try await sim.tokens(for: SimulatorHarness.graphAddress).access
            let (verbatim, skips) = try await Self.listAll(sim, token: token, folder: "inbox")
            let first = try sim.json(try await sim.send(Self.listURL(sim, folder: "inbox"), token: token,
                                                        headers: Self.immutable))
            let count = try #require(first["@odata.count"] as? Int)
            #expect(verbatim.count == count)
            #expect(Set(verbatim).count == count)
            #expect(skips.contains { $0 % 60 != 0 }, "nextLink $skip values are not multiples of the page size")
            var computed: [String] = []
            for page in 0 ..< (count + 99) / 100 {
                let response = try await sim.send(Self.listURL(sim, folder: "inbox") + "&$skip=\(page * 100)",
                                                  token: token, headers: Self.immutable)
                computed += try #require(try sim.json(response)["value"] as? [[String: Any]]).compactMap { $0["id"] as? String }
            }
            #expect(Set(computed).count < count)
            #expect(Set(computed).isSubset(of: Set(verbatim)))
        }
    }

    @Test("the expected set leaves out drafts, archive and the custom folder")
    func expectedSetExcludesOtherFolders() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.graphAddress).access
            let expected = try await sim.expected(SimulatorHarness.graphAddress, start: Self.start, end: Self.end)
            let mailbox = try await sim.control("GET", "/mailboxes/\(SimulatorHarness.graphAddress)")
            let folders = try #require(mailbox["folders"] as? [[String: Any]])
            for role in ["drafts", "archive", "custom"] {
                let id = try #require(folders.first { $0["role"] as? String == role }?["id"] as? String)
                let (ids, _) = try await GraphListingTests.listAll(sim, token: token, folder: id)
                #expect(!ids.isEmpty, "\(role) has messages in the window")
                #expect(expected.isDisjoint(with: ids), "\(role) is not backfilled")
            }
        }
    }

    @Test("/$count answers the filtered count as plain text, and message ids change on move unless immutable")
    func countAndMutableIDs() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.graphAddress).access
            let filter = SimulatorHarness.encode("receivedDateTime ge \(Self.start) and receivedDateTime lt \(Self.end)")
            let countResponse = try await sim.send("\(sim.server.graphBaseURL)/me/mailFolders/inbox/messages/$count?$filter=\(filter)",
                                                   token: token)
            let (inbox, _) = try await Self.listAll(sim, token: token, folder: "inbox")
            #expect(String(decoding: countResponse.body, as: UTF8.self) == String(inbox.count))
            let page = try sim.json(try await sim.send(sim.server.graphBaseURL + "/me/mailFolders/inbox/messages?$top=1&$select=id",
                                                       token: token))
            let mutableID = try #require((page["value"] as? [[String: Any]])?.first?["id"] as? String)
            try await sim.control("POST", "/mailboxes/\(SimulatorHarness.graphAddress)/move", ["id": mutableID, "folder": "archive"])
            let stale = try await sim.send("\(sim.server.graphBaseURL)/me/messages/\(SimulatorHarness.encode(mutableID))", token: token)
            #expect(stale.status == 404)
        }
    }
}
