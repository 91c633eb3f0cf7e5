@testable import BackfillSimulator
import Foundation
import Testing

/// Gmail message ids: 16 lower-case hex digits, the same for the same mailbox tag and serial.
@Suite("Gmail ids")
struct GmailIDTests {
    @Test("ids are written as String(format: \"%016llx\") wrote them, and decode back")
    func matchesFormat() {
        var random = SeededRandom(seed: 16)
        for index in 0 ..< 5_000 {
            let tag = index < 50 ? UInt64(index) : random.next()
            let serial = index % 3 == 0 ? index : Int(random.next() % 4_000_000)
            let check = UInt32(truncatingIfNeeded: SeededRandom.hash(tag, UInt64(serial)))
            let value = (UInt64(UInt32(truncatingIfNeeded: serial)) << 32 | UInt64(check)) ^ SeededRandom.mix(tag)
            let id = IdentifierCodec.gmailID(tag: tag, serial: serial)
            #expect(id == String(format: "%016llx", value))
            #expect(IdentifierCodec.decodeGmailID(id, tag: tag) == serial)
        }
    }
}
