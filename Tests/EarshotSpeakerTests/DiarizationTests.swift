import EarshotFunASR
import EarshotMemory
import EarshotSpeaker
import Foundation
import Testing

extension SpeakerSuite {
    @Suite("diarization geometry, turns and the DER scorer (no model)") struct DiarizationGeometryTests {
        @Test("DER scorer: the hand-checked cases of bench/test_der.py")
        func derHandChecked() {
            let a = DERScorer.score(reference: [(0, 10, "A"), (10, 20, "B")],
                                    hypothesis: [(0, 12, "s1"), (12, 18, "s2"), (19, 20, "s2")], collar: 0)
            #expect(abs(a.confusion - 2) < 1e-9 && abs(a.miss - 1) < 1e-9 && abs(a.der - 0.15) < 1e-9)
            let b = DERScorer.score(reference: [(1, 4, "A")], hypothesis: [(0, 4.5, "h"), (6, 7, "g")], collar: 0.25)
            #expect(abs(b.total - 2.5) < 1e-9 && abs(b.falseAlarm - 2) < 1e-9 && abs(b.der - 0.8) < 1e-9)
            let c = DERScorer.score(reference: [(0, 10, "A"), (5, 10, "B")], hypothesis: [(0, 10, "a")], collar: 0)
            #expect(abs(c.der - 5.0 / 15) < 1e-9)
            let d = DERScorer.score(reference: [(0, 6, "A"), (6, 11, "A"), (11, 16, "B")],
                                    hypothesis: [(0, 6, "h1"), (6, 11, "h2"), (11, 16, "h1")], collar: 0)
            #expect(abs(d.confusion - 6) < 1e-9)   // optimal mapping A→h2, B→h1 (greedy would give 10)
        }

        @Test("windows over a region follow FunASR's sv_chunk (last window ends at the region's end)")
        func windowGeometry() {
            #expect(Diarizer.windows(count: 10_000, window: 25_600, hop: 12_800) == [0 ..< 10_000])
            #expect(Diarizer.windows(count: 25_600, window: 25_600, hop: 12_800) == [0 ..< 25_600])
            #expect(Diarizer.windows(count: 30_000, window: 25_600, hop: 12_800) == [0 ..< 25_600, 4_400 ..< 30_000])
            #expect(Diarizer.windows(count: 40_000, window: 25_600, hop: 12_800)
                    == [0 ..< 25_600, 12_800 ..< 38_400, 14_400 ..< 40_000])
            #expect(Diarizer.windows(count: 0, window: 25_600, hop: 12_800).isEmpty)
        }

        @Test("turns: merged per speaker, overlaps split in the middle, short turns smoothed (FunASR postprocess)")
        func turnRules() {
            let w: [(start: Double, end: Double)] = [(0, 1.6), (0.8, 2.4), (1.6, 3.2), (2.4, 4.0), (5, 6.6), (10, 10.5), (11, 12.6)]
            let turns = Diarizer.turns(windows: w, labels: [7, 7, 3, 3, 7, 3, 3], minTurn: 0.7)
            // 7 → spk0, 3 → spk1 (order of appearance); [0, 2.4] and [1.6, 4.0] overlap → split at 2.0;
            // [10, 10.5] is short, nearer to the next turn (0.5 s) than to the previous (3.4 s) → the next's
            // speaker; it is not merged with it because a gap separates them.
            #expect(turns == [SpeakerTurn(start: 0, end: 2, speaker: 0), SpeakerTurn(start: 2, end: 4, speaker: 1),
                              SpeakerTurn(start: 5, end: 6.6, speaker: 0), SpeakerTurn(start: 10, end: 10.5, speaker: 1),
                              SpeakerTurn(start: 11, end: 12.6, speaker: 1)])
        }

        @Test("a transcript segment gets the speaker with the largest overlap")
        func maximumOverlap() {
            let r = DiarizationResult(turns: [SpeakerTurn(start: 0, end: 2, speaker: 0), SpeakerTurn(start: 2, end: 5, speaker: 1),
                                              SpeakerTurn(start: 5, end: 5.5, speaker: 0)],
                                      speechRegions: [], windows: 0, audioSeconds: 6)
            #expect(r.speaker(start: 1.5, end: 3)?.label == "spk1")
            #expect(r.speaker(start: 0, end: 2.9)?.label == "spk0")
            #expect(r.speaker(start: 4.5, end: 6)?.speaker == 0)   // 0.5 s each: the lower index wins the tie
            #expect(r.speaker(start: 7, end: 8)?.speaker == 0)     // no overlap: the nearest turn (5–5.5)
            #expect(r.speaker(start: 2.2, end: 2.2)?.speaker == 1)   // zero length: the turn containing it
            #expect(DiarizationResult(turns: [], speechRegions: [], windows: 0, audioSeconds: 0).speaker(start: 0, end: 1) == nil)
            #expect(r.rttm(fileID: "x").hasPrefix("SPEAKER x 1 0.000 2.000 <NA> <NA> spk0 <NA> <NA>\n"))
        }

        @Test("average-linkage clustering: a known speaker count is honoured; bad input throws")
        func standIn() throws {
            let a: [Float] = [1, 0, 0], b: [Float] = [0, 1, 0]
            let labels = try AverageLinkageClustering().cluster([a, a, b, b, a], speakers: nil)
            #expect(labels[0] == labels[1] && labels[1] == labels[4] && labels[2] == labels[3] && labels[0] != labels[2])
            #expect(Set(try AverageLinkageClustering().cluster([a, a, b, b], speakers: 1)).count == 1)
            #expect(throws: SpeakerError.self) { try AverageLinkageClustering().cluster([a, [1, 0]], speakers: nil) }
        }
    }
}
