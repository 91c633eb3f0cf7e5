import BackfillHTTP
import BackfillSimulator
import Foundation
import Testing

@Suite("Graph folder changes")
struct FolderChangeTests {
    static let address = SimulatorHarness.graphAddress
    /// A window around the scenario's start time that holds the injected mail.
    static let start = "2026-11-25T00:00:00Z"
    static let end = "2026-12-01T00:00:00Z"
    static let immutable = [("Prefer", "IdType=\"ImmutableId\"")]

    /// A control call whose status the test checks itself.
    static func controlStatus(_ sim: SimulatorHarness, _ method: String, _ path: String,
                              _ json: [String: Any]? = nil) async throws -> HTTPResponse {
        let body = try json.map { try JSONSerialization.data(withJSONObject: $0) }
        return try await sim.send(method, sim.server.controlBaseURL + path,
                                  headers: body == nil ? [] : [("Content-Type", "application/json")], body: body)
    }

    static func folderURL(_ sim: SimulatorHarness, _ id: String) -> String {
        "\(sim.server.graphBaseURL)/me/mailFolders/\(SimulatorHarness.encode(id))"
    }

    /// The Inbox's child folders (id → display name) and its childFolderCount.
    static func inboxChildren(_ sim: SimulatorHarness, token: String) async throws -> ([String: String], Int) {
        let listed = try sim.json(try await sim.send(sim.server.graphBaseURL + "/me/mailFolders/inbox/childFolders",
                                                     token: token))
        let children = try #require(listed["value"] as? [[String: Any]])
        let inbox = try sim.json(try await sim.send(sim.server.graphBaseURL + "/me/mailFolders/inbox", token: token))
        let pairs = children.compactMap { child in
            (child["id"] as? String).map { ($0, child["displayName"] as? String ?? "") }
        }
        return (Dictionary(uniqueKeysWithValues: pairs), try #require(inbox["childFolderCount"] as? Int))
    }

    static func expectNotFound(_ sim: SimulatorHarness, _ response: HTTPResponse, _ what: String) throws {
        #expect(response.status == 404, "\(what) answered \(response.status)")
        let error = try sim.json(response)["error"] as? [String: Any]
        #expect(error?["code"] as? String == "ErrorItemNotFound", "\(what)")
        #expect(error?["message"] as? String == "The specified object was not found in the store.", "\(what)")
    }

    @Test("a folder made under the Inbox is listed, filled by id, listed and delta'd; deleted, it is gone and its mail is in Deleted Items")
    func createFillDelete() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: Self.address).access
            let (before, countBefore) = try await Self.inboxChildren(sim, token: token)
            #expect(countBefore == before.count)

