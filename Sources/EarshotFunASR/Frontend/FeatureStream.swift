/// A block of feature frames handed to a `FeatureStream` sink. The pointers are valid only during the call.
public struct FeatureBatch {
    /// Index (in output frames since the stream started) of the first frame of the block.
    public let firstFrame: Int
    /// Number of frames in the block.
    public let count: Int
    /// Values per frame.
    public let dimension: Int
    /// `count × dimension` features, row-major.
    public let features: UnsafePointer<Float>
    /// Per output frame `i`: `Σx²` of the unscaled samples of fbank frame `i·lfrN` (FunASR's VAD decibel input).
    public let energies: UnsafePointer<Double>
}

/// FunASR's `WavFrontend` as a stream: Kaldi fbank → low-frame-rate stacking (LFR) → CMVN.
///
/// Samples are pushed in chunks of any size; frames come out as soon as they are complete, identical to
/// extracting the whole signal at once (`funasr_onnx/utils/frontend.py:WavFrontend.fbank`+`apply_lfr`+
/// `apply_cmvn`). LFR output frame `i` is the concatenation of padded fbank frames `[i·n, i·n+m)`, where
/// the padding is `(m-1)/2` copies of frame 0 in front; at the end (`finish`) missing frames are copies of
/// the last one and `ceil(T/n)` frames are produced in all. Memory is bounded by `maxBatch` frames and
/// one push piece, whatever the stream length.
public final class FeatureStream {
    /// The fbank computer.
    public let fbank: KaldiFbank
    /// LFR window (frames stacked): 5 for the VAD, 7 for Paraformer.
    public let lfrM: Int
    /// LFR stride: 1 for the VAD, 6 for Paraformer.
    public let lfrN: Int
    /// Optional CMVN applied after stacking (dimension `melBins · lfrM`).
    public let cmvn: CMVN?
    /// Most frames passed to the sink in one call.
    public let maxBatch: Int

    /// Values per output frame.
    public var dimension: Int { fbank.options.melBins * lfrM }
    /// Output frames produced so far.
    public private(set) var framesOut = 0
    /// Fbank frames computed so far.
    public private(set) var fbankFrames = 0

    private var pending: [Float] = []          // samples not yet consumed by a whole frame
    private var rows: [Float] = []             // padded fbank rows still needed by LFR, row-major
    private var rowBase = 0                    // padded index of the first stored row
    private var rowCount = 0                   // rows stored
    private var energies: [Double] = []        // energies of fbank frames from energyBase on
    private var energyBase = 0
    private var out: [Float] = []
    private var outEnergy: [Double] = []
    private var outCount = 0
    private var scratch: [Float]
    private var melRow: [Float]

    /// Creates a stream.
    /// - Throws: `FunASRError.invalidConfiguration` if the LFR sizes or the CMVN dimension do not fit.
    public init(fbank: KaldiFbank, lfrM: Int, lfrN: Int, cmvn: CMVN?, maxBatch: Int = 256) throws(FunASRError) {
        guard lfrM >= 1, lfrN >= 1 else {
            throw FunASRError(.invalidConfiguration, "lfr_m (\(lfrM)) and lfr_n (\(lfrN)) must be at least 1")
        }
        let dim = fbank.options.melBins * lfrM
        if let cmvn, cmvn.dimension < dim {
            throw FunASRError(.invalidConfiguration, "am.mvn has \(cmvn.dimension) values per frame but the features have \(dim) (n_mels \(fbank.options.melBins) × lfr_m \(lfrM))")
        }
        self.fbank = fbank
        self.lfrM = lfrM
        self.lfrN = lfrN
        self.cmvn = cmvn.map { CMVN(shift: Array($0.shift.prefix(dim)), scale: Array($0.scale.prefix(dim))) }
        self.maxBatch = max(1, maxBatch)
        scratch = [Float](repeating: 0, count: fbank.scratchCount)
        melRow = [Float](repeating: 0, count: fbank.options.melBins)
        out = [Float](repeating: 0, count: self.maxBatch * dim)
        outEnergy = [Double](repeating: 0, count: self.maxBatch)
    }

    /// Forgets all state, ready for a new stream.
    public func reset() {
        pending.removeAll(keepingCapacity: true)
        rows.removeAll(keepingCapacity: true)
        energies.removeAll(keepingCapacity: true)
        rowBase = 0; rowCount = 0; energyBase = 0; outCount = 0; framesOut = 0; fbankFrames = 0
    }

