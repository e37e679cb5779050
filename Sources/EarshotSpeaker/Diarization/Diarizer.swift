import EarshotAudio
import EarshotFunASR
import EarshotMemory
import EarshotSpeech
import Foundation

/// Options of one diarization run.
public struct DiarizationOptions: Sendable {
    /// The number of speakers when known; `nil` lets the clustering back end decide.
    public var speakers: Int?
    /// At most this many windows per embedding call (the memory limit may lower it).
    public var maxBatchWindows = 16
    /// Turns shorter than this go to the nearer neighbour (FunASR campplus/utils.py `smooth(mindur=0.7)`).
    public var minTurnSeconds = 0.7
    /// Samples read from the file at a time.
    public var readSamples = 160_000
    /// Return every window's embedding in the result (for analysis and for feeding other back ends).
    public var keepEmbeddings = false

    /// Defaults: automatic speaker count.
    public init(speakers: Int? = nil) { self.speakers = speakers }
}

extension SpeakerTurn {
    /// The label written in RTTM, JSON and transcripts (`spk0`, `spk1`, …).
    public var label: String { "spk\(speaker)" }
}

/// What a diarization run found.
public struct DiarizationResult: Sendable {
    /// Speaker turns in time order (adjacent windows of one speaker merged, short turns smoothed away).
    public var turns: [SpeakerTurn]
    /// FSMN-VAD's speech regions, in milliseconds.
    public var speechRegions: [SpeechSegment]
    /// Windows embedded.
    public var windows: Int
    /// Seconds of audio read.
    public var audioSeconds: Double
    /// Each embedded window's start and end (seconds) and its vector, when ``DiarizationOptions/keepEmbeddings``
    /// was set (empty otherwise).
    public var embeddings: [(start: Double, end: Double, vector: [Float])] = []
    /// Distinct speakers in `turns`.
    public var speakers: Int { Set(turns.map(\.speaker)).count }

    /// A result from its parts.
    public init(turns: [SpeakerTurn], speechRegions: [SpeechSegment], windows: Int, audioSeconds: Double) {
        self.turns = turns
        self.speechRegions = speechRegions
        self.windows = windows
        self.audioSeconds = audioSeconds
    }

    /// The speaker whose turns overlap `start ..< end` the longest (ties: the lower index); a span that
    /// overlaps no turn (or has no length) gets the nearest turn's speaker; `nil` only without turns. This is
    /// how transcript segments get their speaker.
    public func speaker(start: Double, end: Double) -> SpeakerTurn? {
        guard let nearest = turns.min(by: { distance($0, start, end) < distance($1, start, end) }) else { return nil }
        var best = SpeakerTurn(start: start, end: end, speaker: nearest.speaker), bestOverlap = 0.0
        var bySpeaker: [Int: Double] = [:]
        for t in turns where t.end > start && t.start < end {
            bySpeaker[t.speaker, default: 0] += min(t.end, end) - max(t.start, start)
        }
        for (s, overlap) in bySpeaker.sorted(by: { $0.key < $1.key }) where overlap > bestOverlap {
            bestOverlap = overlap
            best = SpeakerTurn(start: start, end: end, speaker: s)
        }
        return best
    }

    private func distance(_ t: SpeakerTurn, _ start: Double, _ end: Double) -> Double {
        max(0, t.start - end, start - t.end)
    }

    /// NIST RTTM: one `SPEAKER <file> 1 <start> <duration> <NA> <NA> <speaker> <NA> <NA>` line per turn.
    public func rttm(fileID: String) -> String {
        turns.map { t in
            "SPEAKER \(fileID) 1 \(String(format: "%.3f", t.start)) \(String(format: "%.3f", t.end - t.start)) <NA> <NA> \(t.label) <NA> <NA>\n"
        }.joined()
    }

