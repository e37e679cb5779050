/// Arithmetic of one encoder window and one decoder step, for the profile's GFLOP/s (a multiply-add counts
/// as 2 operations). Element-wise work (norms, softmax, GELU) is left out: it is a few percent of the total.
extension WhisperDimensions {
    /// One pass of the encoder over a 30-s window: both convolutions, every block (projections, attention
    /// scores and weighted sums, feed-forward) and the cross-attention keys/values of every decoder layer.
    public var encoderOperations: Double {
        let d = Double(width), t = Double(audioContext), frames = 2 * t, f = Double(ffnWidth)
        let conv = 2 * frames * d * Double(melBands) * 3 + 2 * t * d * d * 3
        let block = 2 * t * (4 * d * d + 2 * d * f) + 2 * 2 * t * t * d
        let crossKeyValues = Double(decoderLayers) * 2 * t * 2 * d * d
        return conv + Double(encoderLayers) * block + crossKeyValues
    }

    /// One decoder step for one token that attends to `past` earlier tokens: every block (self-attention
    /// projections and scores over `past + 1` positions, cross-attention over the window, feed-forward)
    /// and the vocabulary projection.
    public func decoderStepOperations(past: Int) -> Double { decoderStepOperations(past: Double(past)) }

    private func decoderStepOperations(past: Double) -> Double {
        let d = Double(width), f = Double(ffnWidth), t = Double(audioContext)
        let projections = 2 * (4 * d * d + 2 * d * d + 2 * d * f)
        let attention = 2 * 2 * (past + 1) * d + 2 * 2 * t * d
        return Double(decoderLayers) * (projections + attention) + 2 * d * Double(vocabularySize)
    }

    /// `count` decoder steps of one sequence whose first step attends to `start` earlier tokens.
    public func decoderOperations(steps count: Int, startingAt start: Int) -> Double {
        guard count > 0 else { return 0 }
        // Linear in `past`, so the mean past position gives the exact sum.
        return Double(count) * decoderStepOperations(past: Double(start) + Double(count - 1) / 2)
    }
}