    /// Adds samples (16 kHz mono in [-1, 1]) and passes every completed frame to `sink`.
    public func push(_ samples: UnsafeBufferPointer<Float>, sink: (FeatureBatch) -> Void) {
        let piece = 32 * fbank.options.frameShift   // bound `pending` whatever the push size
        var start = 0
        while start < samples.count {
            let end = min(samples.count, start + piece)
            pending.append(contentsOf: UnsafeBufferPointer(rebasing: samples[start..<end]))
            consumeFrames(sink: sink)
            start = end
        }
        flushOutput(sink: sink)
    }

    /// Ends the stream: emits the last LFR frames (padded with the last fbank frame) and resets.
    public func finish(sink: (FeatureBatch) -> Void) {
        let total = fbankFrames
        if total > 0 {
            let pad = (lfrM - 1) / 2
            let paddedCount = total + pad
            let lfrTotal = (total + lfrN - 1) / lfrN
            while framesOut + outCount < lfrTotal {
                let i = framesOut + outCount
                emit(index: i, lastPadded: paddedCount - 1, sink: sink)
            }
            flushOutput(sink: sink)
        }
        reset()
    }

    private func consumeFrames(sink: (FeatureBatch) -> Void) {
        let length = fbank.options.frameLength, shift = fbank.options.frameShift
        var offset = 0
        while pending.count - offset >= length {
            let energy = pending.withUnsafeBufferPointer { p in
                scratch.withUnsafeMutableBufferPointer { s in
                    melRow.withUnsafeMutableBufferPointer { m in
                        fbank.compute(frame: p.baseAddress! + offset, scratch: s.baseAddress!, into: m.baseAddress!)
                    }
                }
            }
            addFbankRow(energy: energy)
            offset += shift
            emitReady(sink: sink)
        }
        if offset > 0 { pending.removeFirst(min(offset, pending.count)) }
    }

    private func addFbankRow(energy: Double) {
        if fbankFrames == 0 {
            for _ in 0..<((lfrM - 1) / 2) { rows.append(contentsOf: melRow); rowCount += 1 }
        }
        rows.append(contentsOf: melRow)
        rowCount += 1
        energies.append(energy)
        fbankFrames += 1
    }

    /// Emits every LFR frame whose whole window is available.
    private func emitReady(sink: (FeatureBatch) -> Void) {
        while true {
            let i = framesOut + outCount
            guard i * lfrN + lfrM <= rowBase + rowCount else { return }
            emit(index: i, lastPadded: nil, sink: sink)
        }
    }

    /// Builds output frame `i` into the output block; rows past `lastPadded` repeat it.
    private func emit(index i: Int, lastPadded: Int?, sink: (FeatureBatch) -> Void) {
        let mel = fbank.options.melBins, dim = dimension
        out.withUnsafeMutableBufferPointer { o in
            rows.withUnsafeBufferPointer { r in
                let dst = o.baseAddress! + outCount * dim
                for k in 0..<lfrM {
                    var padded = i * lfrN + k
                    if let last = lastPadded { padded = min(padded, last) }
                    let src = r.baseAddress! + (padded - rowBase) * mel
                    (dst + k * mel).update(from: src, count: mel)
                }
                cmvn?.apply(dst)
            }
        }
        outEnergy[outCount] = energies[i * lfrN - energyBase]
        outCount += 1
        if outCount == maxBatch { flushOutput(sink: sink) }
        dropConsumed(nextIndex: i + 1)
    }

    private func dropConsumed(nextIndex: Int) {
        let keepFrom = nextIndex * lfrN   // first padded row the next output needs
        let drop = min(keepFrom - rowBase, rowCount - 1)   // always keep the last row for end padding
        if drop >= 64 {
            rows.removeFirst(drop * fbank.options.melBins)
            rowBase += drop
            rowCount -= drop
        }
        let dropE = min(nextIndex * lfrN, fbankFrames) - energyBase
        if dropE >= 64 {
            energies.removeFirst(dropE)
            energyBase += dropE
        }
    }

    private func flushOutput(sink: (FeatureBatch) -> Void) {
        guard outCount > 0 else { return }
        out.withUnsafeBufferPointer { o in
            outEnergy.withUnsafeBufferPointer { e in
                sink(FeatureBatch(firstFrame: framesOut, count: outCount, dimension: dimension,
                                  features: o.baseAddress!, energies: e.baseAddress!))
            }
        }
        framesOut += outCount
        outCount = 0
    }
}
