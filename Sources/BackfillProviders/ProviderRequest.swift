import BackfillHTTP
import Foundation

/// One request to a provider API, with the route that names it in errors and logs. The route is a fixed
/// label such as "graph GET mailFolders/messages": never a URL, which can carry addresses and tokens.
struct ProviderRequest: Sendable {
    var method: String = "GET"
    var url: String
    var headers: HTTPHeaders = [:]
    var body: Data?
    var route: String

    func httpRequest(bearer: String) -> HTTPRequest {
        var headers = headers
        headers.replace("Authorization", "Bearer \(bearer)")
        return HTTPRequest(
            method: method, url: url, headers: headers, body: body,
            connectTimeout: .seconds(10), totalTimeout: .seconds(90)
        )
    }
}
