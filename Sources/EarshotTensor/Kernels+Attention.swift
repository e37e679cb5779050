import CEarshotKernels

extension Kernels {
    /// One sequence's share of a multi-head attention call: where its queries, keys, values and outputs are.
    ///
    /// `query` is `[queryCount][heads·headDim]` (row stride `queryStride`), `key`/`value` are
    /// `[keyCount][heads·headDim]`; head `h` occupies columns `h·headDim ..< (h+1)·headDim`.
    /// With `causalOffset = o`, query `i` sees keys `0 ... o + i` (decoder self-attention with a KV cache
    /// holding `o` earlier positions); `nil` means no mask. Keys and values may instead be IEEE halves
    /// (`halfKeyValues`, unmasked problems only), widened exactly inside the kernel.
    public struct AttentionProblem {
        public var query: UnsafePointer<Float>
        public var queryStride: Int
        public var key: UnsafePointer<Float>
        public var keyStride: Int
        public var value: UnsafePointer<Float>
        public var valueStride: Int
        public var output: UnsafeMutablePointer<Float>
        public var outputStride: Int
        public var queryCount: Int
        public var keyCount: Int
        public var causalOffset: Int?
        /// Keys and values stored as IEEE half bit patterns, one row stride for both; when set, `key` and
        /// `value` are not read.
        public var halfKeyValues: (key: UnsafePointer<UInt16>, value: UnsafePointer<UInt16>, stride: Int)?

        /// An unmasked problem whose keys and values are IEEE halves (`[keyCount][heads·headDim]`, stride
        /// `keyValueStride`).
        public init(query: UnsafePointer<Float>, queryStride: Int, halfKeys: UnsafePointer<UInt16>,
                    halfValues: UnsafePointer<UInt16>, keyValueStride: Int, output: UnsafeMutablePointer<Float>,
                    outputStride: Int, queryCount: Int, keyCount: Int) {
            // The fp32 fields are never read for such a problem; they point at the query only to be valid.
            self.init(query: query, queryStride: queryStride, key: query, keyStride: 0, value: query, valueStride: 0,
                      output: output, outputStride: outputStride, queryCount: queryCount, keyCount: keyCount,
                      causalOffset: nil)
            halfKeyValues = (halfKeys, halfValues, keyValueStride)
        }

        public init(query: UnsafePointer<Float>, queryStride: Int, key: UnsafePointer<Float>, keyStride: Int,
                    value: UnsafePointer<Float>, valueStride: Int, output: UnsafeMutablePointer<Float>,
                    outputStride: Int, queryCount: Int, keyCount: Int, causalOffset: Int?) {
            self.query = query
            self.queryStride = queryStride
            self.key = key
            self.keyStride = keyStride
            self.value = value
            self.valueStride = valueStride
            self.output = output
            self.outputStride = outputStride
            self.queryCount = queryCount
            self.keyCount = keyCount
            self.causalOffset = causalOffset
        }
    }

    /// Query rows per causal attention work item (the kernel uses the same block for unmasked heads):
    /// 256 rows × 1500 keys of fp32 scores = 1.5 MiB, which stays in L2/L3 between the QKᵀ product, the
    /// softmax and the PV product.
    static let attentionQueryBlock = 256

    /// Multiply-adds (QKᵀ plus PV) above which an attention call is spread over the workers. Lower than
    /// ``parallelThreshold``: decoding attention is memory-bound (a 1500-key cross-attention head streams
    /// 750 KiB of keys and values for 190 k multiply-adds), so a Dispatch hand-off pays off sooner.
    static let attentionParallelThreshold = 1 << 18

    /// Multi-head scaled-dot-product attention of one sequence (see ``AttentionProblem``).
    /// Scores are scaled by `1/√headDim`.
    public static func attention(query: UnsafePointer<Float>, queryStride: Int,
                                 key: UnsafePointer<Float>, keyStride: Int,
                                 value: UnsafePointer<Float>, valueStride: Int,
                                 output: UnsafeMutablePointer<Float>, outputStride: Int,
                                 heads: Int, headDim: Int, queryCount: Int, keyCount: Int,
                                 causalOffset: Int?) {
        attention([AttentionProblem(query: query, queryStride: queryStride, key: key, keyStride: keyStride,
                                    value: value, valueStride: valueStride, output: output,
                                    outputStride: outputStride, queryCount: queryCount, keyCount: keyCount,
                                    causalOffset: causalOffset)],
                  heads: heads, headDim: headDim)
    }

    /// Multi-head attention of several independent sequences in one call (a decoder step of a batch).
    ///
    /// Every (sequence, head) — for causal sequences every (sequence, head, block of query rows) — is one
    /// work item — `S = Q·Kᵀ`, a row softmax and `O = softmax(S)·V` in `ek_attention_head`, which packs an
    /// unmasked head's keys and values once for all its query blocks — and the items are dealt round-robin to `threadCount`
    /// workers, so one hand-off covers all sequences and heads. Results do not depend on how the work is
    /// split: every item is computed the same way whatever runs it.
    public static func attention(_ problems: [AttentionProblem], heads: Int, headDim: Int) {
        guard heads > 0, headDim > 0 else { return }
        let level = ek_level()
        let scale = 1 / Float(headDim).squareRoot()
        // Work items: (problem, head, first query row).
        var items: [(problem: Int, head: Int, row: Int)] = []
        var work = 0
        for (p, problem) in problems.enumerated() where problem.queryCount > 0 {
            // Unmasked heads are one item (the kernel packs K and V once and walks the query blocks);
            // causal ones are split into query blocks that each see only their visible keys.
            let block = problem.causalOffset == nil ? problem.queryCount : min(problem.queryCount, attentionQueryBlock)
            for h in 0..<heads {
                for q0 in stride(from: 0, to: problem.queryCount, by: block) { items.append((p, h, q0)) }
            }
            work += 2 * heads * problem.queryCount * max(problem.keyCount, 1) * headDim
        }
        guard !items.isEmpty else { return }
        let parts = threadCount > 1 && work >= attentionParallelThreshold ? min(threadCount, items.count) : 1
        let shared = Shared((problems, items))
        runParallel(parts) { part in
            let (problems, items) = shared.p
            for index in Swift.stride(from: part, to: items.count, by: parts) {
                let (p, h, q0) = items[index]
                let c = problems[p]
                let block = c.causalOffset == nil ? c.queryCount : min(c.queryCount, attentionQueryBlock)
                let rows = min(block, c.queryCount - q0)
                let visible = c.causalOffset.map { min(c.keyCount, $0 + q0 + rows) } ?? c.keyCount
                if let half = c.halfKeyValues {
                    ek_attention_head_f16kv(level, rows, max(visible, 0), headDim,
                                            c.query + q0 * c.queryStride + h * headDim, c.queryStride,
                                            half.key + h * headDim, half.value + h * headDim, half.stride,
                                            c.output + q0 * c.outputStride + h * headDim, c.outputStride, scale)
                    continue
                }
                ek_attention_head(level, rows, max(visible, 0), headDim,
                                  c.query + q0 * c.queryStride + h * headDim, c.queryStride,
                                  c.key + h * headDim, c.keyStride, c.value + h * headDim, c.valueStride,
                                  c.output + q0 * c.outputStride + h * headDim, c.outputStride,
                                  scale, c.causalOffset.map { $0 + q0 } ?? -1)
            }
        }
    }
}
