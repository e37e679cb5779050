/// A streaming parser of a `multipart/form-data` body (RFC 2046 §5.1.1, RFC 7578): bytes in, in chunks of any
/// size; parts out as their headers, their body bytes and their end. Memory is bounded: a part's headers (at
/// most ``maxHeaderBytes``) and fewer bytes than one delimiter, whatever the body's size.
///
/// Earshot's own rather than MultipartKit's (4.7.1, the version available here): that one indexes a 128-entry
/// table with every header-name byte, so one byte ≥ 0x80 in a header name trapped the whole server (found by
/// FuzzMultipart; `MultipartFormReaderTests.nonASCIIHeaderName`).
struct MultipartStreamParser {
    /// What the parser found, in order.
    enum Event: Equatable {
        /// A part begins, with its headers (names as sent, values with surrounding blanks removed).
        case partBegin([Header])
        /// Bytes of the current part's body.
        case body([UInt8])
        /// The current part ended (its closing delimiter was read).
        case partEnd
    }

    /// One header line of a part.
    struct Header: Equatable {
        var name: String
        var value: String
    }

    /// Why the bytes are not a multipart body.
    struct SyntaxError: Error, Equatable, CustomStringConvertible {
        let description: String
    }

    /// Largest header block of one part (Content-Disposition with a long file name, Content-Type, …).
    static let maxHeaderBytes = 16 << 10

    private enum State {
        /// Before the first delimiter (a preamble is allowed and ignored).
        case preamble
        /// Just after a delimiter: `--` closes the body, otherwise optional blanks and CRLF open a part.
        case afterDelimiter
        /// Reading a part's header block, up to the empty line.
        case headers
        /// Reading a part's body, up to the next delimiter.
        case body
        /// After the closing delimiter: the rest (an epilogue) is ignored.
        case epilogue
    }

    /// `CRLF--boundary`: what ends every part (the first delimiter may come without the CRLF: see `pending`).
    private let delimiter: [UInt8]
    private var state = State.preamble
    /// Bytes received and not yet decided on: a possible start of a delimiter, an unfinished header block.
    private var pending: [UInt8] = [13, 10]   // as if the body began with CRLF, so "--boundary" at 0 matches

    /// Whether the closing delimiter has been read.
    var isClosed: Bool { if case .epilogue = state { true } else { false } }

    /// Whether a part is open (its headers or body being read).
    var isInPart: Bool {
        switch state {
        case .headers, .body: true
        case .preamble, .afterDelimiter, .epilogue: false
        }
    }

    init(boundary: String) {
        delimiter = Array("\r\n--\(boundary)".utf8)
    }

    /// Parses `bytes`, returning what they complete.
    mutating func consume<Bytes: Sequence>(_ bytes: Bytes) throws(SyntaxError) -> [Event] where Bytes.Element == UInt8 {
        if case .epilogue = state { return [] }
        pending.append(contentsOf: bytes)
        var events: [Event] = []
        var start = 0
        // Each step either moves on (a later index, or the same one in a new state) or needs more bytes (nil).
        while start < pending.count, let next = try step(from: start, into: &events) {
            start = next
        }
        pending.removeFirst(start)
        if case .epilogue = state { pending = [] }
        return events
    }

