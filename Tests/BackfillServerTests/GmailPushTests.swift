import BackfillCore
import BackfillHTTP
@testable import BackfillServer
import BackfillSimulator
import BackfillTestSupport
import Foundation
import Testing

/// `POST /webhooks/gmail` accepts only pushes that prove they come from the Pub/Sub subscription: Google's
/// OIDC token (checked against the simulator's JWKS over real HTTP) or the secret in the push URL. A
/// refused push changes nothing in Redis.
@Suite("Gmail push authentication")
struct GmailPushTests {
    static let address = "jo@example.net"

    // MARK: OIDC

    @Test("a forged push without a token gets 401 with the API's error and marks nothing dirty")
    func forgedWithoutToken() async throws {
        try await PushFixture.with { fixture in
            let reply = try await fixture.push(token: nil)
            #expect(reply.status == 401)
            let error = try reply.error()
            #expect(error.code == "unauthorized")
            #expect(error.message.contains("no valid Google OIDC token"))
            try await fixture.expectNotDirty()
        }
    }

    @Test("with no push authentication configured, every push is refused with 401")
    func nothingConfigured() async throws {
        try await ServerHarness.with { server in
            let connection = try await server.connect("gmail", Self.address)
            let reply = try await server.request("POST", "/webhooks/gmail", json: PushFixture.envelope(Self.address), token: "")
            #expect(reply.status == 401)
            #expect(try reply.error().message.contains("no push authentication configured"))
            #expect(try await server.directory.dirtyCount(connection.id) == 0)
            #expect(try await server.nudged().isEmpty)
        }
    }

    @Test("a token the simulator's Google key signed (Pub/Sub's) gets 204: the connection is dirty and nudged")
    func validToken() async throws {
        try await PushFixture.with { fixture in
            let token = try await fixture.mint(["audience": fixture.audience])
            let reply = try await fixture.push(token: token)
            #expect(reply.status == 204, "\(reply.text)")
            #expect(try await fixture.keyFetches() == 1, "checked against the keys at the certs URL")
            #expect(try await fixture.server.directory.dirtyCount(fixture.connection.id) == 1)
            #expect(try await fixture.server.nudged() == [fixture.connection.id])
        }
    }

    @Test("tokens that must be refused: another key, wrong audience, expired, wrong or unverified account, not Google, garbage")
    func refusedTokens() async throws {
        try await PushFixture.with { fixture in
            let now = Date().timeIntervalSince1970
            let cases: [(String, [String: Any], String)] = [
                ("signed by another key", ["signer": "foreign"], "signature does not verify"),
                ("wrong audience", ["audience": "https://elsewhere.example/webhooks/gmail"], "audience"),
                ("expired", ["issuedAt": now - 7200, "expiresAt": now - 3600], "expired"),
                ("wrong service account", ["email": "intruder@evil-project.iam.gserviceaccount.com"], "service account"),
                ("email not verified", ["emailVerified": false], "email_verified"),
                ("not issued by Google", ["issuer": "https://accounts.evil.example"], "iss"),
                ("issued in the future", ["issuedAt": now + 3600, "expiresAt": now + 7200], "future"),
            ]
            for (name, overrides, reason) in cases {
                var claims: [String: Any] = ["audience": fixture.audience]
                claims.merge(overrides) { _, new in new }
                let token = try await fixture.mint(claims)
                let reply = try await fixture.push(token: token)
                #expect(reply.status == 401, "\(name)")
                let error = try reply.error()
                #expect(error.code == "unauthorized", "\(name)")
                #expect(error.message.contains("no valid Google OIDC token"), "\(name): \(error.message)")
                #expect(error.message.contains(reason), "\(name): \(error.message)")
                #expect(!error.message.contains(token), "the token is never quoted")
            }
            for garbage in ["not-a-jwt", "a.b.c", "Basic abc"] {
                let reply = try await fixture.push(authorization: "Bearer \(garbage)")
                #expect(reply.status == 401, "\(garbage)")
            }
            #expect(try await fixture.push(authorization: "Basic dXNlcjpwYXNz").status == 401)
            try await fixture.expectNotDirty()
        }
    }

