import Foundation
import EarshotTensor

/// One decoded window: the sampled tokens (prompt and end-of-text excluded) and their scores.
struct GenerationResult: Sendable {
    var tokens: [Int]
    /// Sum of the sampled tokens' log-probabilities, end-of-text included.
    var sumLogProb: Double
    /// `sumLogProb / length ^ lengthPenalty` (CTranslate2's hypothesis score).
    var score: Double
    /// P(`<|nospeech|>`) at the start-of-transcript position.
    var noSpeechProbability: Double
}

/// Autoregressive decoding of one 30-s window with a prompt: greedy, temperature sampling or beam search.
///
/// The prompt is split as CTranslate2 4.x does (`WhisperReplica::generate`): everything before the last
/// task token is run through the decoder in one pass; the last task token starts generation. At most
/// `min(textContext/2, textContext − forwardedPromptLength)` tokens are generated.
struct WhisperGenerator {
    let decoder: WhisperDecoder
    let special: SpecialTokens
    let filters: LogitFilters

    struct Settings {
        var temperature: Float
        var beamSize: Int
        var candidates: Int
        var patience: Float
        var lengthPenalty: Float
    }

    func generate(prompt: [Int], memory: CrossAttentionMemory, settings: Settings,
                  random: inout SplitMix64) -> GenerationResult {
        let vocab = decoder.dims.vocabularySize
        guard let sotIndex = prompt.firstIndex(of: special.sot) else {
            preconditionFailure("a Whisper prompt must contain <|startoftranscript|>")
        }
        var promptLength = sotIndex
        while promptLength < prompt.count && prompt[promptLength] >= special.sot
                && prompt[promptLength] <= special.noTimestamps { promptLength += 1 }
        let forwarded = Array(prompt[0..<(promptLength - 1)])
        let startTokens = Array(prompt[(promptLength - 1)...])

        let primed = decoder.makeCache()
        var noSpeech: Double = 0
        if !forwarded.isEmpty {
            let hidden = decoder.forward([DecoderInput(tokens: forwarded, cache: primed, memory: memory)])
            if sotIndex < forwarded.count {
                let logits = decoder.logits(hidden: hidden.pointer + sotIndex * decoder.dims.width, rows: 1)
                noSpeech = Self.probability(of: special.noSpeech, logits: logits.pointer, count: vocab)
            }
        }
        let sotIsStart = sotIndex == promptLength - 1
        let maxLength = min(decoder.dims.textContext / 2, decoder.dims.textContext - forwarded.count)

        if settings.temperature == 0 && settings.beamSize > 1 {
            var result = beamSearch(start: startTokens, primed: primed, memory: memory, maxLength: maxLength,
                                    settings: settings)
            if !sotIsStart { result.noSpeechProbability = noSpeech }
            return result
        }
        var best: GenerationResult?
        let runs = settings.temperature > 0 ? max(settings.candidates, 1) : 1
        for _ in 0..<runs {
            let cache = decoder.makeCache()
            cache.copy(from: primed)
            var result = sample(start: startTokens, cache: cache, memory: memory, maxLength: maxLength,
                                settings: settings, random: &random)
            if !sotIsStart { result.noSpeechProbability = noSpeech }
            if best == nil || result.score > best!.score { best = result }
        }
        return best!
    }

    /// Greedy (temperature 0) or random sampling of one hypothesis.
    private func sample(start: [Int], cache: SelfAttentionCache, memory: CrossAttentionMemory, maxLength: Int,
                        settings: Settings, random: inout SplitMix64) -> GenerationResult {
        let vocab = decoder.dims.vocabularySize
        var generated: [Int] = []
        var sumLogProb: Double = 0
        var noSpeech: Double = 0
        var input = [start[0]]
        // Extra start tokens (a forced prefix) are fed one by one and kept in the output.
        var forced = Array(start.dropFirst())
        for step in 0..<maxLength {
            let hidden = decoder.forward([DecoderInput(tokens: input, cache: cache, memory: memory)])
            let logits = decoder.logits(hidden: hidden.pointer + (input.count - 1) * decoder.dims.width, rows: 1)
            if step == 0 { noSpeech = Self.probability(of: special.noSpeech, logits: logits.pointer, count: vocab) }
            filters.apply(to: logits.pointer, count: vocab, generated: generated)
            logSoftmaxInPlace(logits.pointer, count: vocab)
            let token: Int
            if !forced.isEmpty {
                token = forced.removeFirst()
            } else if settings.temperature > 0 {
                token = Self.draw(logProbs: logits.pointer, count: vocab, temperature: settings.temperature, random: &random)
            } else {
                token = Self.argmax(logits.pointer, count: vocab)
            }
            sumLogProb += Double(logits[token])
            if token == special.eot { break }
            generated.append(token)
            input = [token]
        }
        let length = Double(max(generated.count, 1))
        return GenerationResult(tokens: generated, sumLogProb: sumLogProb,
                                score: sumLogProb / pow(length, Double(settings.lengthPenalty)),
                                noSpeechProbability: noSpeech)
    }

