import Foundation

/// What the simulator serves: mailboxes, their generated history, and the knobs.
///
/// Decoded from a JSON file (`backfill simulate --scenario FILE`) or built in code by tests. Every field but
/// `mailboxes` has a default, so a scenario says only what it cares about.
public struct Scenario: Codable, Sendable {
    /// Seeds everything that is generated: ids, times, contents, tokens.
    public var seed: UInt64
    /// The simulated "now" at start, as an ISO 8601 time; nil: the real time when the simulator starts.
    public var startTime: String?
    /// The Microsoft tenant id (a GUID) the Graph mailboxes live in.
    public var tenantID: String
    /// The OAuth clients the token endpoints accept (any client secret when `clientSecret` is nil).
    public var graphClientID: String
    public var graphClientSecret: String?
    public var googleClientID: String
    public var googleClientSecret: String?
    public var mailboxes: [MailboxSpec]
    /// Limits and faults; the defaults match the real providers.
    public var knobs: SimulatorKnobs
    /// Pub/Sub topic name → push endpoint URL, for Gmail watch notifications.
    public var pubsubPushEndpoints: [String: String]

    public init(
        seed: UInt64 = 1,
        startTime: String? = nil,
        tenantID: String = "3f6c1a52-8d3e-4b7a-9c21-5e0d4f7a9b10",
        graphClientID: String = "backfill-graph-client",
        graphClientSecret: String? = nil,
        googleClientID: String = "backfill-google-client",
        googleClientSecret: String? = nil,
        mailboxes: [MailboxSpec],
        knobs: SimulatorKnobs = SimulatorKnobs(),
        pubsubPushEndpoints: [String: String] = [:]
    ) {
        self.seed = seed
        self.startTime = startTime
        self.tenantID = tenantID
        self.graphClientID = graphClientID
        self.graphClientSecret = graphClientSecret
        self.googleClientID = googleClientID
        self.googleClientSecret = googleClientSecret
        self.mailboxes = mailboxes
        self.knobs = knobs
        self.pubsubPushEndpoints = pubsubPushEndpoints
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = Scenario(mailboxes: [])
        seed = try container.decodeIfPresent(UInt64.self, forKey: .seed) ?? defaults.seed
        startTime = try container.decodeIfPresent(String.self, forKey: .startTime)
        tenantID = try container.decodeIfPresent(String.self, forKey: .tenantID) ?? defaults.tenantID
        graphClientID = try container.decodeIfPresent(String.self, forKey: .graphClientID) ?? defaults.graphClientID
        graphClientSecret = try container.decodeIfPresent(String.self, forKey: .graphClientSecret)
        googleClientID = try container.decodeIfPresent(String.self, forKey: .googleClientID) ?? defaults.googleClientID
        googleClientSecret = try container.decodeIfPresent(String.self, forKey: .googleClientSecret)
        mailboxes = try container.decode([MailboxSpec].self, forKey: .mailboxes)
        knobs = try container.decodeIfPresent(SimulatorKnobs.self, forKey: .knobs) ?? defaults.knobs
        pubsubPushEndpoints = try container.decodeIfPresent([String: String].self, forKey: .pubsubPushEndpoints) ?? [:]
    }

    /// Reads a scenario file; a bad file gives a `SimulatorError.invalidScenario` naming what is wrong.
    public static func load(contentsOf url: URL) throws -> Scenario {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw SimulatorError.invalidScenario("cannot read \(url.path)")
        }
        return try decode(data)
    }

    /// Decodes and checks a scenario.
    public static func decode(_ data: Data) throws -> Scenario {
        let scenario: Scenario
        do {
            scenario = try JSONDecoder().decode(Scenario.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw SimulatorError.invalidScenario("missing \(Self.path(context.codingPath + [key]))")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context) {
            throw SimulatorError.invalidScenario("bad value at \(Self.path(context.codingPath))")
        } catch {
            throw SimulatorError.invalidScenario("not a JSON scenario")
        }
        try scenario.validate()
        return scenario
    }

    /// Checks what decoding cannot: unique addresses, shared mailboxes naming a personal Graph owner, shares.
    public func validate() throws {
        var seen = Set<String>()
        for spec in mailboxes {
            let key = spec.address.lowercased()
            guard seen.insert(key).inserted else {
                throw SimulatorError.invalidScenario("mailbox \(spec.address) declared twice")
            }
            guard spec.messageCount >= 0, spec.messageCount <= 2_000_000 else {
                throw SimulatorError.invalidScenario("messageCount of \(spec.address) out of range")
            }
            try spec.folders.validate(address: spec.address)
            if spec.kind == .shared {
                guard spec.provider == .graph, let owner = spec.owner,
                      let parent = mailboxes.first(where: { $0.address.lowercased() == owner.lowercased() }),
                      parent.kind == .personal, parent.provider == .graph
                else {
                    throw SimulatorError.invalidScenario(
                        "shared mailbox \(spec.address) must name a personal Graph mailbox as owner")
                }
            }
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
}

extension Scenario {
    /// The demo's scenario: an 8,500-message Microsoft 365 mailbox (about 3,000 in the last 90 days), a
    /// shared mailbox under it, and a Gmail mailbox; 20–60 ms latency.
    public static func demo() throws -> Scenario {
        guard let url = Bundle.module.url(forResource: "demo", withExtension: "json", subdirectory: "Scenarios") else {
            throw SimulatorError.invalidScenario("the demo scenario resource is missing")
        }
        return try load(contentsOf: url)
    }
}
