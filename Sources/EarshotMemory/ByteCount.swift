import Foundation

/// A number of bytes: the unit of every budget, reservation and report in Earshot.
///
/// Parsing (``init(parsing:)``) accepts a number, optional spaces, and an optional unit, case-insensitively:
///
/// | form | factor | example |
/// |---|---|---|
/// | none, `B` | 1 | `1048576`, `512B` |
/// | `KB`, `MB`, `GB`, `TB` (SI) | 1000ⁿ | `300MB` = 300 000 000 |
/// | `KiB`, `MiB`, `GiB`, `TiB` (IEC) | 1024ⁿ | `512MiB` = 536 870 912 |
/// | `K`, `M`, `G`, `T` (bare letter) | 1024ⁿ | `2G` = 2 147 483 648 |
///
/// Bare letters are read as IEC (binary) because that is what `ulimit`, `docker --memory`, the JVM's `-Xmx` and
/// `/proc` use; the explicit `KB`/`MB`/`GB` spellings keep their SI meaning. Fractions are allowed with a unit
/// (`1.5GiB`) and rounded to the nearest byte. Case is ignored, so `300mb` is 300 MB (not megabits).
///
/// Formatting (``description``) always uses IEC units with one decimal, e.g. `287.4 MiB`.
public struct ByteCount: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The number of bytes. May be negative only as the result of arithmetic (a difference of two counts).
    public var bytes: Int

    /// Zero bytes.
    public static let zero = ByteCount(0)

    /// A count of `bytes` bytes.
    public init(_ bytes: Int) { self.bytes = bytes }
    /// A count of `bytes` bytes.
    public init(bytes: Int) { self.bytes = bytes }
    public init(integerLiteral value: Int) { self.bytes = value }

    /// `n` × 1024 bytes.
    public static func kib(_ n: Double) -> ByteCount { ByteCount(Int((n * 1024).rounded())) }
    /// `n` × 1024² bytes.
    public static func mib(_ n: Double) -> ByteCount { ByteCount(Int((n * 1_048_576).rounded())) }
    /// `n` × 1024³ bytes.
    public static func gib(_ n: Double) -> ByteCount { ByteCount(Int((n * 1_073_741_824).rounded())) }
    /// `n` × 1000² bytes.
    public static func mb(_ n: Double) -> ByteCount { ByteCount(Int((n * 1_000_000).rounded())) }

    public static func < (a: ByteCount, b: ByteCount) -> Bool { a.bytes < b.bytes }
    public static func + (a: ByteCount, b: ByteCount) -> ByteCount { ByteCount(a.bytes + b.bytes) }
    public static func - (a: ByteCount, b: ByteCount) -> ByteCount { ByteCount(a.bytes - b.bytes) }
    public static func * (a: ByteCount, n: Int) -> ByteCount { ByteCount(a.bytes * n) }
    public static func * (n: Int, a: ByteCount) -> ByteCount { ByteCount(a.bytes * n) }
    public static func += (a: inout ByteCount, b: ByteCount) { a.bytes += b.bytes }
    public static func -= (a: inout ByteCount, b: ByteCount) { a.bytes -= b.bytes }

    // MARK: Codable — a plain integer of bytes.

    public init(from decoder: any Decoder) throws {
        bytes = try decoder.singleValueContainer().decode(Int.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(bytes)
    }

    // MARK: Formatting

    /// Human form with IEC units and one decimal: `512 B`, `1.0 KiB`, `287.4 MiB`, `2.0 GiB`.
    public var description: String {
        let sign = bytes < 0 ? "-" : ""
        let magnitude = bytes.magnitude
        if magnitude < 1024 { return "\(sign)\(magnitude) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(magnitude) / 1024
        var unit = 0
        while value >= 1023.95 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return sign + String(format: "%.1f", value) + " " + units[unit]
    }

    // MARK: Parsing

    /// The accepted spellings, for error messages and `--help` texts.
    public static let acceptedForms =
        "a byte count such as 1048576, 300MB or 300 MB (SI, ×1000ⁿ), 512MiB or 1.5GiB (IEC, ×1024ⁿ), "
        + "or 2G / 512M / 64K (bare letter = IEC, ×1024ⁿ); units KB MB GB TB, KiB MiB GiB TiB, K M G T, B; case is ignored"

    private static let factors: [String: Int] = [
        "": 1, "b": 1,
        "kb": 1000, "mb": 1_000_000, "gb": 1_000_000_000, "tb": 1_000_000_000_000,
        "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
        "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
    ]

    /// Parses a human byte count (see the type's documentation for the accepted forms).
    /// - Throws: ``ByteCountParseError`` naming the input, what is wrong with it, and the accepted forms.
    public init(parsing text: String) throws(ByteCountParseError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw ByteCountParseError(input: text, reason: "it is empty") }
        let numberPart = trimmed.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        let unitPart = trimmed.dropFirst(numberPart.count).trimmingCharacters(in: .whitespaces).lowercased()
        guard !numberPart.isEmpty else {
            throw ByteCountParseError(input: text, reason: "it does not start with a non-negative number")
        }
        guard numberPart.filter({ $0 == "." }).count <= 1, numberPart != ".", numberPart.last != "." else {
            throw ByteCountParseError(input: text, reason: "\"\(numberPart)\" is not a number")
        }
        guard let factor = Self.factors[unitPart] else {
            throw ByteCountParseError(input: text, reason: "\"\(unitPart)\" is not a unit")
        }
        if numberPart.contains(".") {
            guard let value = Double(numberPart), value.isFinite else {
                throw ByteCountParseError(input: text, reason: "\"\(numberPart)\" is not a number")
            }
            guard factor > 1 else {
                throw ByteCountParseError(input: text, reason: "a fraction of a byte needs a unit (e.g. 1.5GiB)")
            }
            let total = (value * Double(factor)).rounded()
            guard total < 9.2e18 else { throw ByteCountParseError(input: text, reason: "it is too large") }
            self.bytes = Int(total)
        } else {
            guard let value = Int(numberPart) else {
                throw ByteCountParseError(input: text, reason: "it is too large")
            }
            let (total, overflow) = value.multipliedReportingOverflow(by: factor)
            guard !overflow else { throw ByteCountParseError(input: text, reason: "it is too large") }
            self.bytes = total
        }
    }
}

/// A string that ``ByteCount/init(parsing:)`` could not read; its description lists the accepted forms.
public struct ByteCountParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text as given.
    public var input: String
    /// What is wrong with it.
    public var reason: String

    public var description: String {
        "cannot read \"\(input)\" as a memory size: \(reason). Expected \(ByteCount.acceptedForms)."
    }
}
