import CCurl

/// A curl easy handle with its error buffer. Used only on the curl thread; reused across transfers (a reset
/// clears the options but keeps the handle's caches).
final class CurlEasyHandle {
    let raw: UnsafeMutableRawPointer
    /// curl writes the detail of a failure here; it must live as long as the handle.
    private let errorBuffer: UnsafeMutablePointer<CChar>

    init?() {
        guard let raw = curl_easy_init() else { return nil }
        self.raw = raw
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        curl_easy_cleanup(raw)
        errorBuffer.deallocate()
    }

    /// Clears every option of the previous transfer and points curl at the error buffer again.
    func reset() throws {
        curl_easy_reset(raw)
        errorBuffer[0] = 0
        try set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
    }

    /// curl's detail of the last failure, or its generic text for `code` when it left none.
    func errorDetail(for code: CURLcode) -> String {
        errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
    }

    func set(_ option: CURLoption, _ value: Int) throws {
        try check(backfill_curl_easy_setopt_long(raw, option, value), option)
    }

    func set(_ option: CURLoption, _ value: String) throws {
        try check(backfill_curl_easy_setopt_string(raw, option, value), option)
    }

    func set(_ option: CURLoption, offset value: Int64) throws {
        try check(backfill_curl_easy_setopt_off_t(raw, option, curl_off_t(value)), option)
    }

    func set(_ option: CURLoption, pointer value: UnsafeMutableRawPointer?) throws {
        try check(backfill_curl_easy_setopt_pointer(raw, option, value), option)
    }

    func set(_ option: CURLoption, callback: CurlDataCallback) throws {
        try check(backfill_curl_easy_setopt_write_function(raw, option, callback), option)
    }

    func responseCode() -> Int {
        var code = 0
        _ = backfill_curl_easy_getinfo_long(raw, CURLINFO_RESPONSE_CODE, &code)
        return code
    }

    private func check(_ code: CURLcode, _ option: CURLoption) throws {
        guard code == CURLE_OK else {
            throw HTTPClientError(
                code: .other,
                message: "curl refused option \(option.rawValue): \(String(cString: curl_easy_strerror(code)))"
            )
        }
    }
}

/// The C signature curl calls for received body bytes and header lines.
typealias CurlDataCallback = @convention(c) (
    UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?
) -> Int
