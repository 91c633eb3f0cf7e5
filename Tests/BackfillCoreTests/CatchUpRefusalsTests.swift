import BackfillCore
import Testing

@Suite("Catch-up refusals: a poison message is skipped after catch-ups in a row refuse it")
struct CatchUpRefusalsTests {
    @Test("a message refused by three catch-ups in a row is skipped at the third; the first two fail")
    func skippedAtTheThird() {
        var refusals = CatchUpRefusals()
        #expect(refusals.record(refused: ["m1"]) == .fail)
        #expect(refusals.record(refused: ["m1"]) == .fail)
        #expect(refusals.record(refused: ["m1"]) == .skip(["m1"]))
        #expect(refusals.counts == ["m1": 3])
        // A catch-up with nothing refused forgets the counts.
        #expect(refusals.record(refused: []) == .proceed)
        #expect(refusals.counts.isEmpty && refusals.encoded == "")
    }

    @Test("one served in between starts again; a newer refusal holds the catch-up until it too has been refused three times")
    func countsInARow() {
        var refusals = CatchUpRefusals()
        #expect(refusals.record(refused: ["m1"]) == .fail)
        #expect(refusals.record(refused: []) == .proceed)
        #expect(refusals.record(refused: ["m1"]) == .fail)
        #expect(refusals.record(refused: ["m1"]) == .fail)
        #expect(refusals.record(refused: ["m1", "m2"]) == .fail)
        #expect(refusals.counts == ["m1": 3, "m2": 1])
        #expect(refusals.record(refused: ["m1", "m2"]) == .fail)
        #expect(refusals.record(refused: ["m2", "m1"]) == .skip(["m2", "m1"]))
    }

    @Test("the counts survive their stored form; an unreadable stored form is none")
    func encoding() {
        var refusals = CatchUpRefusals()
        _ = refusals.record(refused: ["a", "b"])
        _ = refusals.record(refused: ["a"])
        #expect(CatchUpRefusals(encoded: refusals.encoded) == refusals)
        #expect(CatchUpRefusals(encoded: refusals.encoded).counts == ["a": 2])
        #expect(CatchUpRefusals(encoded: "not json").counts.isEmpty)
        #expect(CatchUpRefusals(encoded: nil).counts.isEmpty)
        #expect(CatchUpRefusals(encoded: "").counts.isEmpty)
    }
}
