import BackfillCore
import Foundation
import Testing

@Suite("Date windows")
struct DateWindowTests {
    let end = Date(timeIntervalSince1970: 1_780_000_000)
    let day = 86_400.0

    @Test("90 days are cut newest first: a week, a week, two, four, then the rest")
    func ninetyDays() {
        let window = DateWindow(start: end.addingTimeInterval(-90 * day), end: end)
        let lengths = window.newestFirst().map { $0.end.timeIntervalSince($0.start) / day }
        #expect(lengths == [7, 7, 14, 28, 34])
    }

    @Test("the pieces partition the window exactly, newest first", arguments: [3.0, 7, 30, 365, 20_000])
    func partition(days: Double) {
        let window = DateWindow(start: end.addingTimeInterval(-days * day), end: end)
        let pieces = window.newestFirst()
        #expect(pieces.first?.end == window.end)
        #expect(pieces.last?.start == window.start)
        for (newer, older) in zip(pieces, pieces.dropFirst()) {
            #expect(older.end == newer.start)
            #expect(older.start < older.end)
        }
        #expect(pieces.count <= 14)
    }

    @Test("everything since 1970 takes a dozen pieces; an empty window is one piece")
    func everything() {
        #expect(DateWindow(start: DateWindow.beginningOfMail, end: end).newestFirst().count == 13)
        #expect(DateWindow(start: end, end: end).newestFirst() == [DateWindow(start: end, end: end)])
    }
}
