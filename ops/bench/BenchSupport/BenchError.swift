/// A bench that cannot go on: what went wrong, printed as it is.
public struct BenchError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
