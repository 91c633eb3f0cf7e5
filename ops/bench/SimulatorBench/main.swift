import BackfillHTTP
import BackfillSimulator
import Foundation

// Measures how many Graph message pages (100 messages, `$select`) the simulator serves per second, against a
// baseline of the cheapest request it answers (`/_sim/health`) in the same run, with the project's client.
// Client and server share the machine, so the figures are a lower bound for the server alone.

let duration: Duration = .seconds(5)
let workers = 32

func measure(_ label: String, client: HTTPClient, urls: @escaping @Sendable (Int) -> String,
             token: String?) async throws -> Double {
    let start = ContinuousClock.now
    let count = try await withThrowingTaskGroup(of: Int.self) { group in
        for worker in 0 ..< workers {
            group.addTask {
                var done = 0
                var headers = HTTPHeaders()
                if let token { headers.add("Authorization", "Bearer \(token)") }
                while ContinuousClock.now - start < duration {
                    let response = try await client.send(HTTPRequest(url: urls(worker * 1_000_003 + done), headers: headers))
                    precondition(response.status == 200, "\(label): status \(response.status)")
                    done += 1
                }
                return done
            }
        }
        return try await group.reduce(0, +)
    }
    let seconds = Double((ContinuousClock.now - start).components.seconds)
        + Double((ContinuousClock.now - start).components.attoseconds) / 1e18
    return Double(count) / seconds
}

var knobs = SimulatorKnobs()
knobs.graphConcurrentRequests = 1000
knobs.graphWindowRequests = 100_000_000
let generationStart = ContinuousClock.now
let server = try await SimulatorServer.start(scenario: Scenario(
    seed: 1, mailboxes: [MailboxSpec(provider: .graph, address: "bench@contoso.example", messageCount: 100_000)],
    knobs: knobs
))
let generation = ContinuousClock.now - generationStart
let client = HTTPClient()
let tokenResponse = try await client.send(HTTPRequest(
    method: "POST", url: server.controlBaseURL + "/tokens", headers: ["Content-Type": "application/json"],
    body: Data(#"{"mailbox":"bench@contoso.example"}"#.utf8)))
let token = (try JSONSerialization.jsonObject(with: tokenResponse.body) as? [String: Any])?["accessToken"] as? String

let health = try await measure("health", client: client, urls: { _ in server.controlBaseURL + "/health" }, token: nil)
let pages = try await measure("pages", client: client, urls: { n in
    "\(server.graphBaseURL)/me/mailFolders/inbox/messages?$select=id,subject,receivedDateTime,from,hasAttachments&$top=100&$skip=\(n % 500 * 100)"
}, token: token)

print("generation of a 100,000-message mailbox: \(generation)")
print(String(format: "baseline /_sim/health:            %8.0f requests/s", health))
print(String(format: "Graph pages of 100 with $select:   %8.0f requests/s (%.2f× baseline, %.0f messages/s)",
             pages, pages / health, pages * 100))
await client.shutdown()
await server.stop()
