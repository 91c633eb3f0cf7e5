import BackfillHTTP
import Testing

@Suite("HTTP headers")
struct HTTPHeadersTests {
    @Test("looks names up whatever their case and keeps repeated fields in order")
    func lookup() {
        var headers: HTTPHeaders = ["Content-Type": "text/plain"]
        headers.add("Set-Cookie", "a=1")
        headers.add("set-cookie", "b=2")
        #expect(headers["content-type"] == "text/plain")
        #expect(headers["SET-COOKIE"] == "a=1")
        #expect(headers.values("Set-Cookie") == ["a=1", "b=2"])
        #expect(headers.map(\.name) == ["Content-Type", "Set-Cookie", "set-cookie"])
        #expect(headers["Content-Typ"] == nil)
    }

    @Test("replace leaves one field in the first one's place, or appends it")
    func replace() {
        var headers = HTTPHeaders([("Accept", "a"), ("X-Id", "1"), ("accept", "b")])
        headers.replace("ACCEPT", "c")
        #expect(headers.map(\.name) == ["Accept", "X-Id"])
        #expect(headers.values("accept") == ["c"])
        headers.replace("X-New", "n")
        #expect(headers["x-new"] == "n")
        #expect(headers.count == 3)
    }

    @Test("remove drops every field of a name")
    func remove() {
        var headers = HTTPHeaders([("A", "1"), ("b", "2"), ("a", "3")])
        headers.remove("a")
        #expect(headers.map(\.value) == ["2"])
        #expect(!headers.contains("A"))
    }
}
