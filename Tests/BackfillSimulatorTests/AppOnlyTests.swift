import BackfillHTTP
import BackfillSimulator
import Foundation
import Testing

/// App-only Microsoft 365 (client credentials): the token endpoint in the scenario's tenant, what an app token
/// may read and subscribe to, and the consent controls.
@Suite("App-only Graph tokens")
struct AppOnlyTests {
    static let tenant = "3f6c1a52-8d3e-4b7a-9c21-5e0d4f7a9b10"
    static let secret = "app-secret-1"

    /// The harness's mailboxes, with a client secret the token endpoint checks.
    static func with(_ body: (SimulatorHarness) async throws -> Void) async throws {
        var scenario = SimulatorHarness.scenario()
        scenario.graphClientSecret = secret
        let server = try await SimulatorServer.start(scenario: scenario)
        let client = HTTPClient()
        do {
            try await body(SimulatorHarness(server: server, client: client))
        } catch {
            await client.shutdown()
            await server.stop()
            throw error
        }
        await client.shutdown()
        await server.stop()
    }

    static func grant(_ sim: SimulatorHarness, tenant: String = tenant, clientID: String = "backfill-graph-client",
                      secret: String? = secret, scope: String = "https://graph.microsoft.com/.default") async throws -> HTTPResponse {
        var form = "grant_type=client_credentials&client_id=\(clientID)&scope=\(SimulatorHarness.encode(scope))"
        if let secret { form += "&client_secret=\(SimulatorHarness.encode(secret))" }
        return try await sim.send("POST", sim.server.microsoftLoginBaseURL + "/\(tenant)/oauth2/v2.0/token",
                                  headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Data(form.utf8))
    }

    static func appToken(_ sim: SimulatorHarness) async throws -> String {
        let answer = try await grant(sim)
        #expect(answer.status == 200)
        return try #require(try sim.json(answer)["access_token"] as? String)
    }

    static func subscribe(_ sim: SimulatorHarness, token: String, resource: String) async throws -> HTTPResponse {
        let request: [String: Any] = [
            "changeType": "created", "notificationUrl": sim.server.controlBaseURL + "/sink/app",
            "resource": resource, "clientState": "s", "expirationDateTime": "2026-11-28T12:00:00Z",
        ]
        return try await sim.send("POST", sim.server.graphBaseURL + "/subscriptions", token: token,
                                  headers: [("Content-Type", "application/json")],
                                  body: try JSONSerialization.data(withJSONObject: request))
    }

    static func errorCode(_ sim: SimulatorHarness, _ response: HTTPResponse) throws -> String? {
        (try sim.json(response)["error"] as? [String: Any])?["code"] as? String
    }

    @Test("client credentials in the scenario's tenant give an hour's app token and no refresh token; it reads any mailbox by /users, not /me")
    func grantAndRead() async throws {
        try await Self.with { sim in
            let answer = try await Self.grant(sim)
            #expect(answer.status == 200)
            let body = try sim.json(answer)
            #expect(body["token_type"] as? String == "Bearer")
            #expect(body["expires_in"] as? Int == 3599)
            #expect(body["refresh_token"] == nil)
            let token = try #require(body["access_token"] as? String)
            for address in [SimulatorHarness.graphAddress, SimulatorHarness.sharedAddress] {
                let folders = try await sim.send("\(sim.server.graphBaseURL)/users/\(address)/mailFolders/inbox", token: token)
                #expect(folders.status == 200, "\(address)")
            }
            let me = try await sim.send(sim.server.graphBaseURL + "/me/mailFolders", token: token)
            #expect(me.status == 400)
            #expect((try sim.json(me)["error"] as? [String: Any])?["message"] as? String == "/me request is only valid with delegated authentication flow.")
            // Gmail is not Microsoft's: the app token means nothing there.
            let gmail = try await sim.send(sim.server.gmailBaseURL + "/gmail/v1/users/\(SimulatorHarness.gmailAddress)/profile", token: token)
            #expect(gmail.status == 401)
            // The control API's app token carries the same role.
            #expect(try await sim.control("POST", "/tokens", ["app": true])["roles"] as? [String] == ["Mail.Read"])
        }
    }

