import BackfillHTTP
import BackfillSimulator
import Foundation
import Testing

@Suite("OAuth token endpoints")
struct TokenTests {
    static func refresh(_ sim: SimulatorHarness, url: String, clientID: String, token: String) async throws -> HTTPResponse {
        let form = "grant_type=refresh_token&client_id=\(clientID)&refresh_token=\(SimulatorHarness.encode(token))"
        return try await sim.send("POST", url, headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                  body: Data(form.utf8))
    }

    static func microsoftTokenURL(_ sim: SimulatorHarness) -> String {
        sim.server.microsoftLoginBaseURL + "/common/oauth2/v2.0/token"
    }

    @Test("an expired Graph access token gives 401; a refresh gives a new one and a rotated refresh token")
    func graphRefreshRotates() async throws {
        try await SimulatorHarness.with { sim in
            let (access, refresh) = try await sim.tokens(for: SimulatorHarness.graphAddress)
            let url = sim.server.graphBaseURL + "/me/mailFolders"
            #expect(try await sim.send(url, token: access).status == 200)
            try await sim.control("POST", "/clock/advance", ["seconds": 3600])
            let expired = try await sim.send(url, token: access)
            #expect(expired.status == 401)
            #expect((try sim.json(expired)["error"] as? [String: Any])?["code"] as? String == "InvalidAuthenticationToken")
            let answer = try await Self.refresh(sim, url: Self.microsoftTokenURL(sim), clientID: "backfill-graph-client",
                                                token: refresh)
            #expect(answer.status == 200)
            let tokens = try sim.json(answer)
            let newAccess = try #require(tokens["access_token"] as? String)
            let newRefresh = try #require(tokens["refresh_token"] as? String)
            #expect(newAccess != access)
            #expect(newRefresh != refresh)
            #expect(try await sim.send(url, token: newAccess).status == 200)
            let reused = try await Self.refresh(sim, url: Self.microsoftTokenURL(sim), clientID: "backfill-graph-client",
                                                token: refresh)
            #expect(reused.status == 400)
            #expect(try sim.json(reused)["error"] as? String == "invalid_grant")
        }
    }

    @Test("a revoked refresh token gives invalid_grant (AADSTS50173 on Microsoft, 'expired or revoked' on Google)")
    func revokedRefreshToken() async throws {
        try await SimulatorHarness.with { sim in
            let graph = try await sim.tokens(for: SimulatorHarness.graphAddress)
            let gmail = try await sim.tokens(for: SimulatorHarness.gmailAddress)
            try await sim.control("POST", "/mailboxes/\(SimulatorHarness.graphAddress)/revoke-tokens")
            try await sim.control("POST", "/mailboxes/\(SimulatorHarness.gmailAddress)/revoke-tokens")
            let microsoft = try await Self.refresh(sim, url: Self.microsoftTokenURL(sim), clientID: "backfill-graph-client",
                                                   token: graph.refresh)
            #expect(microsoft.status == 400)
            let microsoftError = try sim.json(microsoft)
            #expect(microsoftError["error"] as? String == "invalid_grant")
            #expect(microsoftError["error_codes"] as? [Int] == [50173])
            let google = try await Self.refresh(sim, url: sim.server.googleOAuthBaseURL + "/token",
                                                clientID: "backfill-google-client", token: gmail.refresh)
            #expect(google.status == 400)
            #expect(try sim.json(google)["error"] as? String == "invalid_grant")
            #expect(try sim.json(google)["error_description"] as? String == "Token has been expired or revoked.")
        }
    }

    @Test("a Google refresh gives a new access token and keeps the refresh token")
    func googleRefreshKeepsToken() async throws {
        try await SimulatorHarness.with { sim in
            let (_, refresh) = try await sim.tokens(for: SimulatorHarness.gmailAddress)
            let answer = try await Self.refresh(sim, url: sim.server.googleOAuthBaseURL + "/token",
                                                clientID: "backfill-google-client", token: refresh)
            #expect(answer.status == 200)
            let tokens = try sim.json(answer)
            #expect(tokens["refresh_token"] == nil)
            let access = try #require(tokens["access_token"] as? String)
            #expect(try await sim.send(sim.server.gmailBaseURL + "/gmail/v1/users/me/profile", token: access).status == 200)
        }
    }
}
