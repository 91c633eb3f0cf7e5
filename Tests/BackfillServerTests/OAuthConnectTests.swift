import BackfillCore
import BackfillHTTP
import BackfillProviders
@testable import BackfillScheduler
@testable import BackfillServer
import BackfillSimulator
import BackfillTestSupport
import Foundation
import Testing

@Suite("OAuth connect flow against the simulator's consent pages")
struct OAuthConnectTests {
    static let graphUser = "ada@contoso.example"
    static let gmailUser = "jo@example.net"

    @Test("Microsoft 365: start, Allow on the consent page, callback: the mailbox is connected with working tokens")
    func graphRoundTrip() async throws {
        try await OAuthFlow.with { flow in
            let start = try await flow.get(flow.server.baseURL + "/oauth/graph/start")
            #expect(start.status == 302)
            let consentURL = try #require(start.headers["Location"])
            #expect(consentURL.hasPrefix(flow.sim.microsoftLoginBaseURL + "/common/oauth2/v2.0/authorize?"))
            let query = try OAuthFlow.query(consentURL)
            #expect(query["response_type"] == "code")
            #expect(query["client_id"] == flow.scenario.graphClientID)
            #expect(query["redirect_uri"] == flow.server.baseURL + "/oauth/graph/callback")
            #expect(query["scope"] == "offline_access Mail.Read Mail.Read.Shared")
            #expect(query["code_challenge_method"] == "S256")
            #expect(query["code_challenge"]?.count == 43)
            let state = try #require(query["state"])
            let ttl = try await flow.server.scheduler.redis.send(["TTL", flow.server.scheduler.keys.oauthState(state)]).int
            #expect((1...600).contains(ttl ?? -1), "the pending sign-in expires within 10 minutes")

            let id = try await flow.connect(consentURL: consentURL, account: Self.graphUser)
            let connection = try #require(try await flow.server.directory.connection(id))
            #expect(connection.provider == .graph)
            #expect(connection.address == Self.graphUser)
            #expect(connection.health == .healthy)
            let credentials = try #require(try await flow.server.directory.credentials(for: id))
            #expect(credentials.expiresAt != nil)
            let folders = try await flow.get(flow.sim.graphBaseURL + "/me/mailFolders", token: credentials.accessToken)
            #expect(folders.status == 200, "the stored access token opens the mailbox")
            #expect(try await flow.server.scheduler.redis.send(["EXISTS", flow.server.scheduler.keys.oauthState(state)]).int == 0)
        }
    }

