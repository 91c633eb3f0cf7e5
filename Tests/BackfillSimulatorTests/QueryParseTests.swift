@testable import BackfillSimulator
import Foundation
import Testing

/// Query strings and form bodies: names and values decode exactly as they did with Foundation's percent decoding.
@Suite("Query parsing")
struct QueryParseTests {
    @Test("escapes, '+', empty values and repeated names decode as before")
    func pinned() {
        let expected: [(String, [[String]])] = [
            ("", []),
            ("a=1&b=2", [["a", "1"], ["b", "2"]]),
            ("&&a=1&&", [["a", "1"]]),
            ("a=1&a=2&a", [["a", "1"], ["a", "2"], ["a", ""]]),
            ("a=&=v&==", [["a", ""], ["", "v"], ["", "="]]),
            ("a==b", [["a", "=b"]]),
            ("q=after%3A1+before%3A2", [["q", "after:1 before:2"]]),
            ("x=a+%2B+b", [["x", "a + b"]]),
            ("%24top=5&%24select=id%2Csubject", [["$top", "5"], ["$select", "id,subject"]]),
            ("x=%C3%A9t%c3%a9", [["x", "été"]]),
            ("x=%e2%82%ac+1", [["x", "€ 1"]]),
            ("x=%41%42%00", [["x", "AB\u{0}"]]),
            // Bad escapes and bytes that are not UTF-8 leave the value undecoded (but '+' is still a space).
            ("x=%zz+1", [["x", "%zz 1"]]),
            ("x=%2&y=%", [["x", "%2"], ["y", "%"]]),
            ("x=%C3+%28", [["x", "%C3 %28"]]),
            ("x=%FF", [["x", "%FF"]]),
            ("x=%A9&y=a%A9%A9", [["x", "\u{FFFD}"], ["y", "a\u{FFFD}\u{FFFD}"]]),
            ("x=%F0%9F%98%80&y=%EF%BF%BF", [["x", "\u{1F600}"], ["y", "\u{FFFF}"]]),
            ("x=%%41", [["x", "%%41"]]),
            ("é=ü+1&k=%C3%BC", [["é", "ü 1"], ["k", "ü"]]),
            ("a=1\r\n&b=2", [["a", "1\r\n"], ["b", "2"]]),
        ]
        for (raw, items) in expected {
            #expect(SimRequest.parseQuery(raw).map { [$0.name, $0.value] } == items, "\(raw.debugDescription)")
        }
    }

    @Test("random strings of separators, escapes and non-ASCII decode as the Foundation version did")
    func matchesFoundation() {
        let pieces = ["a", "b", "=", "&", "+", "%", "2", "B", "c", "3", "F", "f", "G", "0", " ", "é", "\u{301}",
                      "%C3", "%A9", "%2b", "%E2%82", "%AC", "%80", "%F0%9F", "%98%80", "\r", "\n", "\r\n", "~", "$"]
        var random = SeededRandom(seed: 3986)
        for _ in 0 ..< 20_000 {
            var raw = ""
            for _ in 0 ..< Int(random.next() % 14) { raw += pieces[Int(random.next() % UInt64(pieces.count))] }
            let fast = SimRequest.parseQuery(raw).map { [$0.name, $0.value] }
            let legacy = LegacyParsers.parseQuery(raw).map { [$0.name, $0.value] }
            #expect(fast == legacy, "\(raw.debugDescription)")
        }
    }
}