    /// Beam search as CTranslate2 4.x runs it (`BeamSearch::search`): each step ranks the best
    /// `2 × beamSize` continuations of all live beams by cumulative log-probability; of the first
    /// `beamSize`, those ending in end-of-text are registered as finished and their slots refilled from
    /// the next non-ending candidates. Decoding stops once `beamSize × patience` hypotheses are finished;
    /// the winner has the best `logProb / length ^ lengthPenalty`.
    private func beamSearch(start: [Int], primed: SelfAttentionCache, memory: CrossAttentionMemory,
                            maxLength: Int, settings: Settings) -> GenerationResult {
        struct Beam { var tokens: [Int]; var logProb: Double; var cache: SelfAttentionCache }
        let vocab = decoder.dims.vocabularySize
        let beamSize = settings.beamSize, candidateCount = 2 * settings.beamSize
        let first = decoder.makeCache()
        first.copy(from: primed)
        var beams = [Beam(tokens: [], logProb: 0, cache: first)]
        var finished: [(tokens: [Int], logProb: Double)] = []
        let maxFinished = max(1, Int((Float(beamSize) * settings.patience).rounded()))
        var noSpeech: Double = 0
        var spare: [SelfAttentionCache] = []

        for step in 0..<maxLength {
            let inputs = beams.map { beam in
                DecoderInput(tokens: [beam.tokens.last ?? start[0]], cache: beam.cache, memory: memory)
            }
            let hidden = decoder.forward(inputs)
            let logits = decoder.logits(hidden: hidden.pointer, rows: beams.count)
            var candidates: [(beam: Int, token: Int, logProb: Double)] = []
            for (b, beam) in beams.enumerated() {
                let row = logits.pointer + b * vocab
                if step == 0 && b == 0 {
                    noSpeech = Self.probability(of: special.noSpeech, logits: row, count: vocab)
                }
                filters.apply(to: row, count: vocab, generated: beam.tokens)
                logSoftmaxInPlace(row, count: vocab)
                for token in Self.topK(row, count: vocab, k: candidateCount) {
                    candidates.append((b, token, beam.logProb + Double(row[token])))
                }
            }
            candidates.sort { $0.logProb > $1.logProb }
            if candidates.count > candidateCount { candidates.removeLast(candidates.count - candidateCount) }
            let isLast = step == maxLength - 1
            var chosen: [(beam: Int, token: Int, logProb: Double)] = []
            var secondary = beamSize
            for k in 0..<min(beamSize, candidates.count) {
                let candidate = candidates[k]
                if candidate.token == special.eot || isLast {
                    let parent = beams[candidate.beam].tokens
                    finished.append((candidate.token == special.eot ? parent : parent + [candidate.token],
                                     candidate.logProb))
                    if let j = (secondary..<candidates.count).first(where: { candidates[$0].token != special.eot }) {
                        chosen.append(candidates[j])
                        secondary = j + 1
                    } else {
                        secondary = candidates.count
                    }
                } else {
                    chosen.append(candidate)
                }
            }
            if isLast || finished.count >= maxFinished || chosen.isEmpty { break }

            // New beams take over their parent's cache once; further children of the same parent get copies,
            // made now, before the next forward pass writes to any cache.
            var next: [Beam] = []
            var usedParents = Set<Int>()
            for candidate in chosen {
                let parent = beams[candidate.beam]
                let cache: SelfAttentionCache
                if usedParents.insert(candidate.beam).inserted {
                    cache = parent.cache
                } else {
                    cache = spare.popLast() ?? decoder.makeCache()
                    cache.copy(from: parent.cache)
                }
                next.append(Beam(tokens: parent.tokens + [candidate.token], logProb: candidate.logProb, cache: cache))
            }
            for (b, beam) in beams.enumerated() where !usedParents.contains(b) { spare.append(beam.cache) }
            beams = next
        }
        if finished.isEmpty { finished = beams.map { ($0.tokens, $0.logProb) } }
        let scored = finished.map { hyp -> GenerationResult in
            let length = Double(max(hyp.tokens.count, 1))
            return GenerationResult(tokens: hyp.tokens, sumLogProb: hyp.logProb,
                                    score: hyp.logProb / pow(length, Double(settings.lengthPenalty)),
                                    noSpeechProbability: noSpeech)
        }
        return scored.max { $0.score < $1.score }!
    }

    static func probability(of token: Int, logits: UnsafePointer<Float>, count: Int) -> Double {
        let mx = logits[Kernels.argmax(logits, count: count)]
        guard mx > -.infinity else { return 0 }
        return Double(expf(logits[token] - mx)) / Kernels.sumExp(logits, count: count, shift: mx)
    }

    static func argmax(_ x: UnsafePointer<Float>, count: Int) -> Int { Kernels.argmax(x, count: count) }

    /// The greedy choice for one filtered logit row and its log-probability (`logit − log Σ exp`), without
    /// writing the whole log-softmax row.
    static func greedyPick(_ x: UnsafePointer<Float>, count: Int) -> (token: Int, logProb: Float) {
        let token = Kernels.argmax(x, count: count)
        let mx = x[token]
        guard mx > -.infinity else { return (token, -.infinity) }
        let logZ = mx + Float(log(Kernels.sumExp(x, count: count, shift: mx)))
        return (token, mx - logZ)
    }

    static func topK(_ x: UnsafePointer<Float>, count: Int, k: Int) -> [Int] {
        var top: [(Int, Float)] = []
        for i in 0..<count where x[i] > -.infinity {
            if top.count < k {
                top.append((i, x[i]))
                top.sort { $0.1 > $1.1 }
            } else if x[i] > top[k - 1].1 {
                top[k - 1] = (i, x[i])
                top.sort { $0.1 > $1.1 }
            }
        }
        return top.map(\.0)
    }

    static func draw(logProbs: UnsafePointer<Float>, count: Int, temperature: Float,
                     random: inout SplitMix64) -> Int {
        var mx = -Float.infinity
        for i in 0..<count { mx = max(mx, logProbs[i] / temperature) }
        var total: Double = 0
        for i in 0..<count { total += Double(expf(logProbs[i] / temperature - mx)) }
        var target = random.nextUnit() * total
        for i in 0..<count {
            target -= Double(expf(logProbs[i] / temperature - mx))
            if target <= 0 { return i }
        }
        return argmax(logProbs, count: count)
    }
}

/// A small deterministic random generator (SplitMix64) so sampled fallbacks are repeatable.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
