import BackfillCore
import Foundation

/// `GET /v1/backfill-events`: each event flat, with its sequence number.
public struct BackfillEventPageView: Codable, Sendable {
    public struct Event: Codable, Sendable {
        public var seq: Int64
        public var kind: BackfillEvent.Kind
        public var connectionId: String
        public var backfillId: String
        public var at: Date
        public var pulled: Int?
        public var errorCode: String?

        init(seq: Int64, event: BackfillEvent) {
            self.seq = seq
            kind = event.kind
            connectionId = event.connectionId
            backfillId = event.backfillId
            at = event.at
            pulled = event.pulled
            errorCode = event.errorCode
        }
    }

    public var events: [Event]
    public var next: Int64
}
