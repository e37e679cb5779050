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

    /// Bit-for-bit equality is out of reach (docs/performance.md, "int8: the same arithmetic as CTranslate2's
    /// int8"): the int8 network turns 1-ulp differences in fp32 steps into different roundings, and CTranslate2's
    /// fp32 steps (oneDNN GEMMs and convolutions) cannot be reproduced bit for bit. The bound is therefore how
    /// far faster-whisper int8 is from *itself* when only CTranslate2's ISA changes: with
    /// `CT2_FORCE_CPU_ISA=AVX512` it matches this fixture (made with its default AVX2) on 8 of 11 recordings,
    /// 37 of 203 words differing — the same three recordings, diverging at the same tokens, as Earshot (measured
    /// 2026-11-27). Before Earshot followed CTranslate2's int8 arithmetic, 22 independent 29-s clips matched
    /// in 8 (4.8 % of words differing); now 13 (2.7 %), CTranslate2 AVX-512 vs AVX2 14 (3.0 %).
    @Test("tiny.en int8 greedy: as close to faster-whisper int8 as CTranslate2 is to itself across ISAs")
    func tinyGreedy() throws {
        let outcome = try compare(model: "models/whisper-tiny.en", oracle: "faster-whisper-tiny.en-greedy-int8.json")
        print("tiny.en int8 greedy: identical token streams \(outcome.identical)/\(outcome.recordings), "
              + "tokens after the first difference \(outcome.tokensDiffering)/\(outcome.tokens), "
              + "words differing \(outcome.wordDiff.errors)/\(outcome.wordDiff.referenceCount)")
        for line in outcome.report { print(line) }
        #expect(outcome.recordings == 11)
        #expect(outcome.identical >= 8, "CTranslate2 AVX-512 vs its AVX2 fixture: 8 of 11 identical")
        // CTranslate2 AVX-512 vs its AVX2 fixture: 37 of 203 words differ. Earshot itself moves by a few words
        // between its own instruction-set levels (fp32 GEMM/softmax order; measured 2026-11-27 with every level
        // forced: portable 36, AVX2 38, AVX-512 and VNNI 36), so the bound is CT2's figure plus that spread.
        #expect(outcome.wordDiff.errors <= 40, "CTranslate2 AVX-512 vs its AVX2 fixture: 37 of 203 words differ")
    }

    /// base with language detection. faster-whisper int8 with `CT2_FORCE_CPU_ISA=AVX512` matches this fixture on
    /// 12 of 13 recordings, 64 of 178 words differing (its pyannote transcript falls into a repetition loop);
    /// Earshot on 8 of 13 with 10 of 177 words differing. The recordings Earshot differs on diverge where the
    /// top two tokens are within a fraction of a logit, and there CTranslate2 *itself* picks Earshot's token when
    /// given Earshot's mel instead of faster-whisper's (which differ by ≤ 2.4e-7): `cards/005` token 14,
    /// `…-0920` token 9 (`scripts/oracle/ct2_int8_compare.py --audio`). Bounds: the measured identical count,
    /// and CTranslate2's own cross-ISA word count.
    @Test("base int8 greedy (language detection): as close to faster-whisper int8 as CTranslate2 across ISAs")
    func baseGreedy() throws {
        let outcome = try compare(model: "models/whisper-base", oracle: "faster-whisper-base-greedy-int8.json")
        print("base int8 greedy: identical token streams \(outcome.identical)/\(outcome.recordings), "
              + "tokens after the first difference \(outcome.tokensDiffering)/\(outcome.tokens), "
              + "words differing \(outcome.wordDiff.errors)/\(outcome.wordDiff.referenceCount)")
        for line in outcome.report { print(line) }
        #expect(outcome.recordings == 13)
        #expect(outcome.identical >= 8, "CTranslate2 AVX-512 vs its AVX2 fixture: 12 of 13 identical (Earshot measured 8)")
        // Earshot at each forced level (2026-11-27, fp16 cross-attention K/V): portable 9 identical / 10 words,
        // AVX2 10 / 34, AVX-512 and VNNI 9 / 63 (their int8 products are exact, so they agree; most of the 63 is
        // the two-speaker call diverging after a near-tie) — CT2's own cross-ISA figure is 64; 70 leaves the
        // spread between Earshot's levels.
        #expect(outcome.wordDiff.errors <= 70, "CTranslate2 AVX-512 vs its AVX2 fixture: 64 of 178 words differ (Earshot measured 10–63 by level)")
    }
}
