@testable import BackfillProviders
import Testing

@Suite("Form encoding")
struct FormEncodingTests {
    @Test("unreserved bytes stay, every other byte is %XX in upper case, multi-byte characters byte by byte")
    func escapes() {
        #expect(FormEncoding.escape("AZaz09-._~") == "AZaz09-._~")
        #expect(FormEncoding.escape("") == "")
        #expect(FormEncoding.escape("a b+c/d?e=f&g") == "a%20b%2Bc%2Fd%3Fe%3Df%26g")
        #expect(FormEncoding.escape("after:1700000000 before:1700086400") == "after%3A1700000000%20before%3A1700086400")
        #expect(FormEncoding.escape("é€\n%") == "%C3%A9%E2%82%AC%0A%25")
        #expect(FormEncoding.escape("payload(parts(body(size,attachmentId)))") == "payload%28parts%28body%28size%2CattachmentId%29%29%29")
    }

    @Test("pairs are joined with & and = after escaping each side")
    func encodesPairs() {
        #expect(FormEncoding.encode([("q", "a b"), ("x=y", "&")]) == "q=a%20b&x%3Dy=%26")
        #expect(FormEncoding.encode([]) == "")
    }
}
