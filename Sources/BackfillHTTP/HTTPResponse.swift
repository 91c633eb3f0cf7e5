import Foundation

/// The final response to a request (after any redirects that were followed).
public struct HTTPResponse: Sendable {
    /// The status code, e.g. 200, 404, 429.
    public var status: Int
    /// The final response's header fields in the order received.
    public var headers: HTTPHeaders
    /// The body, decoded when the server sent it compressed.
    public var body: Data

    public init(status: Int, headers: HTTPHeaders, body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}