    @Test("unauthenticated starts are capped: past the cap a 429 keeps nothing in Redis, and a finished flow frees its place")
    func startsAreBounded() async throws {
        try await OAuthFlow.with(maximumPendingSignIns: 5) { flow in
            let redis = flow.server.scheduler.redis
            let keys = flow.server.scheduler.keys
            var consentURLs: [String] = []
            for _ in 0..<5 {
                let start = try await flow.get(flow.server.baseURL + "/oauth/graph/start")
                #expect(start.status == 302)
                consentURLs.append(try #require(start.headers["Location"]))
            }
            func oauthKeys() async throws -> Int { try await redis.send(["KEYS", keys.prefix + ":oauth:*"]).array?.count ?? -1 }
            #expect(try await oauthKeys() == 6, "five states and the set of flows in progress")
            for _ in 0..<50 {
                let refused = try await flow.get(flow.server.baseURL + "/oauth/gmail/start")
                #expect(refused.status == 429)
                #expect((1...600).contains(Int(refused.headers["Retry-After"] ?? "") ?? -1))
            }
            #expect(try await oauthKeys() == 6, "a refused start keeps nothing")
            #expect(try await redis.send(["ZCARD", keys.oauthPending]).int == 5)
            // A record is small: the provider and the 43-character PKCE verifier.
            let state = try #require(try OAuthFlow.query(consentURLs[0])["state"])
            #expect(try await redis.send(["STRLEN", keys.oauthState(state)]).int == 49)

            _ = try await flow.connect(consentURL: consentURLs[0], account: Self.graphUser)
            #expect(try await redis.send(["ZCARD", keys.oauthPending]).int == 4)
            #expect(try await flow.get(flow.server.baseURL + "/oauth/gmail/start").status == 302)
        }
    }

    @Test("Gmail: offline access with forced consent; the profile's address names the connection")
    func gmailRoundTrip() async throws {
        try await OAuthFlow.with { flow in
            let start = try await flow.get(flow.server.baseURL + "/oauth/gmail/start")
            let consentURL = try #require(start.headers["Location"])
            #expect(consentURL.hasPrefix(flow.sim.googleOAuthBaseURL + "/o/oauth2/v2/auth?"))
            let query = try OAuthFlow.query(consentURL)
            #expect(query["scope"] == "https://www.googleapis.com/auth/gmail.readonly")
            #expect(query["access_type"] == "offline")
            #expect(query["prompt"] == "consent")
            #expect(query["client_id"] == flow.scenario.googleClientID)
            let id = try await flow.connect(consentURL: consentURL, account: Self.gmailUser)
            let connection = try #require(try await flow.server.directory.connection(id))
            #expect(connection.provider == .gmail)
            #expect(connection.address == Self.gmailUser)
            let credentials = try #require(try await flow.server.directory.credentials(for: id))
            let profile = try await flow.get(flow.sim.gmailBaseURL + "/gmail/v1/users/me/profile", token: credentials.accessToken)
            #expect(profile.status == 200)
        }
    }

    @Test("an unknown, forged or replayed state is refused with 400 and connects nothing")
    func badStateRefused() async throws {
        try await OAuthFlow.with { flow in
            let forged = try await flow.get(flow.server.baseURL + "/oauth/graph/callback?code=abc&state=" + PKCE.randomToken(bytes: 32))
            #expect(forged.status == 400)
            #expect(forged.text.contains("does not match one started here"))
            let malformed = try await flow.get(flow.server.baseURL + "/oauth/graph/callback?code=abc&state=%7Bx%7D")
            #expect(malformed.status == 400)
            let missing = try await flow.get(flow.server.baseURL + "/oauth/graph/callback?code=abc")
            #expect(missing.status == 400)

            // A state started for Gmail does not finish a Microsoft sign-in.
            let gmailStart = try await flow.get(flow.server.baseURL + "/oauth/gmail/start")
            let gmailConsent = try #require(gmailStart.headers["Location"])
            let gmailState = try #require(try OAuthFlow.query(gmailConsent)["state"])
            let crossed = try await flow.get(flow.server.baseURL + "/oauth/graph/callback?code=abc&state=" + gmailState)
            #expect(crossed.status == 400)

            // A real callback works once; the same URL again is refused.
            let start = try await flow.get(flow.server.baseURL + "/oauth/graph/start")
            let consentURL = try #require(start.headers["Location"])
            let callback = try await flow.consent(consentURL: consentURL, account: Self.graphUser)
            #expect(try await flow.get(callback).status == 302)
            let replay = try await flow.get(callback)
            #expect(replay.status == 400)
            #expect(try await flow.server.directory.list().count == 1)
        }
    }

    @Test("declining on the consent page shows a friendly page and forgets the state")
    func accessDenied() async throws {
        try await OAuthFlow.with { flow in
            let start = try await flow.get(flow.server.baseURL + "/oauth/graph/start")
            let consentURL = try #require(start.headers["Location"])
            let state = try #require(try OAuthFlow.query(consentURL)["state"])
            let denied = try await flow.get(flow.server.baseURL
                + "/oauth/graph/callback?error=access_denied&error_description=The+user+declined&state=\(state)")
            #expect(denied.status == 200)
            #expect(denied.headers["Content-Type"]?.hasPrefix("text/html") == true)
            #expect(denied.text.contains("Nothing was connected"))
            #expect(try await flow.server.scheduler.redis.send(["EXISTS", flow.server.scheduler.keys.oauthState(state)]).int == 0)
            #expect(try await flow.server.directory.list().isEmpty)
        }
    }

    @Test("reconnecting keeps the connection id and retries a backfill that failed with token_expired")
    func reconnectKeepsId() async throws {
        try await OAuthFlow.with { flow in
            let first = try await flow.connect(provider: "graph", account: Self.graphUser)
            let scheduler = flow.server.scheduler
            guard case .created = try await scheduler.startBackfill(connectionId: first, range: .last90Days) else {
                throw TestSetupError("backfill not created")
            }
            // What a worker writes when the provider refuses the refresh token.
            _ = try await scheduler.redis.send([
                "HSET", scheduler.keys.backfill(first), "state", "failed", "errorCode", "token_expired",
                "errorMessage", "token expired; reconnect the mailbox", "errorRetryable", "0",
            ])
            _ = try await scheduler.redis.send(["DEL", scheduler.keys.nudges, scheduler.keys.nudged])
            let old = try #require(try await flow.server.directory.credentials(for: first))

            let second = try await flow.connect(provider: "graph", account: Self.graphUser)
            #expect(second == first)
            #expect(try await flow.server.directory.list().count == 1)
            let renewed = try #require(try await flow.server.directory.credentials(for: first))
            #expect(renewed.accessToken != old.accessToken)
            #expect(try await scheduler.backfill(connectionId: first)?.state == .queued)
            #expect(try await flow.server.nudged() == [first])
        }
    }

    @Test("an unknown provider is 404; a provider without a client id says what to configure")
    func unknownOrUnconfigured() async throws {
        try await OAuthFlow.with(googleClientId: "") { flow in
            #expect(try await flow.get(flow.server.baseURL + "/oauth/yahoo/start").status == 404)
            let unconfigured = try await flow.get(flow.server.baseURL + "/oauth/gmail/start")
            #expect(unconfigured.status == 503)
            #expect(unconfigured.text.contains("BACKFILL_GOOGLE_CLIENT_ID"))
        }
    }
}

/// A Backfill instance with the OAuth routes on a port known up front (the callback URL holds it), the
/// simulator beside it, and a browser-like client that does not follow redirects by itself.
struct OAuthFlow: Sendable {
    let server: ServerHarness
    let sim: SimulatorServer
    let scenario: Scenario
    let browser: HTTPClient

