import ArgumentParser
import Foundation

/// Where the service is: `--url` (or `BACKFILL_URL`); the token comes from `BACKFILL_API_TOKEN` only, so
/// it never shows in a process list.
struct ServiceOptions: ParsableArguments {
    @Option(help: "The service's base URL (default: $BACKFILL_URL, else http://127.0.0.1:8080).")
    var url: String?

    var baseURL: String {
        let value = url ?? ProcessInfo.processInfo.environment["BACKFILL_URL"] ?? "http://127.0.0.1:8080"
        return value.hasSuffix("/") ? String(value.dropLast()) : value
    }

    func validate() throws {
        guard let parsed = URL(string: baseURL), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            throw ValidationError("'\(baseURL)' is not an http(s) URL, like http://127.0.0.1:8080")
        }
    }

    func client() -> APIClient {
        APIClient(baseURL: baseURL, token: ProcessInfo.processInfo.environment["BACKFILL_API_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
    }
}
