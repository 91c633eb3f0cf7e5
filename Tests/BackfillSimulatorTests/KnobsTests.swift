import BackfillHTTP
import BackfillSimulator
import Foundation
import Testing

@Suite("Knobs")
struct KnobsTests {
    @Test("Retry-After is written as integer, fractional seconds or an HTTP date as the knob says")
    func retryAfterStyles() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.graphAddress).access
            let url = sim.server.graphBaseURL + "/me/mailFolders"
            var values: [String] = []
            for style in ["integer", "fractional", "httpDate"] {
                try await sim.control("PATCH", "/knobs", ["graphRetryAfterStyle": style])
                try await sim.control("POST", "/faults", ["status": 429, "retryAfter": 2, "count": 1])
                let response = try await sim.send(url, token: token)
                #expect(response.status == 429)
                values.append(response.headers["Retry-After"] ?? "")
            }
            #expect(values[0] == "2")
            #expect(values[1] == "2.128")
            #expect(values[2].hasSuffix(" GMT"))
        }
    }

    @Test("chaos knobs answer the given share of requests with 429 or 5xx, and unknown knobs are refused")
    func chaosKnobs() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.gmailAddress).access
            let url = sim.server.gmailBaseURL + "/gmail/v1/users/me/profile"
            try await sim.control("PATCH", "/knobs", ["throttlePercent": 100])
            #expect(try await sim.send(url, token: token).status == 429)
            try await sim.control("PATCH", "/knobs", ["throttlePercent": 0, "serverErrorPercent": 100])
            #expect(try await sim.send(url, token: token).status == 503)
            try await sim.control("PATCH", "/knobs", ["serverErrorPercent": 0])
            #expect(try await sim.send(url, token: token).status == 200)
            let unknown = try await sim.send("PATCH", sim.server.controlBaseURL + "/knobs",
                                             headers: [("Content-Type", "application/json")],
                                             body: Data(#"{"noSuchKnob":1}"#.utf8))
            #expect(unknown.status == 400)
        }
    }

    @Test("truncation and malformation knobs break 200 bodies so that they no longer parse")
    func brokenBodies() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.graphAddress).access
            let url = sim.server.graphBaseURL + "/me/mailFolders/inbox/messages?$top=5"
            let whole = try await sim.send(url, token: token)
            #expect((try? JSONSerialization.jsonObject(with: whole.body)) != nil)
            for knob in ["truncatedPercent", "malformedPercent"] {
                try await sim.control("PATCH", "/knobs", [knob: 100])
                let broken = try await sim.send(url, token: token)
                #expect(broken.status == 200)
                #expect((try? JSONSerialization.jsonObject(with: broken.body)) == nil, "\(knob) body still parses")
                try await sim.control("PATCH", "/knobs", [knob: 0])
            }
        }
    }
}
