import BackfillHTTP
import BackfillServer
import Foundation

/// The support commands' view of the HTTP API: JSON in, decoded JSON out, API refusals and unreachable
/// services turned into `CLIFailure`s with their exit codes.
struct APIClient: Sendable {
    let baseURL: String
    let token: String?
    private let http = HTTPClient()

    init(baseURL: String, token: String?) {
        self.baseURL = baseURL
        self.token = token
    }

    /// Every connection, page after page.
    func connections() async throws -> [ConnectionView] {
        var all: [ConnectionView] = []
        var after: String?
        repeat {
            let query = after.flatMap { $0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(["&", "+", "=", "#"])) }
                .map { "&after=" + $0 } ?? ""
            let page = try await send("GET", "/v1/connections?limit=500" + query, as: ConnectionList.self)
            all += page.connections
            after = page.next
        } while after != nil
        return all
    }

    func connection(_ id: String) async throws -> ConnectionView {
        try await send("GET", Self.path(id), as: ConnectionView.self)
    }

    /// POSTs to one of the connection's actions (`/backfill/pause`, `/nudge`, ...).
    func post(_ id: String, _ action: String, body: [String: String]? = nil) async throws -> ConnectionView {
        try await send("POST", Self.path(id) + action, body: body, as: ConnectionView.self)
    }

    private func send<Value: Decodable>(_ method: String, _ path: String, body: [String: String]? = nil, as: Value.Type) async throws -> Value {
        var headers: HTTPHeaders = ["Accept": "application/json"]
        if let token { headers.add("Authorization", "Bearer \(token)") }
        var data: Data?
        if let body {
            headers.add("Content-Type", "application/json")
            data = try JSONEncoder().encode(body)
        }
        let response: HTTPResponse
        do {
            response = try await http.send(HTTPRequest(method: method, url: baseURL + path, headers: headers, body: data,
                                                       connectTimeout: .seconds(5), totalTimeout: .seconds(30)))
        } catch let error as HTTPClientError {
            throw CLIFailure.unreachable("cannot reach the service at \(baseURL) (\(error.code)); is `backfill serve` running? Set --url or BACKFILL_URL")
        }
        guard (200..<300).contains(response.status) else {
            let detail = try? JSONDecoder().decode(APIError.ErrorBody.self, from: response.body)
            var message = detail.map { "\($0.error.message) (\($0.error.code), HTTP \(response.status))" }
                ?? "the service answered HTTP \(response.status)"
            if response.status == 401 { message += "; set BACKFILL_API_TOKEN to the service's token" }
            throw CLIFailure.refused(message)
        }
        do {
            return try JSONDecoder.api.decode(Value.self, from: response.body)
        } catch {
            throw CLIFailure.refused("the service's answer could not be read (\(error))")
        }
    }

    private static func path(_ id: String) -> String {
        "/v1/connections/" + (id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? id)
    }
}
