import BackfillCore
import Foundation

/// A JSON object sent by a client, read field by field so every refusal names the field.
struct JSONBody {
    private let object: [String: Any]

    init(_ data: Data) throws(APIError) {
        guard !data.isEmpty else {
            throw APIError(.badRequest, code: "invalid_json", message: "the request needs a JSON object body")
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw APIError(.badRequest, code: "invalid_json", message: "the body is not valid JSON")
        }
        guard let object = parsed as? [String: Any] else {
            throw APIError(.badRequest, code: "invalid_json", message: "the body must be a JSON object")
        }
        self.object = object
    }

    /// Refuses fields the call does not know (a typo would otherwise be silently ignored).
    func allowOnly(_ fields: Set<String>) throws(APIError) {
        if let unknown = object.keys.sorted().first(where: { !fields.contains($0) }) {
            throw APIError(.badRequest, code: "unknown_field", message: "unknown field '\(unknown.prefix(40))'")
        }
    }

    /// Whether the field is there at all (null included).
    func contains(_ field: String) -> Bool {
        object[field] != nil
    }

    func requiredString(_ field: String) throws(APIError) -> String {
        guard let value = try optionalString(field) else {
            throw APIError(.badRequest, code: "missing_field", message: "field '\(field)' is required")
        }
        return value
    }

    /// A string, nil when absent, null or empty.
    func optionalString(_ field: String) throws(APIError) -> String? {
        switch object[field] {
        case nil, is NSNull: return nil
        case let value as String: return value.isEmpty ? nil : value
        default: throw APIError(.badRequest, code: "invalid_field", message: "field '\(field)' must be a string")
        }
    }

    func optionalDate(_ field: String) throws(APIError) -> Date? {
        guard let text = try optionalString(field) else { return nil }
        guard let date = Self.parseDate(text) else {
            throw APIError(.badRequest, code: "invalid_field", message: "field '\(field)' must be an ISO 8601 time, like 2025-01-31T12:00:00Z")
        }
        return date
    }

    func range(_ field: String = "range") throws(APIError) -> BackfillRange {
        do {
            return try BackfillRange(parsing: try requiredString(field))
        } catch let error as InputError {
            throw .badRequest(error)
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(.badRequest, code: "invalid_field", message: "field '\(field)' is invalid")
        }
    }

    private static func parseDate(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
