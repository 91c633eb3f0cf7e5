/// Checks that a request can be written as HTTP without injecting anything: curl would otherwise send a
/// method or header containing a line break as it is.
enum RequestValidation {
    static func check(_ request: HTTPRequest) throws {
        guard !request.method.isEmpty, request.method.utf8.allSatisfy(isTokenByte) else {
            throw HTTPClientError(code: .invalidRequest, message: "the method is not an HTTP token")
        }
        for (index, field) in request.headers.enumerated() {
            // The message names the position, not the header: its name or value may hold a token.
            guard !field.name.isEmpty, field.name.utf8.allSatisfy(isTokenByte) else {
                throw HTTPClientError(code: .invalidRequest, message: "header \(index + 1) has an invalid name")
            }
            guard field.value.utf8.allSatisfy(isValueByte) else {
                throw HTTPClientError(code: .invalidRequest, message: "header \(index + 1) has an invalid value")
            }
        }
        guard request.url.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw HTTPClientError(code: .invalidURL, message: "the URL contains a space or a control character")
        }
    }

    /// RFC 9110 `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// Visible characters, spaces and tabs, and obs-text; no CR, LF or NUL.
    private static func isValueByte(_ byte: UInt8) -> Bool {
        byte == 0x09 || (byte >= 0x20 && byte != 0x7F)
    }
}
