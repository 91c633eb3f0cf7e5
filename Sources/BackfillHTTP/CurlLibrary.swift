import CCurl

/// curl's process-wide setup, done once before the first handle is made.
enum CurlLibrary {
    /// Swift runs this initialiser once, on first use, whatever thread gets there first.
    static let isInitialized: Bool = curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK
}
