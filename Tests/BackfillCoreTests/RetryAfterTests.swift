import BackfillCore
import Foundation
import Testing

@Suite("Retry-After parsing")
struct RetryAfterTests {
    let now = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT

    @Test("delay seconds, whole and fractional", arguments: [
        ("120", Duration.seconds(120)),
        ("0", Duration.zero),
        ("2.128", Duration.milliseconds(2128)),
        (" 7 ", Duration.seconds(7)),
    ])
    func seconds(value: String, expected: Duration) {
        #expect(RetryAfter.delay(from: value, now: now) == expected)
    }

    @Test("HTTP dates in all three forms", arguments: [
        "Sun, 06 Nov 1994 08:50:07 GMT",
        "Sunday, 06-Nov-94 08:50:07 GMT",
        "Sun Nov  6 08:50:07 1994",
    ])
    func httpDates(value: String) {
        #expect(RetryAfter.delay(from: value, now: now) == .seconds(30))
    }

    @Test("a date in the past or a negative number means now")
    func past() {
        #expect(RetryAfter.delay(from: "Sun, 06 Nov 1994 08:00:00 GMT", now: now) == .zero)
        #expect(RetryAfter.delay(from: "-5", now: now) == .zero)
    }

    @Test("missing or unreadable values give nil", arguments: [nil, "", "soon", "NaN", "inf", "12abc"] as [String?])
    func unreadable(value: String?) {
        #expect(RetryAfter.delay(from: value, now: now) == nil)
    }

    @Test("absurdly long delays are clamped, not overflowed")
    func clamped() {
        #expect(RetryAfter.delay(from: "1e300", now: now) == RetryAfter.longest)
    }
}
