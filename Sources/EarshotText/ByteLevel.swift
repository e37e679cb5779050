/// GPT-2's byte-level BPE plumbing: the reversible map between raw bytes and printable Unicode characters,
/// and the pre-tokenisation regex, written out as a scanner.
enum ByteLevel {
    /// `byteToScalar[b]` is the printable character GPT-2 uses for byte `b`: bytes 33–126, 161–172 and
    /// 174–255 stand for themselves, the other 68 bytes get U+0100, U+0101, … in byte order.
    static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b) {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The inverse of ``byteToScalar``, indexed by scalar value (0..<324); -1 where there is no byte.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for (b, scalar) in byteToScalar.enumerated() { table[Int(scalar.value)] = Int16(b) }
        return table
    }()

    /// Appends the raw bytes a byte-level token string stands for. Characters outside the byte alphabet
    /// (which only occur in added tokens) contribute their own UTF-8 bytes.
    static func appendBytes(of token: String, to out: inout [UInt8]) {
        for scalar in token.unicodeScalars {
            let v = Int(scalar.value)
            if v < scalarToByte.count, scalarToByte[v] >= 0 {
                out.append(UInt8(scalarToByte[v]))
            } else {
                out.append(contentsOf: Array(String(scalar).utf8))
            }
        }
    }

    /// Splits text the way GPT-2's pre-tokeniser regex does:
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    static func pretokenize(_ text: String) -> [ArraySlice<Unicode.Scalar>] {
        let s = Array(text.unicodeScalars)
        var pieces: [ArraySlice<Unicode.Scalar>] = []
        var i = 0
        let n = s.count
        while i < n {
            let start = i
            // Contractions (case-sensitive, as in GPT-2).
            if s[i] == "'" , let length = contractionLength(s, at: i) {
                i += length
                pieces.append(s[start..<i])
                continue
            }
            // An optional single U+0020 followed by a letter / number / other run.
            var j = i
            if s[j] == " " && j + 1 < n && !isWhitespace(s[j + 1]) { j += 1 }
            let c = s[j]
            if isLetter(c) {
                j += 1
                while j < n && isLetter(s[j]) { j += 1 }
                i = j
            } else if isNumber(c) {
                j += 1
                while j < n && isNumber(s[j]) { j += 1 }
                i = j
            } else if !isWhitespace(c) {
                j += 1
                while j < n && !isWhitespace(s[j]) && !isLetter(s[j]) && !isNumber(s[j]) { j += 1 }
                i = j
            } else {
                // Whitespace run: `\s+(?!\S)` leaves the last whitespace character for the next piece when
                // the run is followed by a non-space; a run of one then matches `\s+` alone.
                var k = i
                while k < n && isWhitespace(s[k]) { k += 1 }
                if k == n || k - i == 1 {
                    i = k
                } else {
                    i = k - 1
                }
            }
            pieces.append(s[start..<i])
        }
        return pieces
    }

    private static func contractionLength(_ s: [Unicode.Scalar], at i: Int) -> Int? {
        guard i + 1 < s.count else { return nil }
        let a = s[i + 1]
        if a == "s" || a == "t" || a == "m" || a == "d" { return 2 }
        guard i + 2 < s.count else { return nil }
        let b = s[i + 2]
        if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return 3 }
        return nil
    }

    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    static func isWhitespace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }
}
