/// Errors the simulator reports to whoever starts or drives it. Texts never contain tokens or mail content.
public enum SimulatorError: Error, Equatable, CustomStringConvertible {
    case invalidScenario(String)
    case badRequest(String)
    case didNotStart

    public var description: String {
        switch self {
        case let .invalidScenario(reason): "invalid scenario: \(reason)"
        case let .badRequest(reason): "bad request: \(reason)"
        case .didNotStart: "the simulator's HTTP server did not start"
        }
    }
}
