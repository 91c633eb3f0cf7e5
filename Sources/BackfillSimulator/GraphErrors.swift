import Foundation

/// Graph error responses in the shape the service sends (docs/providers.md, Graph errors).
enum GraphErrors {
    static func error(_ status: Int, code: String, message: String, headers: [(String, String)] = []) -> SimResponse {
        var json = JSONText()
        json.beginObject()
        json.beginObject("error")
        json.string("code", code)
        json.string("message", message)
        json.beginObject("innerError")
        json.string("date", ISOTime.format(Date()))
        json.string("request-id", UUID().uuidString.lowercased())
        json.endObject()
        json.endObject()
        json.endObject()
        return .json(status, json.text, headers: headers)
    }

    static func throttled(code: String, message: String, retryAfter: Double,
                          style: SimulatorKnobs.RetryAfterStyle, now: Date) -> SimResponse {
        error(429, code: code, message: message,
              headers: [("Retry-After", RetryAfter.text(retryAfter, style: style, now: now))])
    }

    static func unauthorized(_ message: String) -> SimResponse {
        error(401, code: "InvalidAuthenticationToken", message: message, headers: [(
            "WWW-Authenticate",
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\""
        )])
    }

    static func badRequest(_ message: String, code: String = "BadRequest") -> SimResponse {
        error(400, code: code, message: message)
    }

    static let accessDenied = error(403, code: "ErrorAccessDenied",
                                    message: "Access is denied. Check credentials and try again.")
    static let itemNotFound = error(404, code: "ErrorItemNotFound",
                                    message: "The specified object was not found in the store.")

    static func invalidUser(_ name: String) -> SimResponse {
        error(404, code: "ErrorInvalidUser", message: "The requested user '\(name.prefix(80))' is invalid.")
    }

    static func syncStateNotFound(generation: Int, highest: Int) -> SimResponse {
        error(410, code: "SyncStateNotFound",
              message: "The sync state generation is not found; generation=\(generation);[highest=\(highest)].")
    }
}

/// Gmail error responses (docs/providers.md, Gmail errors).
enum GmailErrors {
    static func error(_ status: Int, reason: String, domain: String = "global", message: String, status name: String,
                      retryAfter: String? = nil) -> SimResponse {
        let object: [String: Any] = ["error": [
            "code": status, "message": message, "status": name,
            "errors": [["message": message, "domain": domain, "reason": reason]],
        ]]
        return .json(status, object: object, headers: retryAfter.map { [("Retry-After", $0)] } ?? [])
    }

    static func unauthenticated() -> SimResponse {
        error(401, reason: "authError", message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", status: "UNAUTHENTICATED")
    }

    static let notFound = error(404, reason: "notFound", message: "Requested entity was not found.", status: "NOT_FOUND")

    static func invalidArgument(_ message: String) -> SimResponse {
        error(400, reason: "invalidArgument", message: message, status: "INVALID_ARGUMENT")
    }
}