    @Test("a token naming an unknown key fetches the keys once more (rotation), at most once per interval")
    func keyRotation() async throws {
        try await PushFixture.with(minimumRefreshInterval: .seconds(2)) { fixture in
            #expect(try await fixture.push(token: fixture.mint(["audience": fixture.audience])).status == 204)
            #expect(try await fixture.keyFetches() == 1)
            // Cached: more pushes with the same key fetch nothing.
            #expect(try await fixture.push(token: fixture.mint(["audience": fixture.audience])).status == 204)
            #expect(try await fixture.keyFetches() == 1)

            _ = try await fixture.control("POST", "/pubsub/rotate-key")
            try await Task.sleep(for: .milliseconds(2100))
            // Five pushes under the new key at once share one fetch.
            let token = try await fixture.mint(["audience": fixture.audience])
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<5 { group.addTask { try await fixture.push(token: token).status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == [204, 204, 204, 204, 204])
            #expect(try await fixture.keyFetches() == 2)

            // A key id Google never published, right after: refused without another fetch (rate limit).
            let unknown = try await fixture.mint(["audience": fixture.audience, "kid": "0123456789abcdef-unknown"])
            let reply = try await fixture.push(token: unknown)
            #expect(reply.status == 401)
            #expect(try reply.error().message.contains("does not publish"))
            #expect(try await fixture.keyFetches() == 2)
        }
    }

    @Test("when Google's keys cannot be fetched, a push gets 503 (Pub/Sub sends it again) and marks nothing")
    func keysUnavailable() async throws {
        let closed = try PrivateRedisServer.freePort()
        try await PushFixture.with(certsURL: "http://127.0.0.1:\(closed)/oauth2/v3/certs") { fixture in
            let reply = try await fixture.push(token: fixture.mint(["audience": fixture.audience]))
            #expect(reply.status == 503)
            #expect(try reply.error().code == "unavailable")
            try await fixture.expectNotDirty()
        }
    }

    @Test("the simulator's Gmail watch pushes like Pub/Sub with authentication: signed pushes are taken, others refused")
    func simulatorDelivers() async throws {
        try await PushFixture.with { fixture in
            try await fixture.watch()
            try await fixture.inject()
            #expect(try await fixture.lastDelivery() == 204)
            #expect(try await fixture.server.directory.dirtyCount(fixture.connection.id) == 1)

            for mode in ["absent", "foreignKey", "expired"] {
                _ = try await fixture.control("PATCH", "/knobs", ["gmailPushToken": mode])
                try await fixture.inject()
                #expect(try await fixture.lastDelivery() == 401, "\(mode)")
            }
            _ = try await fixture.control("PATCH", "/knobs", ["gmailPushToken": "oidc", "gmailPushAudience": "some-other-audience"])
            try await fixture.inject()
            #expect(try await fixture.lastDelivery() == 401, "wrong audience")
            #expect(try await fixture.server.directory.dirtyCount(fixture.connection.id) == 1, "only the first push counted")
        }
    }

    // MARK: URL token

    @Test("the URL-token method: the right token gets 204, a wrong or missing one 401 and nothing marked")
    func urlToken() async throws {
        let secret = "push-url-secret-0123456789abcdef0123456789"
        var options = ServerHarness.Options()
        options.gmailPush = GmailPushAuthentication(urlToken: secret)
        try await ServerHarness.with(options) { server in
            let connection = try await server.connect("gmail", Self.address)
            let body = PushFixture.envelope(Self.address)
            for path in ["/webhooks/gmail", "/webhooks/gmail?token=wrong", "/webhooks/gmail?token=\(secret)x",
                         "/webhooks/gmail?token=\(secret.dropLast())"] {
                let reply = try await server.request("POST", path, json: body, token: "")
                #expect(reply.status == 401, "\(path)")
                #expect(try reply.error().message.contains("no valid token"))
            }
            #expect(try await server.directory.dirtyCount(connection.id) == 0)
            #expect(try await server.nudged().isEmpty)
            let reply = try await server.request("POST", "/webhooks/gmail?token=\(secret)", json: body, token: "")
            #expect(reply.status == 204)
            #expect(try await server.directory.dirtyCount(connection.id) == 1)
        }
    }

    @Test("with both methods configured a push must pass both")
    func bothMethods() async throws {
        let secret = "push-url-secret-0123456789abcdef0123456789"
        try await PushFixture.with(urlToken: secret) { fixture in
            let token = try await fixture.mint(["audience": fixture.audience])
            #expect(try await fixture.push(token: token).status == 401, "no URL token")
            #expect(try await fixture.push(token: nil, query: "?token=\(secret)").status == 401, "no OIDC token")
            try await fixture.expectNotDirty()
            #expect(try await fixture.push(token: token, query: "?token=\(secret)").status == 204)
        }
    }

    @Test("serve refuses an audience without a service account, and a short URL token, before starting")
    func serveValidation() async throws {
        let base = ["serve", "--listen", "127.0.0.1:0", "--secret-key", "0123456789abcdef0123"]
        let alone = try await CLITests.run(base + ["--gmail-push-audience", "https://backfill.example.com/webhooks/gmail"], url: nil)
        #expect(alone.status == 2)
        #expect(alone.error.contains("BACKFILL_GMAIL_PUSH_SERVICE_ACCOUNT"), "\(alone.error)")
        let short = try await CLITests.run(base + ["--gmail-push-token", "short"], url: nil)
        #expect(short.status == 2)
        #expect(short.error.contains("BACKFILL_GMAIL_PUSH_TOKEN") && short.error.contains("too short"), "\(short.error)")
    }
}

/// A Backfill instance on a port known up front whose Gmail pushes are verified against the simulator's
/// Google keys, with the simulator's push audience (the push endpoint URL) and service account, and one
/// Gmail connection for the simulator's mailbox.
struct PushFixture: Sendable {
    let server: ServerHarness
    let sim: SimulatorServer
    let connection: ConnectionView
    let http: HTTPClient
    /// What the service expects in `aud`: its push endpoint, as Pub/Sub writes by default.
    var audience: String { server.baseURL + "/webhooks/gmail" }

