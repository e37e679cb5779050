import Foundation
import Testing
import EarshotAudio
import EarshotText
@testable import EarshotWhisper

/// Earshot `--precision int8` against faster-whisper 1.2.1 `compute_type="int8"` (CTranslate2 4.8.5) on the same
/// fp16 checkpoints, greedy at temperature 0 (oracle: `scripts/oracle/whisper_oracle.py --compute-type int8`).
@Suite("Whisper int8 against faster-whisper int8", .serialized)
struct Int8AccuracyTests {
    struct Outcome {
        var identical = 0
        var recordings = 0
        var tokens = 0
        var tokensDiffering = 0
        /// Word errors of Earshot's text against faster-whisper's (English recordings).
        var wordDiff = WordErrorRate()
        var report: [String] = []
    }

    func compare(model directory: String, oracle name: String) throws -> Outcome {
        let oracle = try OracleFile.load(name)
        let model = try WhisperModel(directory: TestAssets.path(directory), precision: .int8)
        var options = WhisperDecodingOptions.greedy
        options.temperatures = [0]
        var outcome = Outcome()
        for recording in oracle.recordings {
            let samples = try AudioFileReader.readAll(path: TestAssets.path(recording.file))
            options.language = recording.language_option
            let transcript = try model.transcribe(audio: samples, options: options)
            let ours = transcript.segments.flatMap(\.tokens)
            let theirs = recording.segments.flatMap(\.tokens)
            outcome.recordings += 1
            outcome.tokens += theirs.count
            let common = zip(ours, theirs).prefix { $0 == $1 }.count
            if ours == theirs {
                outcome.identical += 1
                outcome.report.append("\(recording.id): identical (\(theirs.count) tokens)")
            } else {
                outcome.tokensDiffering += max(ours.count, theirs.count) - common
                outcome.report.append("\(recording.id): first difference at token \(common) of \(theirs.count)\n"
                                      + "  earshot:        \(transcript.text.trimmingCharacters(in: .whitespaces))\n"
                                      + "  faster-whisper: \(recording.text)")
            }
            #expect(transcript.language == recording.language, "\(recording.id): language")
            if recording.metric == "wer" {
                outcome.wordDiff = outcome.wordDiff + WordErrorRate(reference: recording.text,
                                                                    hypothesis: transcript.text)
            }
        }
        return outcome
    }

    @Test("tiny.en int8 greedy: token-for-token equal to faster-whisper int8")
    func tinyGreedy() throws {
        let outcome = try compare(model: "models/whisper-tiny.en", oracle: "faster-whisper-tiny.en-greedy-int8.json")
        print("tiny.en int8 greedy: identical token streams \(outcome.identical)/\(outcome.recordings), "
              + "tokens after the first difference \(outcome.tokensDiffering)/\(outcome.tokens), "
              + "words differing \(outcome.wordDiff.errors)/\(outcome.wordDiff.referenceCount)")
        for line in outcome.report { print(line) }
        #expect(outcome.recordings >= 10)
        #expect(outcome.identical == outcome.recordings)
    }

    @Test("base int8 greedy (language detection): token streams against faster-whisper int8")
    func baseGreedy() throws {
        let outcome = try compare(model: "models/whisper-base", oracle: "faster-whisper-base-greedy-int8.json")
        print("base int8 greedy: identical token streams \(outcome.identical)/\(outcome.recordings), "
              + "tokens after the first difference \(outcome.tokensDiffering)/\(outcome.tokens), "
              + "words differing \(outcome.wordDiff.errors)/\(outcome.wordDiff.referenceCount)")
        for line in outcome.report { print(line) }
        #expect(outcome.recordings >= 12)
    }
}