    /// One step of the state machine over `pending[start...]`; returns where the next step starts, or `nil`
    /// when it needs more bytes.
    private mutating func step(from start: Int, into events: inout [Event]) throws(SyntaxError) -> Int? {
        switch state {
        case .preamble:
            guard let at = find(delimiter, from: start) else {
                let keep = max(start, pending.count - (delimiter.count - 1))   // what may start a delimiter
                return keep > start ? keep : nil
            }
            state = .afterDelimiter
            return at + delimiter.count
        case .afterDelimiter:
            return try afterDelimiter(from: start)
        case .headers:
            // `start` is at the CRLF that ends the delimiter line; the block ends at the first empty line.
            guard let end = find([13, 10, 13, 10], from: start) else {
                if pending.count - start > Self.maxHeaderBytes {
                    throw SyntaxError(description: "a part's headers are longer than \(Self.maxHeaderBytes) bytes")
                }
                return nil
            }
            events.append(.partBegin(try Self.headers(Array(pending[start..<end]))))
            state = .body
            return end + 4
        case .body:
            if let at = find(delimiter, from: start) {
                if at > start { events.append(.body(Array(pending[start..<at]))) }
                events.append(.partEnd)
                state = .afterDelimiter
                return at + delimiter.count
            }
            let safe = max(start, pending.count - (delimiter.count - 1))
            guard safe > start else { return nil }
            events.append(.body(Array(pending[start..<safe])))
            return safe
        case .epilogue:
            return pending.count
        }
    }

    /// After a delimiter: `--` (the close), or transport padding (spaces, tabs) then CRLF (a part follows).
    private mutating func afterDelimiter(from start: Int) throws(SyntaxError) -> Int? {
        guard pending.count - start >= 2 else { return nil }
        if pending[start] == 45 && pending[start + 1] == 45 {   // "--"
            state = .epilogue
            return pending.count
        }
        var i = start
        while i < pending.count, pending[i] == 32 || pending[i] == 9 { i += 1 }
        guard pending.count - i >= 2 else {
            if i - start > 256 { throw SyntaxError(description: "a boundary line is followed by more than 256 blanks") }
            return nil
        }
        guard pending[i] == 13 && pending[i + 1] == 10 else {
            throw SyntaxError(description: "a boundary line does not end with CRLF (the boundary string may be wrong)")
        }
        state = .headers
        // The delimiter line's CRLF stays: with an empty header block the headers step then sees CRLF CRLF.
        if i > start { pending.removeSubrange(start..<i) }
        return start
    }

    /// Header lines `Name: value`; a name is an RFC 9110 token (visible ASCII without separators).
    private static func headers(_ block: [UInt8]) throws(SyntaxError) -> [Header] {
        var lines = split(block)
        if lines.first?.isEmpty == true { lines.removeFirst() }   // the delimiter line's own CRLF
        var headers: [Header] = []
        for line in lines {
            guard let colon = line.firstIndex(of: 58), colon > 0 else {
                throw SyntaxError(description: "a part header line has no 'name:' (\(line.prefix(40).count) bytes)")
            }
            let name = line[..<colon]
            guard name.allSatisfy(isTokenByte) else {
                throw SyntaxError(description: "a part header name holds a byte that is not allowed in a header name")
            }
            var value = line[(colon + 1)...]
            while let first = value.first, first == 32 || first == 9 { value.removeFirst() }
            while let last = value.last, last == 32 || last == 9 { value.removeLast() }
            headers.append(Header(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self)))
        }
        return headers
    }

    /// Lines of a block separated by CRLF.
    private static func split(_ block: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = 0
        var i = 0
        while i + 1 < block.count {
            if block[i] == 13 && block[i + 1] == 10 {
                lines.append(block[lineStart..<i])
                i += 2
                lineStart = i
            } else {
                i += 1
            }
        }
        if lineStart < block.count { lines.append(block[lineStart...]) }
        return lines
    }

    /// RFC 9110 `tchar`: `!#$%&'*+-.^_`|~`, digits and letters.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 48...57, 65...90, 97...122: true
        case 33, 35, 36, 37, 38, 39, 42, 43, 45, 46, 94, 95, 96, 124, 126: true
        default: false
        }
    }

    /// The first index ≥ `from` where `needle` occurs in `pending`.
    private func find(_ needle: [UInt8], from: Int) -> Int? {
        guard let first = needle.first, pending.count - from >= needle.count else { return nil }
        var i = from
        let last = pending.count - needle.count
        while i <= last {
            if pending[i] == first {
                var j = 1
                while j < needle.count && pending[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}