    static func with(googleClientId: String? = nil, maximumPendingSignIns: Int = 1000,
                     _ body: @Sendable (OAuthFlow) async throws -> Void) async throws {
        let scenario = Scenario(seed: 5, mailboxes: [
            MailboxSpec(provider: .graph, address: OAuthConnectTests.graphUser, messageCount: 20),
            MailboxSpec(provider: .gmail, address: OAuthConnectTests.gmailUser, messageCount: 20),
        ])
        let sim = try await SimulatorServer.start(scenario: scenario)
        let port = try PrivateRedisServer.freePort()
        let endpoints = ProviderEndpoints(
            graphBaseURL: sim.graphBaseURL, msLoginBaseURL: sim.microsoftLoginBaseURL, msClientId: scenario.graphClientID,
            msClientSecret: "secret", gmailBaseURL: sim.gmailBaseURL, googleOAuthBaseURL: sim.googleOAuthBaseURL,
            googleAccountsBaseURL: sim.googleOAuthBaseURL, googleClientId: googleClientId ?? scenario.googleClientID,
            googleClientSecret: "secret"
        )
        let http = HTTPClient()
        let browser = HTTPClient(configuration: .init(maxRedirects: 0))
        var options = ServerHarness.Options()
        options.port = port
        options.routes = { app in
            OAuthConnect(app: app, endpoints: endpoints, publicURL: "http://127.0.0.1:\(port)", http: http,
                         maximumPendingSignIns: maximumPendingSignIns).register
        }
        do {
            try await ServerHarness.with(options) { server in
                try await body(OAuthFlow(server: server, sim: sim, scenario: scenario, browser: browser))
            }
        } catch {
            await Self.stop(http, browser, sim)
            throw error
        }
        await Self.stop(http, browser, sim)
    }

    private static func stop(_ http: HTTPClient, _ browser: HTTPClient, _ sim: SimulatorServer) async {
        await http.shutdown()
        await browser.shutdown()
        await sim.stop()
    }

    struct Page: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var text: String
    }

    func get(_ url: String, token: String? = nil) async throws -> Page {
        var headers = HTTPHeaders()
        if let token { headers.add("Authorization", "Bearer \(token)") }
        let response = try await browser.send(HTTPRequest(url: url, headers: headers, totalTimeout: .seconds(10)))
        return Page(status: response.status, headers: response.headers, text: String(decoding: response.body, as: UTF8.self))
    }

    /// The whole round trip from the console's button; returns the connection id the console is sent to.
    func connect(provider: String, account: String) async throws -> String {
        let start = try await get(server.baseURL + "/oauth/\(provider)/start")
        let consentURL = try #require(start.headers["Location"])
        return try await connect(consentURL: consentURL, account: account)
    }

    func connect(consentURL: String, account: String) async throws -> String {
        let callbackURL = try await consent(consentURL: consentURL, account: account)
        let callback = try await get(callbackURL)
        #expect(callback.status == 302, "callback answered \(callback.status): \(callback.text)")
        let location = try #require(callback.headers["Location"])
        #expect(location.hasPrefix("/?connected="))
        return String(location.dropFirst("/?connected=".count))
    }

    /// Opens the consent page, submits the account's "Allow" form as a browser would, and returns the
    /// callback URL the provider redirects to.
    func consent(consentURL: String, account: String) async throws -> String {
        let page = try await get(consentURL)
        #expect(page.status == 200)
        let form = try #require(Self.forms(in: page.text).first { $0.fields["account"] == account }, "no Allow button for \(account)")
        let origin = "http://\(sim.host):\(sim.port)"
        let query = form.fields.map { "\(Self.escape($0.key))=\(Self.escape($0.value))" }.joined(separator: "&")
        let allow = try await get(origin + form.action + "?" + query)
        #expect(allow.status == 302)
        let callback = try #require(allow.headers["Location"])
        #expect(callback.hasPrefix(server.baseURL + "/oauth/"))
        return callback
    }

    /// The consent page's forms: action and hidden fields (the simulator writes them one way only).
    static func forms(in html: String) -> [(action: String, fields: [String: String])] {
        html.components(separatedBy: "<form ").dropFirst().map { chunk in
            let action = value(of: "action", in: chunk) ?? ""
            var fields: [String: String] = [:]
            for input in chunk.components(separatedBy: "<input ").dropFirst() {
                if let name = value(of: "name", in: input), let value = value(of: "value", in: input) { fields[name] = value }
            }
            return (action, fields)
        }
    }

    private static func value(of attribute: String, in tag: String) -> String? {
        guard let start = tag.range(of: "\(attribute)=\"") else { return nil }
        guard let end = tag[start.upperBound...].firstIndex(of: "\"") else { return nil }
        return String(tag[start.upperBound..<end]).replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    static func query(_ url: String) throws -> [String: String] {
        let items = try #require(URLComponents(string: url)?.queryItems)
        return Dictionary(items.map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { first, _ in first })
    }

    private static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }
}