    @Test("a wrong or missing secret is invalid_client (401), an unknown client unauthorized_client, another tenant or a scope without /.default 400")
    func refusedGrants() async throws {
        try await Self.with { sim in
            let wrong = try await Self.grant(sim, secret: "wrong")
            #expect(wrong.status == 401)
            #expect(try sim.json(wrong)["error"] as? String == "invalid_client")
            #expect(try sim.json(wrong)["error_codes"] as? [Int] == [7_000_215])
            let missing = try await Self.grant(sim, secret: nil)
            #expect(missing.status == 401)
            #expect(try sim.json(missing)["error_codes"] as? [Int] == [7_000_218])
            let unknown = try await Self.grant(sim, clientID: "someone-else")
            #expect(unknown.status == 400)
            #expect(try sim.json(unknown)["error"] as? String == "unauthorized_client")
            for tenant in ["common", "0b5d6a6e-0000-4000-8000-000000000000"] {
                let other = try await Self.grant(sim, tenant: tenant)
                #expect(other.status == 400, "\(tenant)")
                #expect(try sim.json(other)["error_codes"] as? [Int] == [90_002])
            }
            let scope = try await Self.grant(sim, scope: "https://graph.microsoft.com/Mail.Read")
            #expect(scope.status == 400)
            #expect(try sim.json(scope)["error"] as? String == "invalid_scope")
        }
    }

    @Test("an app token subscribes to a shared mailbox (creatorId: the app's service principal); a delegated token is refused 403 there")
    func sharedMailboxSubscription() async throws {
        try await Self.with { sim in
            let app = try await Self.appToken(sim)
            let delegated = try await sim.tokens(for: SimulatorHarness.graphAddress).access
            let resource = "users/\(SimulatorHarness.sharedAddress)/mailFolders('inbox')/messages"
            let refused = try await Self.subscribe(sim, token: delegated, resource: resource)
            #expect(refused.status == 403)
            #expect(try Self.errorCode(sim, refused) == "ErrorAccessDenied")
            let created = try await Self.subscribe(sim, token: app, resource: resource)
            #expect(created.status == 201)
            let servicePrincipal = try #require(try await sim.control("GET", "/app")["servicePrincipalId"] as? String)
            #expect(try sim.json(created)["creatorId"] as? String == servicePrincipal)
            // The subscription call counts against the mailbox it watches.
            let journal = try #require(try await sim.control("GET", "/journal?mailbox=\(SimulatorHarness.sharedAddress)")["value"] as? [[String: Any]])
            #expect(journal.contains { $0["route"] as? String == "graph.subscriptions.post" && $0["status"] as? Int == 201 })
            _ = try await sim.control("POST", "/mailboxes/\(SimulatorHarness.sharedAddress)/inject", ["folder": "inbox"])
            #expect((try await sim.control("GET", "/sink/app")["value"] as? [String])?.count == 1)
        }
    }

    @Test("revoked consent: every call with an app token is 403 and new tokens carry no role; disabled app: the grant is refused")
    func consentControls() async throws {
        try await Self.with { sim in
            let token = try await Self.appToken(sim)
            let url = "\(sim.server.graphBaseURL)/users/\(SimulatorHarness.sharedAddress)/mailFolders/inbox"
            #expect(try await sim.send(url, token: token).status == 200)
            try await sim.control("POST", "/app/revoke-consent")
            let denied = try await sim.send(url, token: token)
            #expect(denied.status == 403)
            #expect(try Self.errorCode(sim, denied) == "ErrorAccessDenied")
            #expect(try await Self.subscribe(sim, token: token, resource: "users/\(SimulatorHarness.graphAddress)/messages").status == 403)
            let roleless = try await Self.appToken(sim)
            #expect(try await sim.send(url, token: roleless).status == 403)
            try await sim.control("POST", "/app/restore-consent")
            #expect(try await sim.send(url, token: token).status == 200)
            #expect(try await sim.send(url, token: roleless).status == 403, "a token issued without consent keeps no role")
            #expect(try await sim.send(url, token: try await Self.appToken(sim)).status == 200)

            try await sim.control("POST", "/app/disable")
            let disabled = try await Self.grant(sim)
            #expect(disabled.status == 400)
            #expect(try sim.json(disabled)["error"] as? String == "unauthorized_client")
            #expect(try sim.json(disabled)["error_codes"] as? [Int] == [7_000_112])
            try await sim.control("POST", "/app/enable")
            #expect(try await Self.grant(sim).status == 200)
            #expect(try await sim.control("GET", "/app")["tokenGrants"] as? Int == 4)
        }
    }
}
