import ArgumentParser
import Foundation

extension Backfill {
    /// Runs the command with the support tools' exit codes: 0 ok, 1 the API refused, 2 usage (bad
    /// arguments or configuration), 3 the service cannot be reached.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CLIFailure {
            FileHandle.standardError.write(Data("error: \(TerminalText.escaped(failure.message))\n".utf8))
            Foundation.exit(failure.exitCode)
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(CLIFailure.usage)
            }
            exit(withError: error)
        }
    }
}