    static func with(certsURL: String? = nil, minimumRefreshInterval: Duration = .seconds(60), urlToken: String? = nil,
                     _ body: @Sendable (PushFixture) async throws -> Void) async throws {
        let scenario = Scenario(seed: 9, mailboxes: [MailboxSpec(provider: .gmail, address: GmailPushTests.address, messageCount: 5)])
        let sim = try await SimulatorServer.start(scenario: scenario)
        let http = HTTPClient()
        let port = try PrivateRedisServer.freePort()
        var oidc = GmailPushAuthentication.OIDC(
            audience: "http://127.0.0.1:\(port)/webhooks/gmail", serviceAccount: SimulatorServer.pushServiceAccount,
            certsURL: certsURL ?? sim.googleCertsURL
        )
        oidc.minimumRefreshInterval = minimumRefreshInterval
        var options = ServerHarness.Options()
        options.port = port
        options.gmailPush = GmailPushAuthentication(oidc: oidc, urlToken: urlToken)
        do {
            try await ServerHarness.with(options) { server in
                let connection = try await server.connect("gmail", GmailPushTests.address)
                try await body(PushFixture(server: server, sim: sim, connection: connection, http: http))
            }
        } catch {
            await http.shutdown()
            await sim.stop()
            throw error
        }
        await http.shutdown()
        await sim.stop()
    }

    static func envelope(_ address: String) -> String {
        let payload = Data(#"{"emailAddress": "\#(address)", "historyId": 4242}"#.utf8).base64EncodedString()
        return #"{"message": {"data": "\#(payload)", "messageId": "1"}, "subscription": "projects/p/subscriptions/s"}"#
    }

    /// A push as Pub/Sub sends it, with `token` as its OIDC token (nil: none).
    func push(token: String?, query: String = "") async throws -> ServerHarness.Reply {
        try await push(authorization: token.map { "Bearer \($0)" }, query: query)
    }

    func push(authorization: String?, query: String = "") async throws -> ServerHarness.Reply {
        try await server.request("POST", "/webhooks/gmail" + query, json: Self.envelope(GmailPushTests.address), token: "",
                                 headers: authorization.map { [("Authorization", $0)] } ?? [])
    }

    /// A push token signed by the simulator with `claims` (see `/_sim/pubsub/token`).
    func mint(_ claims: [String: Any]) async throws -> String {
        guard let token = try await control("POST", "/pubsub/token", claims)["token"] as? String else {
            throw TestSetupError("the simulator minted no push token")
        }
        return token
    }

    func keyFetches() async throws -> Int {
        try await control("GET", "/pubsub/keys")["fetches"] as? Int ?? -1
    }

    func expectNotDirty() async throws {
        #expect(try await server.directory.dirtyCount(connection.id) == 0)
        #expect(try await server.nudged().isEmpty)
    }

    /// A Gmail watch on the mailbox whose topic pushes to this service, as the keeper would make it.
    func watch() async throws {
        _ = try await control("POST", "/pubsub", ["topicName": "projects/p/topics/gmail", "pushEndpoint": audience])
        guard let access = try await control("POST", "/tokens", ["mailbox": GmailPushTests.address])["accessToken"] as? String else {
            throw TestSetupError("the simulator issued no token")
        }
        let reply = try await http.send(HTTPRequest(
            method: "POST", url: sim.gmailBaseURL + "/gmail/v1/users/me/watch",
            headers: ["Authorization": "Bearer \(access)", "Content-Type": "application/json"],
            body: Data(#"{"topicName": "projects/p/topics/gmail", "labelIds": ["INBOX"]}"#.utf8)
        ))
        guard reply.status == 200 else { throw TestSetupError("watch answered \(reply.status)") }
    }

    /// New mail in the inbox: the simulator pushes before it answers.
    func inject() async throws {
        _ = try await control("POST", "/mailboxes/\(GmailPushTests.address)/inject", ["folder": "inbox"])
    }

    /// The status the service answered the simulator's last Gmail push with.
    func lastDelivery() async throws -> Int? {
        let deliveries = try await control("GET", "/deliveries")["value"] as? [[String: Any]] ?? []
        return deliveries.last { $0["kind"] as? String == "gmail.push" }?["status"] as? Int
    }

    /// A call to the simulator's control API.
    @discardableResult
    func control(_ method: String, _ path: String, _ json: [String: Any]? = nil) async throws -> [String: Any] {
        let reply = try await http.send(HTTPRequest(
            method: method, url: sim.controlBaseURL + path, headers: json == nil ? [:] : ["Content-Type": "application/json"],
            body: try json.map { try JSONSerialization.data(withJSONObject: $0) }
        ))
        guard (200..<300).contains(reply.status) else {
            throw TestSetupError("\(method) \(path) answered \(reply.status): \(String(decoding: reply.body, as: UTF8.self))")
        }
        return reply.body.isEmpty ? [:] : (try JSONSerialization.jsonObject(with: reply.body) as? [String: Any] ?? [:])
    }
}
