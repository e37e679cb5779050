import EarshotAudio

extension FSMNVAD {
    /// Streams an audio file (any format `AudioFileReader` decodes, resampled to the model's rate) through
    /// a new stream and calls `handler` for each event as it is decided. Reads `readSize` samples (10 s) at a
    /// time — large enough for efficient matrix products, small enough that memory does not depend on the
    /// file's length. Empty audio gives no events.
    /// - Throws: `FunASRError.audio` naming the file when it cannot be opened or decoded.
    public func detect(file path: String, options: VADOptions? = nil, readSize: Int = 160_000,
                       handler: (VADEvent) -> Void) throws(FunASRError) {
        let stream = try makeStream(options: options)
        let reader: AudioFileReader
        do {
            reader = try AudioFileReader(path: path, targetSampleRate: fbankOptions.sampleRate)
        } catch {
            throw FunASRError(.audio, "\(error.description); give a readable audio file (WAV, or any format ffmpeg decodes)")
        }
        defer { reader.close() }
        while true {
            let chunk: [Float]
            do { chunk = try reader.read(maxSamples: readSize) } catch {
                throw FunASRError(.audio, "\(error.description)")
            }
            if chunk.isEmpty { break }
            chunk.withUnsafeBufferPointer { stream.push($0, handler: handler) }
        }
        stream.finish(handler: handler)
    }

    /// FunASR's offline result for a file: the list of `[start_ms, end_ms]` segments.
    /// - Throws: `FunASRError.audio` when the file cannot be read.
    public func segments(ofFile path: String, options: VADOptions? = nil) throws(FunASRError) -> [SpeechSegment] {
        var out: [SpeechSegment] = []
        try detect(file: path, options: options) { if case .end(let s) = $0 { out.append(s) } }
        return out
    }
}