    /// `{"speakers": N, "turns": [{"start", "end", "speaker"}], "speech": [[start_ms, end_ms]]}`.
    public func json() -> String {
        struct Turn: Encodable { let start: Double; let end: Double; let speaker: String }
        struct Output: Encodable { let speakers: Int; let turns: [Turn]; let speech: [[Int]] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let out = Output(speakers: speakers,
                         turns: turns.map { Turn(start: ($0.start * 1000).rounded() / 1000,
                                                 end: ($0.end * 1000).rounded() / 1000, speaker: $0.label) },
                         speech: speechRegions.map { [$0.startMs, $0.endMs] })
        return String(decoding: (try? encoder.encode(out)) ?? Data("{}".utf8), as: UTF8.self) + "\n"
    }
}

/// Who spoke when: FSMN-VAD speech regions (streamed), a speaker embedding per window over each region
/// (the embedder's window and hop, cut as FunASR's `sv_chunk` cuts them), clustering of all windows, then
/// FunASR's `postprocess` rules to turn labelled windows into turns.
///
/// Memory: audio is read `readSamples` at a time and only the samples of the open speech region (at most
/// FSMN-VAD's maximum segment) plus a few seconds are kept; windows are embedded in batches as each region
/// ends; the embedding matrix (4·dimension bytes per window) grows with the recording. Batches and the
/// matrix are reserved in the ledger under ``MemoryCategory/speaker``.
public final class Diarizer: @unchecked Sendable {
    // @unchecked: the stored models are Sendable and immutable; the class holds no mutable state.
    /// The VAD model.
    public let vad: FSMNVAD
    /// The speaker embedder.
    public let embedder: any SpeakerEmbedder
    /// The clustering back end.
    public let clustering: any SpeakerClusterer

    /// Combines the three stages.
    public init(vad: FSMNVAD, embedder: any SpeakerEmbedder, clustering: any SpeakerClusterer) {
        self.vad = vad
        self.embedder = embedder
        self.clustering = clustering
    }

    /// Diarizes an audio file, streamed.
    /// - Throws: `AudioError` for unreadable audio, `MemoryError`/`SpeakerError` when the limit leaves no room
    ///   for one window, errors of the embedder or clustering.
    public func diarize(file path: String, options: DiarizationOptions = DiarizationOptions(),
                        ledger: MemoryLedger? = nil) throws -> DiarizationResult {
        let reader = try AudioFileReader(path: path, targetSampleRate: 16000)
        defer { reader.close() }
        let run = try Run(diarizer: self, options: options, ledger: ledger)
        while true {
            let chunk = try reader.read(maxSamples: options.readSamples)
            if chunk.isEmpty { break }
            try run.push(chunk)
        }
        return try run.finish()
    }

    /// Diarizes samples already in memory (16 kHz mono).
    public func diarize(samples: [Float], options: DiarizationOptions = DiarizationOptions(),
                        ledger: MemoryLedger? = nil) throws -> DiarizationResult {
        let run = try Run(diarizer: self, options: options, ledger: ledger)
        var i = 0
        while i < samples.count {
            let j = min(samples.count, i + options.readSamples)
            try run.push(Array(samples[i ..< j]))
            i = j
        }
        return try run.finish()
    }

    /// The windows (sample ranges of a region of `count` samples) FunASR's `sv_chunk` cuts, with the embedder's
    /// window and hop (``SpeakerTurns/windows(regionStart:sampleCount:sampleRate:windowSamples:hopSamples:)``).
    public static func windows(count: Int, window: Int, hop: Int) -> [Range<Int>] {
        SpeakerTurns.windows(regionStart: 0, sampleCount: count, windowSamples: window, hopSamples: hop).map(\.samples)
    }

    /// Labelled windows (seconds) → turns by FunASR's `postprocess` (``SpeakerTurns/turns(windows:labels:minimumDuration:)``).
    public static func turns(windows: [(start: Double, end: Double)], labels: [Int], minTurn: Double) -> [SpeakerTurn] {
        SpeakerTurns.turns(windows: windows, labels: labels, minimumDuration: minTurn)
    }
}
