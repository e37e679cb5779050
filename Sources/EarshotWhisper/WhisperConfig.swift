import Foundation
import EarshotCheckpoint

/// The `config.json` CTranslate2 writes next to a Whisper `model.bin`.
struct WhisperConfig: Decodable, Sendable {
    /// Token ids suppressed when `suppress_tokens` contains -1 (CTranslate2's default set).
    var suppressIds: [Int] = []
    /// Token ids suppressed at the first step with `suppress_blank` (a space and end-of-text).
    var suppressIdsBegin: [Int] = []
    /// Language token ids, in vocabulary order.
    var langIds: [Int] = []
    /// The cross-attention heads, as (decoder layer, head) pairs, whose attention follows the word timing
    /// (`alignment_heads`, written by CTranslate2's converter from openai-whisper's `_ALIGNMENT_HEADS`).
    /// Empty for a model converted without them; word timestamps then fail with a clear error.
    var alignmentHeads: [[Int]] = []

    enum CodingKeys: String, CodingKey {
        case suppressIds = "suppress_ids"
        case suppressIdsBegin = "suppress_ids_begin"
        case langIds = "lang_ids"
        case alignmentHeads = "alignment_heads"
    }

    init() {}

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        suppressIds = try c.decodeIfPresent([Int].self, forKey: .suppressIds) ?? []
        suppressIdsBegin = try c.decodeIfPresent([Int].self, forKey: .suppressIdsBegin) ?? []
        langIds = try c.decodeIfPresent([Int].self, forKey: .langIds) ?? []
        alignmentHeads = try c.decodeIfPresent([[Int]].self, forKey: .alignmentHeads) ?? []
    }

    static func read(from checkpoint: CTranslate2Checkpoint) throws(CheckpointError) -> WhisperConfig {
        guard let bytes = checkpoint.configJSON else { return WhisperConfig() }
        do {
            return try JSONDecoder().decode(WhisperConfig.self, from: Data(bytes))
        } catch {
            throw CheckpointError(.invalidConfiguration, path: checkpoint.directory + "/config.json",
                                  message: "cannot parse: \(error)")
        }
    }
}
