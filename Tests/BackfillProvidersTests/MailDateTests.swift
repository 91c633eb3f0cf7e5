@testable import BackfillProviders
import Foundation
import Testing

@Suite("RFC 5322 dates")
struct MailDateTests {
    @Test("the forms mail carries parse to the exact instant")
    func forms() {
        let instant = Date(timeIntervalSince1970: 1_610_031_721)  // 2021-01-07 15:02:01 UTC
        for text in [
            "Thu, 7 Jan 2021 15:02:01 +0000", "7 Jan 2021 15:02:01 +0000", "Thu, 07 Jan 2021 15:02:01 +0000 (UTC)",
            "Thu, 7 Jan 2021 16:02:01 +0100", "Thu, 7 Jan 2021 10:02:01 -0500", "Thu, 7 Jan 2021 10:02:01 EST",
            "Thu, 7 Jan 2021 15:02:01 GMT", "Thu,  7 Jan 2021 15:02:01 UT", "thu, 7 JAN 2021 15:02:01 +0000",
            "Thu , 7 January 2021 15:02:01 +0000", "Thu, 7 Jan 21 15:02:01 +0000", "Thu, 7 Jan 2021 20:32:01 +0530",
        ] {
            #expect(MailDate.parse(text) == instant, "\(text)")
        }
        #expect(MailDate.parse("Thu, 7 Jan 2021 15:02 +0000") == Date(timeIntervalSince1970: 1_610_031_720))
        #expect(MailDate.parse("Tue, 29 Feb 2000 00:00:00 +0000") == Date(timeIntervalSince1970: 951_782_400))
    }

    @Test("what is not a date is nil, never a guess")
    func refusals() {
        for text in [
            "", "yesterday", "Thu, 30 Feb 2021 15:02:01 +0000", "Thu, 29 Feb 2100 15:02:01 +0000", "Thu, 7 Jan 2021 25:02:01 +0000",
            "Thu, 7 Jan 2021 15:60:01 +0000", "Thu, 7 Foo 2021 15:02:01 +0000", "Thu, 7 Jan 2021 15:02:01 +0075",
            "Thu, 7 Jan 2021 15:02:01 XYZ", "Thu, 0 Jan 2021 15:02:01 +0000", "Thu, 7 Jan 2021 15:02:01",
            "Thu, 7 Jan 2021 15:xx:01 +0000",
        ] {
            #expect(MailDate.parse(text) == nil, "\(text)")
        }
    }

    @Test("agrees with Foundation's formatter over a thousand random dates and zones")
    func agreesWithFormatter() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, d MMM yyyy HH:mm:ss Z"
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<1000 {
            let date = Date(timeIntervalSince1970: TimeInterval(Int64.random(in: 0...4_102_444_800, using: &generator)))
            formatter.timeZone = TimeZone(secondsFromGMT: Int.random(in: -12...14, using: &generator) * 3600)
            let text = formatter.string(from: date)
            #expect(MailDate.parse(text) == date, "\(text)")
        }
    }
}
