import EarshotTensor

extension ParaformerModel {
    /// Transcribes a batch of 16-kHz mono items in [-1, 1]. The encoder and decoder run the whole batch at
    /// once (their linear layers on all items' rows stacked; attention, FSMN memory, CIF and timestamps per
    /// item), and each item's result equals transcribing it alone. `vadOffsetsMs[i]` (FunASR's `begin_time`)
    /// is added to item `i`'s timestamps as FunASR adds it; `hotwords` (from ``prepareHotwords(_:)``) bias a
    /// SeACo model.
    public func transcribe(_ batch: [[Float]], vadOffsetsMs: [Int]? = nil,
                           hotwords: SeacoHotwords? = nil) throws(FunASRError) -> [ParaformerResult] {
        try runBatch(batch, vadOffsetsMs: vadOffsetsMs, hotwords: hotwords, keepTrace: false).map(\.result)
    }

    /// Runs one item and returns the result with its intermediate tensors.
    public func run(_ samples: [Float], vadOffsetMs: Int = 0,
                    hotwords: SeacoHotwords? = nil) throws(FunASRError) -> (result: ParaformerResult, trace: ParaformerTrace) {
        try runBatch([samples], vadOffsetsMs: [vadOffsetMs], hotwords: hotwords, keepTrace: true)[0]
    }

    /// Runs a batch; traces hold the intermediate tensors when `keepTrace`.
    public func runBatch(_ batch: [[Float]], vadOffsetsMs: [Int]?, hotwords: SeacoHotwords?,
                         keepTrace: Bool) throws(FunASRError) -> [(result: ParaformerResult, trace: ParaformerTrace)] {
        if let offsets = vadOffsetsMs, offsets.count != batch.count {
            throw FunASRError(.invalidArgument, "\(offsets.count) VAD offsets for \(batch.count) items")
        }
        if hotwords != nil && seaco == nil {
            throw FunASRError(.invalidArgument, "\(directory): hotwords need a SeacoParaformer model; config.yaml names \(config.kind.rawValue)")
        }
        var features: [(values: [Float], frames: Int)] = []
        for samples in batch { features.append(try self.features(samples)) }
        let encoded: [[Float]] = features.withPointers { encoder.encode($0) }
        var cifs: [CIFOutput] = [], convolved: [[Float]] = []
        for (i, enc) in encoded.enumerated() {
            let t = features[i].frames
            guard t > 0 else {
                cifs.append(CIFOutput(alphas: [], peaks: [], firePositions: [], tokenCount: 0, embeddings: []))
                convolved.append([])
                continue
            }
            let (cif, conv) = enc.withUnsafeBufferPointer { predictor.predict($0.baseAddress!, frames: t) }
            cifs.append(cif)
            convolved.append(config.predictor.useCIF1CNN ? conv : [])
        }
        // FunASR returns nothing for a batch whose items all have no token (`max(token_num) < 1`); each such
        // item gets an empty result here.
        let decodable = cifs.indices.filter { cifs[$0].tokenCount >= 1 }
        let decoded = decoder.forward(decodable.map { (cifs[$0].embeddings, cifs[$0].tokenCount, encoded[$0], features[$0].frames) })
        // BiCif / SeACo timestamp head, all decodable items together.
        var stamps: [(alphas: [Float], peaks: [Float])] = []
        if let head = predictor.timestampHead {
            let inputs = decodable.map { config.predictor.useCIF1CNN ? convolved[$0] : encoded[$0] }
            stamps = inputs.withPointers { pointers in
                head.alphasAndPeaks(zip(decodable, pointers).map { (i, p) in (p, features[i].frames, cifs[i].tokenCount) })
            }
        }
        var out: [(result: ParaformerResult, trace: ParaformerTrace)] = []
        var next = 0
        for i in batch.indices {
            var trace = ParaformerTrace(features: keepTrace ? features[i].values : [], frames: features[i].frames,
                                        encoderOutput: keepTrace ? encoded[i] : [], cif: cifs[i], logProbabilities: [],
                                        argmax: [], upsampledAlphas: [], upsampledPeaks: [])
            guard next < decodable.count, decodable[next] == i else {
                out.append((.empty, trace))
                continue
            }
            let (hidden, logp) = decoded[next]
            let result = finish(cif: cifs[i], hidden: hidden, logProbabilities: logp, upsampled: stamps.isEmpty ? nil : stamps[next],
                                vadOffsetMs: vadOffsetsMs?[i] ?? 0, hotwords: hotwords, trace: &trace)
            next += 1
            if !keepTrace { trace.logProbabilities = [] }
            out.append((result, trace))
        }
        return out
    }

