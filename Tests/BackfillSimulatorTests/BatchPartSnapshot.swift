@testable import BackfillSimulator
import Foundation

/// A batch part as plain values, so two parsers' results compare with `==` and print readably.
struct BatchPartSnapshot: Equatable, CustomStringConvertible {
    let contentID: String?
    let method: String
    let path: String
    let query: [[String]]
    let headers: [String: String]
    let body: Data
    let userID: String
    let rest: [String]

    init(contentID: String?, request: SimRequest, userID: String, rest: [String]) {
        self.contentID = contentID
        method = request.method
        path = request.path
        query = request.query.map { [$0.name, $0.value] }
        headers = request.headers
        body = request.body
        self.userID = userID
        self.rest = rest
    }

    init(_ part: GmailBatch.Part) {
        self.init(contentID: part.contentID, request: part.request, userID: part.userID, rest: part.rest)
    }

    var description: String {
        "\(method) \(path) \(query) id=\(contentID ?? "nil") user=\(userID) rest=\(rest) headers=\(headers.sorted { $0.key < $1.key }) "
            + "body=\(String(decoding: body, as: UTF8.self).debugDescription)"
    }
}
