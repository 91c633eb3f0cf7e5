import BackfillCore
@testable import BackfillServer
import Foundation
import Testing

@Suite("Operations and auth")
struct OperationsTests {
    @Test("with a token, /v1 needs it (401 JSON when missing or wrong); health, console and webhooks do not")
    func bearerToken() async throws {
        var options = ServerHarness.Options()
        options.token = "s3cret-token"
        try await ServerHarness.with(options) { server in
            for token in ["", "wrong-token", "s3cret-token-and-more"] {
                let reply = try await server.request("GET", "/v1/connections", token: token)
                #expect(reply.status == 401)
                #expect(try reply.error().code == "unauthorized")
            }
            let basic = try await server.request("GET", "/v1/connections", token: "", headers: [("Authorization", "Basic czNjcmV0LXRva2Vu")])
            #expect(basic.status == 401)
            #expect(try await server.request("GET", "/v1/connections").status == 200)
            for path in ["/healthz", "/readyz", "/", "/console.js"] {
                #expect(try await server.request("GET", path, token: "").status == 200, "\(path)")
            }
        }
    }

    @Test("listening on a non-loopback address without a token is refused before anything starts")
    func nonLoopbackNeedsToken() throws {
        #expect(throws: ConfigurationError.self) {
            try ServerConfiguration(listen: ListenAddress(parsing: "0.0.0.0:8080")).validate()
        }
        #expect(throws: ConfigurationError.self) {
            try ServerConfiguration(listen: ListenAddress(parsing: "[::]:8080"), apiToken: "").validate()
        }
        // Off loopback a token must be long enough that guessing it is hopeless.
        #expect(throws: ConfigurationError.self) {
            try ServerConfiguration(listen: ListenAddress(parsing: "0.0.0.0:8080"), apiToken: String(repeating: "t", count: 31)).validate()
        }
        try ServerConfiguration(listen: ListenAddress(parsing: "0.0.0.0:8080"), apiToken: String(repeating: "t", count: 32)).validate()
        try ServerConfiguration(listen: ListenAddress(parsing: "127.0.0.1:8080"), apiToken: "t").validate()
        try ServerConfiguration(listen: ListenAddress(parsing: "127.0.0.1:0")).validate()
        try ServerConfiguration(listen: ListenAddress(parsing: "[::1]:9000")).validate()
        #expect(throws: ConfigurationError.self) { try ListenAddress(parsing: "localhost") }
        #expect(throws: ConfigurationError.self) { try ListenAddress(parsing: "127.0.0.1:99999") }
    }

    @Test("healthz and readyz answer, and metrics show backfills by state and requests by route and status")
    func operations() async throws {
        try await ServerHarness.with { server in
            #expect(try await server.request("GET", "/healthz").text == "ok\n")
            let ready = try await server.request("GET", "/readyz")
            #expect(ready.status == 200 && ready.text == "ready\n")
            let connection = try await server.connect("graph", "a@acme.com")
            _ = try await server.request("POST", "/v1/connections/\(connection.id)/backfill", json: #"{"range": "30d"}"#)
            let metrics = try await server.request("GET", "/metrics")
            #expect(metrics.status == 200)
            let lines = Set(metrics.text.split(separator: "\n").map(String.init))
            #expect(lines.contains(#"backfill_backfills{state="queued"} 1.0"#))
            #expect(lines.contains(#"backfill_backfills{state="completed"} 0.0"#))
            #expect(lines.contains("backfill_realtime_delayed 0.0"))
            // Lifecycle events not relayed yet: none, since a start appends none (`started` is the worker's).
            #expect(lines.contains("backfill_events_outbox 0.0"))
            #expect(lines.contains(#"backfill_http_requests_total{route="/healthz",status="200"} 1"#))
            #expect(lines.contains(#"backfill_http_requests_total{route="/v1/connections/{id}/backfill",status="200"} 1"#))
            #expect(!metrics.text.contains(connection.id) && !metrics.text.contains("acme.com"))
        }
    }

    @Test("readyz answers 503 naming the store when the store's directory takes no write")
    func notReady() async throws {
        try await ServerHarness.with { server in
            // A file where the directory was: no write can succeed there, whoever runs the test.
            try FileManager.default.removeItem(at: server.dataDirectory)
            try Data().write(to: server.dataDirectory)
            let reply = try await server.request("GET", "/readyz")
            #expect(reply.status == 503)
            #expect(try reply.error() == .init(code: "not_ready", message: "store: the store is not writable"))
        }
    }

    @Test("the console's page, styles, script and OpenAPI document are served")
    func console() async throws {
        try await ServerHarness.with { server in
            let page = try await server.request("GET", "/")
            #expect(page.headers["Content-Type"]?.hasPrefix("text/html") == true)
            #expect(page.text.contains("console.js"))
            #expect(try await server.request("GET", "/console.css").headers["Content-Type"]?.hasPrefix("text/css") == true)
            #expect(try await server.request("GET", "/console.js").text.contains("connectionPath"))
            let openapi = try await server.request("GET", "/openapi.json")
            let document = try #require(try JSONSerialization.jsonObject(with: openapi.body) as? [String: Any])
            #expect(document["openapi"] as? String == "3.1.0")
        }
    }
}
