@testable import BackfillSimulator
import Foundation
import Testing

/// Gmail's `Date` header: the simulator must keep writing exactly what its DateFormatter wrote.
@Suite("RFC 2822 dates")
struct RFC2822Tests {
    @Test("dates across leap years, century rules and the epoch are written as before")
    func pinned() {
        let expected: [(Int64, String)] = [
            (0, "Thu, 1 Jan 1970 00:00:00 +0000"),
            (-1, "Wed, 31 Dec 1969 23:59:59 +0000"),
            (86_399, "Thu, 1 Jan 1970 23:59:59 +0000"),
            (86_400, "Fri, 2 Jan 1970 00:00:00 +0000"),
            (951_782_399, "Mon, 28 Feb 2000 23:59:59 +0000"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 +0000"),
            (951_868_800, "Wed, 1 Mar 2000 00:00:00 +0000"),
            (-2_203_891_200, "Thu, 1 Mar 1900 00:00:00 +0000"),
            (-2_208_988_801, "Sun, 31 Dec 1899 23:59:59 +0000"),
            (1_709_164_800, "Thu, 29 Feb 2024 00:00:00 +0000"),
            (1_787_788_800, "Thu, 27 Aug 2026 00:00:00 +0000"),
            (1_795_132_799, "Thu, 19 Nov 2026 23:59:59 +0000"),
            (4_107_542_400, "Mon, 1 Mar 2100 00:00:00 +0000"),
            (-12_219_292_800, "Fri, 15 Oct 1582 00:00:00 +0000"),
            // Before the Gregorian reform the formatter counts Julian days.
            (-12_219_292_801, "Thu, 4 Oct 1582 23:59:59 +0000"),
            (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 +0000"),
        ]
        for (seconds, text) in expected {
            #expect(SimulatorWorld.rfc2822(seconds) == text, "\(seconds)")
        }
    }

    @Test("random times from the year 1000 to 12000 match the DateFormatter the simulator used")
    func matchesFormatter() {
        let formatter = LegacyParsers.rfc2822Formatter()
        var random = SeededRandom(seed: 2822)
        var samples: [Int64] = [-62_135_596_800, 253_402_300_800, -12_219_292_800 - 86_400 * 20, 32_503_680_000]
        for _ in 0 ..< 20_000 {
            samples.append(Int64(random.next() % 350_000_000_000) - 30_610_224_000)
        }
        for seconds in samples {
            #expect(SimulatorWorld.rfc2822(seconds) == LegacyParsers.rfc2822(seconds, formatter: formatter), "\(seconds)")
        }
    }
}
