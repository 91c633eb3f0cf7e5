import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The width of the terminal standard output writes to, read again on every redraw (a resize takes effect
/// at once): the window size from the terminal driver, else `COLUMNS`, else 80.
enum TerminalWidth {
    static func columns() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let text = ProcessInfo.processInfo.environment["COLUMNS"], let columns = Int(text), columns > 0 { return columns }
        return 80
    }
}
