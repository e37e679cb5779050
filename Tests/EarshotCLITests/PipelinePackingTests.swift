import Testing
@testable import EarshotPipeline
import EarshotWhisper

/// Window packing, time maps and per-utterance segments, on synthetic input (no model).
@Suite("pipeline: packing speech into windows and cutting utterances")
struct PipelinePackingTests {
    static let rate = 16_000

    /// Runs the packer over segments (seconds) and returns the windows as lists of recording ranges.
    static func pack(_ segments: [(Double, Double)], capacity: Int = 30 * rate, pad: Int, gap: Int = 0) -> [[Range<Int>]] {
        packWithBoundaries(segments, capacity: capacity, pad: pad, gap: gap).windows
    }

    static func packWithBoundaries(_ segments: [(Double, Double)], capacity: Int = 30 * rate, pad: Int,
                                   gap: Int = 0) -> (windows: [[Range<Int>]], boundaries: [Int]) {
        var packer = WindowPacker(capacity: capacity, pad: pad, gap: gap)
        var steps: [WindowPacker.Step] = []
        for (start, end) in segments {
            steps += packer.add(speech: Int(start * Double(rate))..<Int(end * Double(rate)))
        }
        steps += packer.finish()
        var windows: [[Range<Int>]] = []
        var current: [Range<Int>] = []
        var boundaries: [Int] = []
        for step in steps {
            switch step {
            case .piece(let range, let speech):
                #expect(range.overlaps((speech.lowerBound - pad)..<(speech.upperBound + pad)), "a piece holds part of its padded speech")
                current.append(range)
            case .boundary(let sample):
                // Strictly inside the stretch of contiguous pieces that ends with the last one (the time map
                // merges them), never at its start.
                let last = current.last
                var first = current.count - 1
                while first > 0 && current[first - 1].upperBound == current[first].lowerBound { first -= 1 }
                let stretchStart = current.isEmpty ? nil : current[first].lowerBound
                #expect(last.map { sample < $0.upperBound } ?? false, "a boundary must fall before the last piece's end")
                #expect(stretchStart.map { sample > $0 } ?? false, "a boundary must fall after the stretch's start: \(sample) in \(current)")
                boundaries.append(sample)
            case .close:
                windows.append(current)
                current = []
            }
        }
        #expect(current.isEmpty, "every window must be closed")
        return (windows, boundaries)
    }

