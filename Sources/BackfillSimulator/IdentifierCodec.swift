import Foundation

/// Provider ids that look random but decode back to a message, so a 100,000-message mailbox needs no id
/// index. Graph ids are base64url with `-`, `_` and `=` (clients must URL-encode them); Gmail ids are 16
/// hex digits. Every id is keyed by its mailbox's tag.
enum IdentifierCodec {
    private static let graphPrefix = "AAMkAG"

    /// A Graph message id: immutable ids stay the same across moves, default ids carry the move count.
    static func messageID(tag: UInt64, serial: Int, moves: Int, immutable: Bool) -> String {
        var bytes = [UInt8](repeating: 0, count: 13)
        bytes[0] = immutable ? 0x49 : 0x4D
        write(UInt32(truncatingIfNeeded: serial), into: &bytes, at: 1)
        write(UInt32(truncatingIfNeeded: moves), into: &bytes, at: 5)
        write(UInt32(truncatingIfNeeded: tag >> 32), into: &bytes, at: 9)
        return graphPrefix + base64URL(scramble(bytes, tag: tag), padded: true)
    }

    static func decodeMessageID(_ id: String, tag: UInt64) -> (serial: Int, moves: Int, immutable: Bool)? {
        guard id.hasPrefix(graphPrefix),
              let raw = decodeBase64URL(String(id.dropFirst(graphPrefix.count))), raw.count == 13
        else { return nil }
        let bytes = scramble(raw, tag: tag)
        guard bytes[0] == 0x49 || bytes[0] == 0x4D, read(bytes, at: 9) == UInt32(truncatingIfNeeded: tag >> 32)
        else { return nil }
        return (Int(read(bytes, at: 1)), Int(read(bytes, at: 5)), bytes[0] == 0x49)
    }

    static func gmailID(tag: UInt64, serial: Int) -> String {
        let check = UInt32(truncatingIfNeeded: SeededRandom.hash(tag, UInt64(serial)))
        let value = (UInt64(UInt32(truncatingIfNeeded: serial)) << 32 | UInt64(check)) ^ SeededRandom.mix(tag)
        // By hand rather than String(format:), which goes through Foundation for every listed message.
        return String(unsafeUninitializedCapacity: 16) { buffer in
            for index in 0 ..< 16 { buffer[index] = hexDigits[Int(value >> (60 - 4 * UInt64(index)) & 15)] }
            return 16
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func decodeGmailID(_ id: String, tag: UInt64) -> Int? {
        guard id.utf8.count == 16, let value = UInt64(id, radix: 16) else { return nil }
        let plain = value ^ SeededRandom.mix(tag)
        let serial = Int(plain >> 32)
        guard UInt32(truncatingIfNeeded: plain) == UInt32(truncatingIfNeeded: SeededRandom.hash(tag, UInt64(serial)))
        else { return nil }
        return serial
    }

    static func folderID(tag: UInt64, index: Int) -> String {
        var bytes = [UInt8](repeating: 0, count: 10)
        bytes[0] = 0x46
        write(UInt32(index), into: &bytes, at: 1)
        write(UInt32(truncatingIfNeeded: tag), into: &bytes, at: 5)
        return "AQMkAD" + base64URL(scramble(bytes, tag: tag), padded: true) + "AAA="
    }

    /// A random-looking opaque token (page, skip, delta, OAuth) from a counter.
    static func token(_ counter: UInt64, salt: UInt64, length: Int = 24) -> String {
        var bytes: [UInt8] = []
        var state = SeededRandom(seed: SeededRandom.hash(salt, counter))
        while bytes.count < length {
            withUnsafeBytes(of: state.next()) { bytes.append(contentsOf: $0) }
        }
        return base64URL(Array(bytes.prefix(length)), padded: false)
    }

    // MARK: Bytes

    private static func scramble(_ bytes: [UInt8], tag: UInt64) -> [UInt8] {
        var key = SeededRandom(seed: tag)
        var output = bytes
        var word: UInt64 = 0
        for index in output.indices {
            if index % 8 == 0 { word = key.next() }
            output[index] ^= UInt8(truncatingIfNeeded: word >> (8 * UInt64(index % 8)))
        }
        return output
    }

    private static func write(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
        for i in 0 ..< 4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * (3 - i))) }
    }

    private static func read(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0 ..< 4).reduce(0) { $0 << 8 | UInt32(bytes[offset + $1]) }
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Base64url, written by hand because every listed message needs an id.
    static func base64URL(_ bytes: [UInt8], padded: Bool) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let remaining = bytes.count - index
            let b0 = Int(bytes[index]), b1 = remaining > 1 ? Int(bytes[index + 1]) : 0
            let b2 = remaining > 2 ? Int(bytes[index + 2]) : 0
            output.append(alphabet[b0 >> 2])
            output.append(alphabet[(b0 & 3) << 4 | b1 >> 4])
            if remaining > 1 { output.append(alphabet[(b1 & 15) << 2 | b2 >> 6]) } else if padded { output.append(61) }
            if remaining > 2 { output.append(alphabet[b2 & 63]) } else if padded { output.append(61) }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func decodeBase64URL(_ text: String) -> [UInt8]? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 { standard.append("=") }
        return Data(base64Encoded: standard).map { Array($0) }
    }
}
