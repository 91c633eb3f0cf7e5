import BackfillCore
import Foundation
import Hummingbird

/// A refused request: the status and the `{"error": {"code", "message"}}` body that says what was wrong.
/// Messages never quote secrets or message content; quoted input is truncated.
public struct APIError: Error, HTTPResponseError, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// Sent as `Retry-After` (seconds) when set: a 503 that will pass on its own.
    public var retryAfterSeconds: Int?

    public init(_ status: HTTPResponse.Status, code: String, message: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The JSON body.
    public var body: Data {
        (try? JSONEncoder.api.encode(ErrorBody(error: .init(code: code, message: message)))) ?? Data()
    }

    public struct ErrorBody: Codable, Sendable, Equatable {
        public struct Detail: Codable, Sendable, Equatable {
            public var code: String
            public var message: String
        }

        public var error: Detail
    }
}

extension APIError {
    static func badRequest(_ error: InputError) -> APIError {
        APIError(.badRequest, code: error.code, message: error.message)
    }

    static func connectionNotFound(_ id: String) -> APIError {
        APIError(.notFound, code: "not_found", message: "no connection with id '\(id.prefix(64))'")
    }

    static let unauthorized = APIError(
        .unauthorized, code: "unauthorized", message: "missing or wrong API token; send Authorization: Bearer <token>"
    )

    /// The message store cannot be reached or cannot work (a database down, a full disk); passes on its own.
    static let storeUnavailable = APIError(
        .serviceUnavailable, code: "store_unavailable", message: "the message store is unavailable; try again shortly",
        retryAfterSeconds: 5
    )

    static func bodyTooLarge(limit: Int) -> APIError {
        APIError(.contentTooLarge, code: "body_too_large", message: "the request body is larger than \(limit) bytes")
    }

    /// Errors Hummingbird raises itself (unknown route, wrong method), in the API's shape.
    static func from(_ error: HTTPError) -> APIError {
        let code: String = switch error.status {
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .contentTooLarge: "body_too_large"
        case .unauthorized: "unauthorized"
        default: error.status.code < 500 ? "bad_request" : "internal"
        }
        return APIError(error.status, code: code, message: error.body ?? error.status.reasonPhrase)
    }
}

extension JSONEncoder {
    /// The API's encoder: ISO 8601 times, stable key order.
    static var api: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

extension JSONDecoder {
    /// The API's decoder, for clients of the API (the CLI, tests).
    public static var api: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
