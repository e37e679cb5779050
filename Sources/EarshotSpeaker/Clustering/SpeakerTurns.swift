import Foundation

/// A stretch of time given to one speaker, in seconds.
public struct SpeakerTurn: Sendable, Equatable {
    public var start: Double
    public var end: Double
    public var speaker: Int

    public init(start: Double, end: Double, speaker: Int) {
        self.start = start
        self.end = end
        self.speaker = speaker
    }
}

/// FunASR's speaker post-processing around the clustering (funasr/models/campplus/utils.py, funasr 1.4.3):
/// how speech regions are cut into embedding windows (`sv_chunk`), how window labels become speaker turns
/// (`postprocess`: `correct_labels`, `merge_seque`, overlap split, `smooth`), and how sentences get a
/// speaker (`distribute_spk`).
public enum SpeakerTurns {
    /// FunASR's CAM++ windows: 1.5 s, hop 0.75 s, at 16 kHz.
    public static let windowSamples = 24_000
    public static let hopSamples = 12_000

    /// `sv_chunk` for one speech region of `sampleCount` samples starting at `regionStart` seconds: sample
    /// ranges (relative to the region) of each window and their times in seconds. A window that would pass
    /// the end is moved back to end there (regions shorter than a window give one short window, which
    /// FunASR pads with zeros); the loop stops when a window would end where the previous one did.
    public static func windows(regionStart: Double, sampleCount: Int, sampleRate: Int = 16_000,
                               windowSamples: Int = windowSamples, hopSamples: Int = hopSamples)
        -> [(samples: Range<Int>, start: Double, end: Double)] {
        var result: [(samples: Range<Int>, start: Double, end: Double)] = []
        var lastEnd = 0
        var chunkStart = 0
        let fs = Double(sampleRate)
        while chunkStart < sampleCount {
            let end = min(chunkStart + windowSamples, sampleCount)
            if end <= lastEnd { break }
            lastEnd = end
            let start = max(0, end - windowSamples)
            result.append((start..<end, Double(start) / fs + regionStart, Double(end) / fs + regionStart))
            chunkStart += hopSamples
        }
        return result
    }

    /// `postprocess`: window times and their cluster labels → speaker turns. Labels are renumbered by first
    /// appearance, consecutive windows of one speaker that touch or overlap are joined, overlaps between
    /// neighbouring turns are split at their midpoint, times are rounded to 10 ms, turns shorter than
    /// `minimumDuration` (0.7 s) take the speaker of the nearer neighbour, and equal neighbours are joined.
    public static func turns(windows: [(start: Double, end: Double)], labels: [Int],
                             minimumDuration: Double = 0.7) -> [SpeakerTurn] {
        precondition(windows.count == labels.count, "one label per window")
        if windows.isEmpty { return [] }
        var renumber: [Int: Int] = [:]
        let corrected = labels.map { label -> Int in
            if let r = renumber[label] { return r }
            let r = renumber.count
            renumber[label] = r
            return r
        }
        var res = mergeSequence(zip(windows, corrected).map { SpeakerTurn(start: $0.0.start, end: $0.0.end, speaker: $0.1) })
        for i in 1..<max(res.count, 1) where res[i - 1].end > res[i].start + 1e-4 {
            let p = (res[i].start + res[i - 1].end) / 2
            res[i].start = p
            res[i - 1].end = p
        }
        return smooth(res, minimumDuration: minimumDuration)
    }

    /// `merge_seque`: a turn continues the previous one when the speaker is the same and it starts no later
    /// than the previous end.
    static func mergeSequence(_ input: [SpeakerTurn]) -> [SpeakerTurn] {
        guard var last = input.first else { return [] }
        var out: [SpeakerTurn] = []
        for t in input.dropFirst() {
            if t.speaker != last.speaker || t.start > last.end {
                out.append(last)
                last = t
            } else {
                last.end = t.end
            }
        }
        out.append(last)
        return out
    }

    /// `smooth`: round to 2 decimals (Python's `round`, correctly rounded), relabel short turns in order
    /// (a relabelled turn is seen by the next one), then join.
    static func smooth(_ input: [SpeakerTurn], minimumDuration: Double) -> [SpeakerTurn] {
        if input.count < 2 { return input }
        var res = input
        for i in res.indices {
            res[i].start = pythonRound2(res[i].start)
            res[i].end = pythonRound2(res[i].end)
            if res[i].end - res[i].start < minimumDuration {
                if i == 0 {
                    res[i].speaker = res[i + 1].speaker
                } else if i == res.count - 1 {
                    res[i].speaker = res[i - 1].speaker
                } else if res[i].start - res[i - 1].end <= res[i + 1].start - res[i].end {
                    res[i].speaker = res[i - 1].speaker
                } else {
                    res[i].speaker = res[i + 1].speaker
                }
            }
        }
        return mergeSequence(res)
    }

    /// Python's `round(x, 2)`: the nearest two-decimal number to the exact binary value (glibc's `%.2f`
    /// rounds the same way), read back as a double.
    static func pythonRound2(_ x: Double) -> Double {
        Double(String(format: "%.2f", x)) ?? x
    }

    /// `distribute_spk`: the speaker of each sentence (times in milliseconds) is the turn it overlaps most,
    /// speaker 0 if none. FunASR's running total doubles an overlap when a turn of the current best speaker
    /// sets a new maximum, and adds later overlaps of that speaker; this reproduces it.
    public static func sentenceSpeakers(sentences: [(start: Double, end: Double)], turns: [SpeakerTurn]) -> [Int] {
        sentences.map { sentence in
            var speaker = 0
            var maxOverlap = 0.0
            for t in turns {
                let overlap = max(min(sentence.end, t.end * 1000) - max(sentence.start, t.start * 1000), 0)
                if overlap > maxOverlap {
                    maxOverlap = overlap
                    speaker = t.speaker
                }
                if overlap > 0 && speaker == t.speaker { maxOverlap += overlap }
            }
            return speaker
        }
    }
}
