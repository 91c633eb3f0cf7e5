import BackfillCore
import Foundation

/// JSON decoding of provider bodies: a body that does not decode is an invalid response naming the route
/// (never the URL, which can hold addresses and tokens), so the page is not committed.
enum ResponseDecoding {
    static func decode<T: Decodable>(_ type: T.Type, from body: Data, route: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch {
            throw ProviderFailure.invalidResponse("\(route): malformed JSON body (\(body.count) bytes)")
        }
    }
}