    @Test("segments are padded, never overlap, and a window closes when the next piece does not fit")
    func packing() {
        let pad = Self.rate / 5   // 0.2 s
        let windows = Self.pack([(0.125, 5), (5.25, 10), (20, 40), (50, 55)], pad: pad)
        // 0.125 s − 0.2 s clamps at 0; the 0.25 s gap is less than two pads, so the second piece starts where
        // the first ended; 20.4 s no longer fit after 10.2 s, so the first window closes.
        #expect(windows == [[0..<(5 * Self.rate + pad), (5 * Self.rate + pad)..<(10 * Self.rate + pad)],
                            [(20 * Self.rate - pad)..<(40 * Self.rate + pad), (50 * Self.rate - pad)..<(55 * Self.rate + pad)]])
    }

    @Test("padded segments that touch get an utterance boundary halfway through their silence")
    func boundaries() {
        let pad = 2 * Self.rate / 5   // 0.4 s
        let (windows, boundaries) = Self.packWithBoundaries([(1, 3), (3.5, 6), (6, 8), (10, 12)], pad: pad)
        let s = { (seconds: Double) in Int(seconds * Double(Self.rate)) }
        #expect(windows == [[s(0.6)..<s(3.4), s(3.4)..<s(6.4), s(6.4)..<s(8.4), s(9.6)..<s(12.4)]])
        // 3 → 3.5 s: 0.5 s of silence, boundary at 3.25 s; 6 → 6 s (a cut inside speech): boundary at 6 s;
        // 8 → 10 s is longer than two pads: separate pieces, no boundary needed.
        #expect(boundaries == [3 * Self.rate + Self.rate / 4, 6 * Self.rate])
        var window = OpenWindow(capacity: 30 * Self.rate, gap: 0)
        window.append(start: 0, ArraySlice(repeating: 1, count: 4 * Self.rate))
        window.boundary(at: 3 * Self.rate)
        window.append(start: 4 * Self.rate, ArraySlice(repeating: 1, count: Self.rate))
        window.boundary(at: 5 * Self.rate)             // at the end of the last piece: ignored
        #expect(window.map.pieces == [WindowPiece(offset: 0, start: 0, count: 3 * Self.rate),
                                      WindowPiece(offset: 3 * Self.rate, start: 3 * Self.rate, count: 2 * Self.rate)])
        // The VAD's speech follows the pieces through merging and splitting.
        var speech = OpenWindow(capacity: 30 * Self.rate, gap: 0)
        speech.append(start: s(0.6), ArraySlice(repeating: 1, count: s(2.8)), speech: s(1)..<s(3))
        speech.boundary(at: s(3.25))
        speech.append(start: s(3.4), ArraySlice(repeating: 1, count: s(3)), speech: s(3.5)..<s(6))
        #expect(speech.map.pieces.map(\.speech) == [s(1)..<s(3), s(3.5)..<s(6)])
        #expect(speech.map.pieces.map(\.start) == [s(0.6), s(3.25)])
        #expect(speech.map.speechSeconds(piece: 1)! == (3.5, 6))
    }

    @Test("a piece longer than a window is split into window-sized parts; inserted gaps count against capacity")
    func splitting() {
        let windows = Self.pack([(1, 2), (10, 75)], pad: 0, gap: Self.rate / 10)
        #expect(windows.count == 4)
        #expect(windows[0] == [Self.rate..<(2 * Self.rate)])
        #expect(windows[1] == [(10 * Self.rate)..<(40 * Self.rate)])
        #expect(windows[2] == [(40 * Self.rate)..<(70 * Self.rate)])
        #expect(windows[3] == [(70 * Self.rate)..<(75 * Self.rate)])
        // 239 000 + 2 000 (gap) + 239 000 samples = 30 s fits exactly; one more sample of gap would not.
        let exact = Self.pack([(0, 14.9375), (20, 34.9375)], pad: 0, gap: 2000)
        #expect(exact.count == 1)
        let over = Self.pack([(0, 14.9375), (20, 34.9375)], pad: 0, gap: 2001)
        #expect(over.count == 2)
    }

    @Test("random streams: windows fit, pieces are in order, never overlap, and cover all padded speech")
    func randomStreams() {
        var generator = SeededGenerator(seed: 2026)
        for trial in 0..<1000 {
            let pad = [0, 1600, 3200, 6400][trial % 4]
            let gap = [0, 800, 3200][trial % 3]
            var segments: [(Double, Double)] = []
            var t = Double.random(in: 0..<2, using: &generator)
            for _ in 0..<Int.random(in: 1..<40, using: &generator) {
                let length = Double.random(in: 0.05..<(trial % 5 == 0 ? 45 : 12), using: &generator)
                segments.append((t, t + length))
                // Every seventh stream has segments that touch (the VAD cuts long speech without a pause).
                t += length + (trial % 7 == 0 ? 0 : Double.random(in: 0..<3, using: &generator))
            }
            let capacity = 30 * Self.rate
            let windows = Self.pack(segments, capacity: capacity, pad: pad, gap: gap)
            var previousEnd = 0
            for window in windows {
                #expect(!window.isEmpty)
                var used = 0
                for (i, piece) in window.enumerated() {
                    #expect(piece.lowerBound >= previousEnd && !piece.isEmpty)
                    if i > 0 && piece.lowerBound != window[i - 1].upperBound { used += gap }
                    used += piece.count
                    previousEnd = piece.upperBound
                }
                #expect(used <= capacity, "a window holds \(used) samples")
            }
            let covered = windows.joined()
            for (start, end) in segments {
                let lower = max(Int(start * Double(Self.rate)) - pad, 0), upper = Int(end * Double(Self.rate)) + pad
                for probe in [lower, (lower + upper) / 2, upper - 1] {
                    #expect(covered.contains { $0.contains(probe) }, "sample \(probe) of padded speech is not in any window")
                }
            }
        }
    }

    @Test("the open window inserts silence only between pieces that are not contiguous; the map merges contiguous ones")
    func openWindowAndMap() {
        var window = OpenWindow(capacity: 30 * Self.rate, gap: 800)
        window.append(start: 16_000, ArraySlice(repeating: 1, count: 16_000))
        window.append(start: 32_000, ArraySlice(repeating: 2, count: 8_000))    // contiguous: merged
        window.append(start: 80_000, ArraySlice(repeating: 3, count: 16_000))   // gap of 800 zeros first
        let (samples, map) = window.take()
        #expect(samples.count == 24_000 + 800 + 16_000)
        #expect(samples[23_999] == 2 && samples[24_000] == 0 && samples[24_799] == 0 && samples[24_800] == 3)
        #expect(map.pieces == [WindowPiece(offset: 0, start: 16_000, count: 24_000),
                               WindowPiece(offset: 24_800, start: 80_000, count: 16_000)])
        #expect(window.isEmpty && window.samples.isEmpty)
        #expect(map.recordingStart == 1 && map.recordingEnd == 6)
        #expect(abs(map.recordingTime(0.5) - 1.5) < 1e-9)
        #expect(abs(map.recordingTime(1.6) - 5.05) < 1e-9)            // 1.6 s = 25 600 = 800 into piece 2
        #expect(map.pieceIndex(at: 1.51) == 0 && map.pieceIndex(at: 1.54) == 1)   // inside the gap: nearest
        #expect(map.pieceIndex(at: 99) == 1 && map.pieceIndex(at: -1) == 0)
        #expect(abs(map.recordingTime(1.51) - 2.5) < 1e-9)            // clamped to the end of piece 1
        #expect(abs(map.recordingTime(1.51, piece: 1) - 5) < 1e-9)    // clamped to the start of piece 2
        // The window never exceeds its capacity, whatever it is given.
        var small = OpenWindow(capacity: 1000, gap: 100)
        small.append(start: 0, ArraySlice(repeating: 1, count: 600))
        small.append(start: 5000, ArraySlice(repeating: 1, count: 600))
        #expect(small.samples.count == 1000 && small.map.windowSamples == 1000)
    }

    /// A window of three utterances: 0–4 s at 10 s, 4–10 s at 20 s, 10–30 s at 40 s of the recording.
    static let threePieces = WindowTimeMap(pieces: [
        WindowPiece(offset: 0, start: 10 * rate, count: 4 * rate),
        WindowPiece(offset: 4 * rate, start: 20 * rate, count: 6 * rate),
        WindowPiece(offset: 10 * rate, start: 40 * rate, count: 20 * rate),
    ])

    static func near(_ a: [Double], _ b: [Double]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) < 1e-9 }
    }

    static func window(_ words: [WordTiming]?, text: String = " whole window") -> TranscriptSegment {
        TranscriptSegment(id: 0, seek: 0, start: 0, end: 30, text: text, tokens: [1, 2, 3], temperature: 0,
                          avgLogProb: -0.2, compressionRatio: 1.1, noSpeechProb: 0.01, words: words)
    }

    @Test("words go to the piece holding their midpoint; a segment per piece, times on the recording")
    func utterances() {
        let words = [
            WordTiming(word: " One", start: 0.5, end: 1.0, probability: 0.9),
            WordTiming(word: " two.", start: 1.2, end: 3.9, probability: 0.9),
            WordTiming(word: " Three", start: 3.8, end: 4.6, probability: 0.9),   // midpoint 4.2: piece 2
            WordTiming(word: " four", start: 5, end: 9.8, probability: 0.9),
            WordTiming(word: " five", start: 9.7, end: 10.5, probability: 0.9),   // midpoint 10.1: piece 3
        ]
        let segmenter = UtteranceSegmenter(keepWords: true, tokenize: { Array($0.utf8).map(Int.init) })
        let out = segmenter.segments(from: [Self.window(words)], map: Self.threePieces)
        #expect(out.map(\.text) == [" One two.", " Three four", " five"])
        #expect(Self.near(out.map(\.start), [10.5, 20.0, 40.0]))   // " Three" starts 0.2 s before its piece: clamped
        #expect(Self.near(out.map(\.end), [13.9, 25.8, 40.5]))
        #expect(out.allSatisfy { $0.seek == 1000 && $0.avgLogProb == -0.2 })
        #expect(out[0].tokens == Array(" One two.".utf8).map(Int.init))
        #expect(Self.near(out[1].words?.map(\.start) ?? [], [20.0, 21.0]) && Self.near(out[1].words?.map(\.end) ?? [], [20.6, 25.8]))
        let plain = UtteranceSegmenter().segments(from: [Self.window(words)], map: Self.threePieces)
        #expect(plain.count == 3 && plain.allSatisfy { $0.words == nil })
        // With the VAD's speech known, each utterance runs from its speech start to its speech end; the
        // words keep their own times.
        let vad = WindowTimeMap(pieces: Self.threePieces.pieces.map { piece in
            WindowPiece(offset: piece.offset, start: piece.start, count: piece.count,
                        speech: (piece.start + Self.rate / 4)..<(piece.start + piece.count - Self.rate / 4))
        })
        let edges = UtteranceSegmenter(keepWords: true).segments(from: [Self.window(words)], map: vad)
        #expect(Self.near(edges.map(\.start), [10.25, 20.25, 40.25]))
        #expect(Self.near(edges.map(\.end), [13.75, 25.75, 59.75]))
        #expect(Self.near(edges[1].words?.map(\.start) ?? [], [20.0, 21.0]))
        // Two Whisper segments sharing the middle piece: only its first utterance takes the speech start, only
        // its last the speech end.
        var head = Self.window(Array(words[0..<3])), tail = Self.window(Array(words[3...]))
        (head.text, tail.text) = (" One two. Three", " four five")
        let shared = UtteranceSegmenter().segments(from: [head, tail], map: vad)
        #expect(shared.map(\.text) == [" One two.", " Three", " four", " five"])
        #expect(Self.near(shared.map(\.start), [10.25, 20.25, 21.0, 40.25]))
        #expect(Self.near(shared.map(\.end), [13.75, 20.6, 25.75, 59.75]))
    }

    @Test("a word in inserted silence goes to the nearest piece, never back to an earlier one")
    func gapsAndOrder() {
        let map = WindowTimeMap(pieces: [WindowPiece(offset: 0, start: 0, count: 2 * Self.rate),
                                         WindowPiece(offset: 3 * Self.rate, start: 100 * Self.rate, count: 2 * Self.rate)])
        let words = [
            WordTiming(word: " a", start: 0, end: 1, probability: 1),
            WordTiming(word: " b", start: 2.0, end: 2.2, probability: 1),     // gap, nearer piece 1
            WordTiming(word: " c", start: 2.6, end: 3.0, probability: 1),     // gap, nearer piece 2
            WordTiming(word: " d", start: 0.0, end: 0.1, probability: 1),     // would go back: stays in piece 2
        ]
        let out = UtteranceSegmenter().segments(from: [Self.window(words)], map: map)
        #expect(out.map(\.text) == [" a b", " c d"])
        #expect(out.map(\.start) == [0, 100] && out.map(\.end) == [2, 100])
        let starts = out.map(\.start)
        #expect(starts == starts.sorted())
    }

    @Test("inside a piece longer than 15 s, segments end at sentence ends")
    func sentences() {
        let map = WindowTimeMap(pieces: [WindowPiece(offset: 0, start: 60 * Self.rate, count: 30 * Self.rate)])
        let texts = [" It", " rained.", " We", " stayed", " in?", " Yes!", " \"Really.\"", " End"]
        let words = texts.enumerated().map { i, w in
            WordTiming(word: w, start: Double(i) * 3.5, end: Double(i) * 3.5 + 3, probability: 1)
        }
        let out = UtteranceSegmenter().segments(from: [Self.window(words)], map: map)
        #expect(out.map(\.text) == [" It rained.", " We stayed in?", " Yes!", " \"Really.\"", " End"])
        #expect(out.first?.start == 60 && out.last?.end == 60 + 7 * 3.5 + 3)
        #expect(out.map(\.start) == [60, 67, 77.5, 81, 84.5])   // sentence edges inside a piece: the words'
        // With the VAD's speech, only the piece's outer edges change.
        let vad = WindowTimeMap(pieces: [WindowPiece(offset: 0, start: 60 * Self.rate, count: 30 * Self.rate,
                                                     speech: (61 * Self.rate)..<(89 * Self.rate))])
        let edges = UtteranceSegmenter().segments(from: [Self.window(words)], map: vad)
        #expect(edges.map(\.start) == [61, 67, 77.5, 81, 84.5] && edges.last?.end == 89 && edges.first?.end == 66.5)
        // The same words within 15 s stay one segment.
        let short = texts.enumerated().map { i, w in
            WordTiming(word: w, start: Double(i) * 1.5, end: Double(i) * 1.5 + 1, probability: 1)
        }
        #expect(UtteranceSegmenter().segments(from: [Self.window(short)], map: map).count == 1)
    }

    @Test("without words: one segment per window, from the first piece's (speech) start to the last piece's end")
    func fallback() {
        let out = UtteranceSegmenter(keepWords: true).segments(from: [Self.window(nil)], map: Self.threePieces)
        #expect(out.count == 1)
        #expect(out[0].start == 10 && out[0].end == 60 && out[0].text == " whole window" && out[0].tokens == [1, 2, 3])
        #expect(out[0].seek == 1000 && out[0].words == nil)
        #expect(UtteranceSegmenter().segments(from: [], map: Self.threePieces).isEmpty)
        let vad = WindowTimeMap(pieces: [WindowPiece(offset: 0, start: 16_000, count: 32_000, speech: 20_000..<40_000)])
        let speech = UtteranceSegmenter().segments(from: [Self.window(nil)], map: vad)
        #expect(speech.map(\.start) == [1.25] && speech.map(\.end) == [2.5])
        // Several timestamped segments without words are mapped one by one.
        var first = Self.window(nil, text: " a"), second = Self.window(nil, text: " b")
        (first.start, first.end, second.start, second.end) = (1, 4, 10.5, 12)
        let mapped = UtteranceSegmenter().segments(from: [first, second], map: Self.threePieces)
        #expect(mapped.map(\.start) == [11, 40.5] && mapped.map(\.end) == [14, 42])
    }
}

/// SplitMix64: the property tests draw the same streams on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
