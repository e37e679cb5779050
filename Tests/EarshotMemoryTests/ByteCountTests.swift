import Testing
@testable import EarshotMemory

@Suite("ByteCount")
struct ByteCountTests {
    @Test("parses SI, IEC, bare letters, spaces, case", arguments: [
        ("300MB", 300_000_000),
        ("300 MB", 300_000_000),
        ("300mb", 300_000_000),
        ("  300 Mb ", 300_000_000),
        ("1.5GiB", 1_610_612_736),
        ("512MiB", 536_870_912),
        ("2G", 2_147_483_648),
        ("2g", 2_147_483_648),
        ("64K", 65_536),
        ("1048576", 1_048_576),
        ("0", 0),
        ("512B", 512),
        ("1KB", 1000),
        ("1kib", 1024),
        ("1TB", 1_000_000_000_000),
        ("0.5M", 524_288),
        ("1.25 GB", 1_250_000_000),
    ])
    func parses(text: String, bytes: Int) throws {
        #expect(try ByteCount(parsing: text).bytes == bytes)
    }

    @Test("rejects garbage with the accepted forms", arguments: [
        "", "  ", "MB", "abc", "-5MB", "12 XB", "1.2.3GB", "1.5", ".", "5.MB", "99999999999999999999", "1e9",
        "300 MB extra", "100000000000000TB",
    ])
    func rejects(text: String) {
        #expect(throws: ByteCountParseError.self) { try ByteCount(parsing: text) }
        do {
            _ = try ByteCount(parsing: text)
        } catch {
            #expect(error.description.contains("300MB"))
            #expect(error.description.contains("GiB"))
            #expect(error.description.contains("\"\(text)\""))
        }
    }

    @Test("formats for humans", arguments: [
        (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (301_360_333, "287.4 MiB"),
        (2_147_483_648, "2.0 GiB"), (-1_048_576, "-1.0 MiB"), (1_048_575, "1.0 MiB"),
    ])
    func formats(bytes: Int, text: String) {
        #expect(ByteCount(bytes).description == text)
    }

    @Test func arithmeticAndOrder() {
        let a: ByteCount = 100
        #expect(a + 50 == 150)
        #expect(a - 150 == ByteCount(-50))
        #expect(a * 3 == 300)
        #expect(ByteCount.mib(1) < ByteCount.mb(1.1))
        #expect([ByteCount.gib(1), .kib(1), .mib(1)].sorted() == [.kib(1), .mib(1), .gib(1)])
    }
}