            let created = try await Self.controlStatus(sim, "POST", "/mailboxes/\(Self.address)/folders",
                                                       ["displayName": "Invoices"])
            #expect(created.status == 201)
            let folderID = try #require(try sim.json(created)["id"] as? String)
            #expect(before[folderID] == nil)
            let (after, countAfter) = try await Self.inboxChildren(sim, token: token)
            #expect(after[folderID] == "Invoices")
            #expect(countAfter == countBefore + 1)
            #expect(after.count == before.count + 1)
            let inboxID = try #require(try sim.json(try await sim.send(sim.server.graphBaseURL + "/me/mailFolders/inbox",
                                                                       token: token))["id"] as? String)
            let folder = try sim.json(try await sim.send(Self.folderURL(sim, folderID), token: token))
            #expect(folder["parentFolderId"] as? String == inboxID)
            #expect(folder["totalItemCount"] as? Int == 0)

            // A delta round started before any mail, and one on Deleted Items for where the mail ends up.
            let deltaStart = Self.folderURL(sim, folderID) + "/messages/delta?$select=id,receivedDateTime"
            let first = try await GraphDeltaTests.round(sim, token: token, from: deltaStart)
            #expect(first.items.isEmpty)
            let trash = try await GraphDeltaTests.round(
                sim, token: token,
                from: sim.server.graphBaseURL + "/me/mailFolders/deleteditems/messages/delta?$select=id")

            let injected = try await sim.control("POST", "/mailboxes/\(Self.address)/inject",
                                                 ["folder": folderID, "count": 2])
            let ids = try #require(injected["ids"] as? [String])
            #expect(ids.count == 2)

            let filter = SimulatorHarness.encode("receivedDateTime ge \(Self.start) and receivedDateTime lt \(Self.end)")
            let listed = try sim.json(try await sim.send(
                Self.folderURL(sim, folderID) + "/messages?$select=id&$filter=\(filter)&$count=true",
                token: token, headers: Self.immutable))
            #expect(listed["@odata.count"] as? Int == 2)
            #expect(Set((listed["value"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }) == Set(ids))
            let counted = try await sim.send(Self.folderURL(sim, folderID) + "/messages/$count", token: token)
            #expect(String(decoding: counted.body, as: UTF8.self) == "2")
            let second = try await GraphDeltaTests.round(sim, token: token, from: first.deltaLink)
            #expect(Set(second.items.compactMap { $0["id"] as? String }) == Set(ids))
            #expect(try await sim.expected(Self.address, start: Self.start, end: Self.end).isSuperset(of: ids))

            // A skiptoken issued for the folder before it goes.
            let paged = try sim.json(try await sim.send(deltaStart, token: token,
                                                        headers: [("Prefer", "odata.maxpagesize=1")]))
            let nextLink = try #require(paged["@odata.nextLink"] as? String)

            let deleted = try await Self.controlStatus(sim, "DELETE",
                                                       "/mailboxes/\(Self.address)/folders/\(SimulatorHarness.encode(folderID))")
            #expect(deleted.status == 204)

            try Self.expectNotFound(sim, try await sim.send(second.deltaLink, token: token), "the folder's deltaLink")
            try Self.expectNotFound(sim, try await sim.send(nextLink, token: token), "the folder's nextLink")
            let deltaToken = try #require(URLComponents(string: second.deltaLink)?.queryItems?
                .first { $0.name == "$deltatoken" }?.value)
            let elsewhere = sim.server.graphBaseURL + "/me/mailFolders/inbox/messages/delta?$deltatoken="
                + SimulatorHarness.encode(deltaToken)
            try Self.expectNotFound(sim, try await sim.send(elsewhere, token: token), "the folder's deltatoken on the Inbox")
            try Self.expectNotFound(sim, try await sim.send(Self.folderURL(sim, folderID), token: token), "the folder")
            try Self.expectNotFound(sim, try await sim.send(Self.folderURL(sim, folderID) + "/messages", token: token),
                                    "the folder's messages")
            try Self.expectNotFound(sim, try await sim.send(Self.folderURL(sim, folderID) + "/childFolders", token: token),
                                    "the folder's children")
            try Self.expectNotFound(sim, try await sim.send(deltaStart, token: token), "a new delta of the folder")
            let (gone, countGone) = try await Self.inboxChildren(sim, token: token)
            #expect(gone == before)
            #expect(countGone == countBefore)

            let trashed = try sim.json(try await sim.send(
                sim.server.graphBaseURL + "/me/mailFolders/deleteditems/messages?$select=id&$filter=\(filter)",
                token: token, headers: Self.immutable))
            #expect(Set((trashed["value"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }).isSuperset(of: ids))
            let trashRound = try await GraphDeltaTests.round(sim, token: token, from: trash.deltaLink)
            #expect(Set(trashRound.items.compactMap { $0["id"] as? String }) == Set(ids))
            #expect(try await sim.expected(Self.address, start: Self.start, end: Self.end).isDisjoint(with: ids))

            let intoDeleted = try await Self.controlStatus(sim, "POST", "/mailboxes/\(Self.address)/inject",
                                                           ["folder": folderID])
            #expect(intoDeleted.status == 400)
            let again = try await Self.controlStatus(sim, "DELETE",
                                                     "/mailboxes/\(Self.address)/folders/\(SimulatorHarness.encode(folderID))")
            #expect(again.status == 404)
        }
    }

    @Test("inject takes a role or any folder's id; unknown names are a 400, and well-known folders cannot be deleted")
    func folderNames() async throws {
        try await SimulatorHarness.with { sim in
            let mailbox = try await sim.control("GET", "/mailboxes/\(Self.address)")
            let folders = try #require(mailbox["folders"] as? [[String: Any]])
            let archiveID = try #require(folders.first { $0["role"] as? String == "archive" }?["id"] as? String)
            let inboxID = try #require(folders.first { $0["role"] as? String == "inbox" }?["id"] as? String)
            let receiptsID = try #require(folders.first { $0["role"] as? String == "custom" }?["id"] as? String)

            let byID = try await sim.control("POST", "/mailboxes/\(Self.address)/inject", ["folder": archiveID])
            let byRole = try await sim.control("POST", "/mailboxes/\(Self.address)/inject", ["folder": "archive"])
            let injected = (byID["ids"] as? [String] ?? []) + (byRole["ids"] as? [String] ?? [])
            #expect(injected.count == 2)
            let token = try await sim.tokens(for: Self.address).access
            for id in injected {
                let message = try sim.json(try await sim.send(
                    sim.server.graphBaseURL + "/me/messages/\(SimulatorHarness.encode(id))?$select=parentFolderId",
                    token: token))
                #expect(message["parentFolderId"] as? String == archiveID)
            }

            let unknown = try await Self.controlStatus(sim, "POST", "/mailboxes/\(Self.address)/inject", ["folder": "Invoices"])
            #expect(unknown.status == 400)
            for id in [inboxID, receiptsID] {
                let refused = try await Self.controlStatus(sim, "DELETE",
                                                           "/mailboxes/\(Self.address)/folders/\(SimulatorHarness.encode(id))")
                #expect(refused.status == 400)
            }
            let duplicate = try await Self.controlStatus(sim, "POST", "/mailboxes/\(Self.address)/folders",
                                                         ["displayName": "Projects"])
            #expect(duplicate.status == 409)
        }
    }

    @Test("a Gmail mailbox has no folders to create")
    func gmailRefuses() async throws {
        try await SimulatorHarness.with { sim in
            let refused = try await Self.controlStatus(sim, "POST", "/mailboxes/\(SimulatorHarness.gmailAddress)/folders",
                                                       ["displayName": "Invoices"])
            #expect(refused.status == 400)
            let message = (try sim.json(refused)["error"] as? [String: Any])?["message"] as? String
            #expect(message?.contains("Graph") == true)
        }
    }
}
