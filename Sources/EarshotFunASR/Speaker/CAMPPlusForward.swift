import Foundation

extension CAMPPlusWeights {
    /// The embedding of one window's features ([frames × 80], mean-subtracted), as `CAMPPlus.forward`.
    func embed(features: [Float], frames: Int) -> [Float] {
        let bands = config.featureDimension
        // FCM head on [bands × frames × channels].
        var x = [Float](repeating: 0, count: bands * frames)
        for t in 0..<frames { for f in 0..<bands { x[f * frames + t] = features[t * bands + f] } }
        var b = bands
        x = relu(headConv1.apply(x, bands: b, frames: frames))
        for block in headBlocks {
            let bOut = block.conv1.outputBands(b)
            let h = relu(block.conv1.apply(x, bands: b, frames: frames))
            var y = block.conv2.apply(h, bands: bOut, frames: frames)
            let shortcut = block.shortcut?.apply(x, bands: b, frames: frames) ?? x
            for i in y.indices { y[i] = max(y[i] + shortcut[i], 0) }
            x = y
            b = bOut
        }
        x = relu(headConv2.apply(x, bands: b, frames: frames))
        b = headConv2.outputBands(b)
        // (bands, frames, channels) → time-major [frames × (channel·bands + band)], FunASR's reshape.
        let m = CAMPPlusConfig.headChannels
        var seq = [Float](repeating: 0, count: frames * m * b)
        for f in 0..<b { for t in 0..<frames { for c in 0..<m { seq[t * m * b + c * b + f] = x[(f * frames + t) * m + c] } } }

        var length = tdnn.outputFrames(frames)
        var h = relu(tdnn.apply(seq, frames: frames))
        var channels = config.initialChannels
        for (block, transit) in zip(blocks, transits) {
            let width = channels + block.count * config.growthRate
            var dense = [Float](repeating: 0, count: length * width)
            for t in 0..<length { for c in 0..<channels { dense[t * width + c] = h[t * channels + c] } }
            for layer in block {
                let out = layer.forward(dense, frames: length, stride: width, channels: channels)
                let g = layer.local.outputs
                for t in 0..<length { for c in 0..<g { dense[t * width + channels + c] = out[t * g + c] } }
                channels += g
            }
            let normed = transit.norm.appliedWithReLU(dense, rows: length, stride: width, channels: width)
            h = transit.linear.apply(normed, frames: length)
            channels = transit.linear.outputs
        }
        h = outputNorm.appliedWithReLU(h, rows: length, stride: channels, channels: channels)
        // Statistics pooling: mean and unbiased standard deviation over time.
        var stats = [Float](repeating: 0, count: 2 * channels)
        for c in 0..<channels {
            var s = 0.0
            for t in 0..<length { s += Double(h[t * channels + c]) }
            let mean = s / Double(length)
            var v = 0.0
            for t in 0..<length { let d = Double(h[t * channels + c]) - mean; v += d * d }
            stats[c] = Float(mean)
            stats[channels + c] = Float((v / Double(max(length - 1, 1))).squareRoot())
        }
        length = 1
        return dense.apply(stats, frames: 1)
    }

    private func relu(_ x: [Float]) -> [Float] { x.map { max($0, 0) } }
}

extension CAMDenseLayer {
    /// The `growth` new channels for the first `channels` columns of x[frames × stride].
    func forward(_ x: [Float], frames: Int, stride: Int, channels: Int) -> [Float] {
        let a = inputNorm.appliedWithReLU(x, rows: frames, stride: stride, channels: channels)
        let h = bottleneck.apply(a, frames: frames).map { max($0, 0) }
        let y = local.apply(h, frames: frames)
        // Context: mean over all frames + the mean of the 100-frame segment each frame is in (avg_pool1d,
        // ceil_mode: the last segment averages the frames it has).
        let c = bottleneck.outputs
        var global = [Double](repeating: 0, count: c)
        for t in 0..<frames { for j in 0..<c { global[j] += Double(h[t * c + j]) } }
        var context = [Float](repeating: 0, count: frames * c)
        var start = 0
        while start < frames {
            let end = min(start + 100, frames)
            var seg = [Float](repeating: 0, count: c)
            for t in start..<end { for j in 0..<c { seg[j] += h[t * c + j] } }
            for j in 0..<c {
                let v = Float(global[j] / Double(frames)) + seg[j] / Float(end - start)
                for t in start..<end { context[t * c + j] = v }
            }
            start = end
        }
        let hidden = context1.apply(context, frames: frames).map { max($0, 0) }
        let gate = context2.apply(hidden, frames: frames)
        var out = y
        for i in out.indices { out[i] *= 1 / (1 + exp(-gate[i])) }
        return out
    }
}
