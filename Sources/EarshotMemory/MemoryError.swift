/// What a piece of memory is for. Ledger totals, peaks and reports are kept per category.
public enum MemoryCategory: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    /// Model weights (memory-mapped or converted copies).
    case weights
    /// Decoded / resampled audio samples.
    case audio
    /// Front-end features (log-mel, fbank, LFR).
    case features
    /// Transient activations of encoder/decoder forward passes.
    case activations
    /// Decoder key/value caches (self- and cross-attention).
    case kvCache
    /// Tokens, text, timestamps and other results held until they are written.
    case outputs
    /// The speaker stage: embedding batches (features, activations) and the embedding matrix of a recording.
    case speaker
    /// Anything else.
    case other

    /// The label used in reports (`KV cache` rather than `kvCache`).
    public var description: String {
        switch self {
        case .kvCache: "KV cache"
        default: rawValue
        }
    }
}

/// A request for memory that cannot be met, with the numbers and the remedy in its description.
public enum MemoryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A ledger reservation of `requested` bytes for `category` would take the total past `limit`
    /// while `inUse` bytes are already reserved.
    case overLimit(requested: ByteCount, category: MemoryCategory, inUse: ByteCount, limit: ByteCount)
    /// A single work item (id, duration) needs `needs` bytes on its own — the smallest workable budget for it —
    /// but only `available` bytes are available to the planner.
    case itemDoesNotFit(id: Int, durationMs: Int, needs: ByteCount, available: ByteCount)
    /// A request that makes no sense (negative size, zero-length item, bad configuration).
    case invalidRequest(String)

    public var description: String {
        switch self {
        case let .overLimit(requested, category, inUse, limit):
            let free = max(limit - inUse, .zero)
            return "memory limit exceeded: \(category) asked for \(requested) (\(requested.bytes) bytes) while "
                + "\(inUse) of the \(limit) limit is in use (\(free) free). Raise the limit to at least "
                + "\(inUse + requested) (--memory-limit), or lower the batch budget (--batch-size-s) or the "
                + "single-segment threshold (--batch-size-threshold-s) so less is needed at once."
        case let .itemDoesNotFit(id, durationMs, needs, available):
            let seconds = Double(durationMs) / 1000
            return "segment \(id) (\(String(format: "%.2f", seconds)) s) does not fit even alone: it needs \(needs) "
                + "(\(needs.bytes) bytes) but only \(available) is available. The smallest workable budget for it "
                + "is \(needs); raise the memory limit by at least \(needs - available), or cut long segments "
                + "shorter (VAD maximum segment length) so each needs less."
        case let .invalidRequest(message):
            return "invalid memory request: \(message)"
        }
    }
}
