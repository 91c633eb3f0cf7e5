import Foundation
import Hummingbird

/// Collects a request body up to the configured limit; a larger one is refused with 413 before it is read.
struct RequestBodyReader: Sendable {
    let limit: Int

    func data(of request: Request) async throws -> Data {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError.bodyTooLarge(limit: limit)
        }
        var request = request
        do {
            let buffer = try await request.collectBody(upTo: limit)
            return Data(buffer.readableBytesView)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw APIError.bodyTooLarge(limit: limit)
        }
    }

    func json(of request: Request) async throws -> JSONBody {
        try JSONBody(try await data(of: request))
    }
}

extension Response {
    /// A JSON response in the API's encoding.
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONEncoder.api.encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