    /// Hotword biasing, argmax, token strings, timestamps and text of one decoded item.
    private func finish(cif: CIFOutput, hidden: [Float], logProbabilities decoded: [Float],
                        upsampled: (alphas: [Float], peaks: [Float])?, vadOffsetMs: Int, hotwords: SeacoHotwords?,
                        trace: inout ParaformerTrace) -> ParaformerResult {
        var logp = decoded
        if let seaco, let hotwords {
            if let filter = seaco.bias(&logp, embeddings: cif.embeddings, decoderHidden: hidden, rows: cif.tokenCount,
                                       hotwords: hotwords) {
                (trace.hotwordScores, trace.hotwordsKept) = filter
            }
        }
        trace.logProbabilities = logp
        let v = tokenList.count
        var argmax: [Int] = []
        var score = 0.0
        logp.withUnsafeBufferPointer { p in
            for r in 0..<cif.tokenCount {
                let best = Kernels.argmax(p.baseAddress! + r * v, count: v)
                argmax.append(best)
                score += Double(p[r * v + best])
            }
        }
        trace.argmax = argmax
        let ids = argmax.filter { $0 != config.eosID && $0 != config.sosID && $0 != config.blankID }
        let tokens = ids.map { tokenList.tokens[$0] }
        var tokenStamps: [[Int]] = []
        if let (ua, up) = upsampled {
            trace.upsampledAlphas = ua
            trace.upsampledPeaks = up
            tokenStamps = ParaformerTimestamps.predict(alphas: ua, peaks: up, tokens: tokens, vadOffsetMs: vadOffsetMs,
                                                       upsampleRate: config.predictor.upsampleTimes)
                .map { $0.map(ParaformerTimestamps.milliseconds) }
        } else if predictTimestamps {
            // FunASR: ts_prediction_lfr6_standard(pre_peak_index[i], alphas[i], …, upsample_rate=1) — the peaks
            // go in as "alphas" and the alphas as "peaks".
            tokenStamps = ParaformerTimestamps.predict(alphas: cif.peaks, peaks: cif.alphas, tokens: tokens,
                                                       vadOffsetMs: vadOffsetMs, upsampleRate: 1)
                .map { $0.map(ParaformerTimestamps.milliseconds) }
        }
        if givesTimestamps {
            let post = ParaformerTextPostprocess.sentence(tokens, timestamps: tokenStamps.map { $0.map(Double.init) })
            return ParaformerResult(tokenIDs: ids, tokens: tokens, text: post.text, words: post.words,
                                    timestamps: post.timestamps.map { $0.map { Int($0) } }, tokenTimestamps: tokenStamps,
                                    logProbability: score, positions: cif.tokenCount)
        }
        let post = ParaformerTextPostprocess.sentence(tokens)
        return ParaformerResult(tokenIDs: ids, tokens: tokens, text: post.text, words: post.words, timestamps: [],
                                tokenTimestamps: [], logProbability: score, positions: cif.tokenCount)
    }
}

extension Array where Element == (values: [Float], frames: Int) {
    /// Calls `body` with a pointer to every element's values (valid during the call).
    func withPointers<R>(_ body: ([(features: UnsafePointer<Float>, frames: Int)]) -> R) -> R {
        map(\.values).withPointers { pointers in body(zip(pointers, self).map { ($0, $1.frames) }) }
    }
}

extension Array where Element == [Float] {
    /// Calls `body` with a pointer to every element's storage (valid during the call; an empty element's
    /// pointer is never read).
    func withPointers<R>(_ body: ([UnsafePointer<Float>]) -> R) -> R {
        var pointers: [UnsafePointer<Float>] = []
        func recurse(_ i: Int) -> R {
            if i == count { return body(pointers) }
            return self[i].withUnsafeBufferPointer { b in
                pointers.append(b.baseAddress ?? UnsafePointer(bitPattern: 8)!)
                return recurse(i + 1)
            }
        }
        return recurse(0)
    }
}
