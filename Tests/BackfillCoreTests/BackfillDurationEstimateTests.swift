import BackfillCore
import Testing

@Suite("Duration estimate")
struct BackfillDurationEstimateTests {
    let gmail = BackfillDurationEstimate.gmail(unitsPerMessage: 5, unitsPerListPage: 5, listPageSize: 100)

    @Test("Gmail is bound by its quota: 5.05 units a message at 97% of 15,000 units a minute")
    func gmailQuota() {
        #expect(gmail.limit == .quota(unitsPerMinute: 14_550, unitsPerMessage: 5, unitsPerListPage: 5, listPageSize: 100))
        // 3,200 × 5 + 32 pages × 5 = 16,160 units at 242.5 units/s = 66.6 s.
        #expect(gmail.seconds(messages: 3_200) == 67)
        // 100,000 × 5 + 1,000 × 5 = 505,000 units: 2,082.5 s, about 35 minutes.
        #expect(gmail.seconds(messages: 100_000) == 2_083)
        // One message still costs a fetch and a listing.
        #expect(gmail.seconds(messages: 1) == 1)
        #expect(gmail.seconds(messages: 0) == 0)
    }

    @Test("a smaller quota takes proportionally longer")
    func gmailSmallerQuota() {
        let half = BackfillDurationEstimate.gmail(quotaUnitsPerMinute: 7_500, unitsPerMessage: 5, unitsPerListPage: 5, listPageSize: 100)
        #expect(half.limit == .quota(unitsPerMinute: 7_275, unitsPerMessage: 5, unitsPerListPage: 5, listPageSize: 100))
        #expect(half.seconds(messages: 3_200) == 134)  // 16,160 × 60 / 7,275 = 133.3
    }

    @Test("Graph is bound by 4 requests in flight at 0.3 s each, after its setup requests")
    func graphRequests() {
        let graph = BackfillDurationEstimate.graph(pageSize: 100, setupRequests: 8)
        #expect(graph.limit == .requests(inFlight: 4, millisecondsPerRequest: 300, pageSize: 100, setupRequests: 8))
        // 85 pages in 22 rounds of 4, plus 8 setup requests: 30 × 0.3 s.
        #expect(graph.seconds(messages: 8_500) == 9)
        // One page, one round: (8 + 1) × 0.3 = 2.7 s.
        #expect(graph.seconds(messages: 1) == 3)
        #expect(graph.seconds(messages: 0) == 0)
        // Pages of 1,000: 9 pages in 3 rounds.
        #expect(BackfillDurationEstimate.graph(pageSize: 1_000, setupRequests: 8).seconds(messages: 8_500) == 4)
        // A measured latency replaces the assumed one.
        #expect(BackfillDurationEstimate.graph(pageSize: 100, setupRequests: 8, millisecondsPerRequest: 1_000).seconds(messages: 8_500) == 30)
    }

    @Test("a wider range never shows fewer messages than a narrower one")
    func monotonic() {
        #expect(RangeEstimate.monotonic([120, 400, 380, 2_000]) == [120, 400, 400, 2_000])
        #expect(RangeEstimate.ranges == [.last30Days, .last90Days, .last12Months, .everything])
    }
}
