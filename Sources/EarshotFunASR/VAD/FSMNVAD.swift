import EarshotCheckpoint
import Foundation

/// FunASR's FSMN-VAD (`iic/speech_fsmn_vad_zh-cn-16k-common-pytorch`) loaded from its model directory:
/// `config.yaml` (front end, encoder shape, decision parameters), `am.mvn` (CMVN) and `model.pt` (weights,
/// read with the memory-mapped PyTorch reader). Immutable and shareable; each audio stream gets its own
/// `FSMNVADStream`.
public final class FSMNVAD: Sendable {
    /// The model directory.
    public let directory: String
    /// Decision parameters from `model_conf` (callers may override them per stream).
    public let options: VADOptions
    /// Fbank parameters from `frontend_conf`.
    public let fbankOptions: FbankOptions
    /// LFR stacking from `frontend_conf` (5, 1).
    public let lfrM: Int, lfrN: Int
    /// CMVN from `am.mvn`.
    public let cmvn: CMVN
    /// The encoder.
    public let encoder: FSMNEncoder

    /// The files a model directory must hold.
    public static let requiredFiles = ["config.yaml", "am.mvn", "model.pt"]

    /// Loads the model in `directory`.
    /// - Throws: `FunASRError` naming the file (and tensor or key) that is missing, corrupt or inconsistent.
    public init(directory: String) throws(FunASRError) {
        self.directory = directory
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw FunASRError(.model, "\(directory): no such model directory; run scripts/fetch-assets.sh or pass --model DIR holding \(Self.requiredFiles.joined(separator: ", "))")
        }
        for file in Self.requiredFiles where !FileManager.default.fileExists(atPath: directory + "/" + file) {
            throw FunASRError(.model, "\(directory)/\(file): missing from the model directory (it needs \(Self.requiredFiles.joined(separator: ", "))); run scripts/fetch-assets.sh")
        }
        let config: YAMLConfig
        do { config = try YAMLConfig(path: directory + "/config.yaml") } catch { throw FunASRError(error) }
        options = try VADOptions(config: config)
        (fbankOptions, lfrM, lfrN) = try Self.frontend(config)
        let encoderConfig = try Self.encoderConfig(config)
        cmvn = try CMVN(path: directory + "/am.mvn")
        guard cmvn.dimension >= fbankOptions.melBins * lfrM, encoderConfig.inputDim == fbankOptions.melBins * lfrM else {
            throw FunASRError(.invalidConfiguration, "\(directory): features are \(fbankOptions.melBins)×\(lfrM) = \(fbankOptions.melBins * lfrM) wide, but encoder_conf.input_dim is \(encoderConfig.inputDim) and am.mvn has \(cmvn.dimension) values")
        }
        guard options.silPdfIds.allSatisfy({ $0 >= 0 && $0 < encoderConfig.outputDim }) else {
            throw FunASRError(.invalidConfiguration, "\(directory)/config.yaml: model_conf.sil_pdf_ids \(options.silPdfIds) are not all below encoder_conf.output_dim \(encoderConfig.outputDim)")
        }
        let checkpoint: PyTorchCheckpoint
        do { checkpoint = try PyTorchCheckpoint(path: directory + "/model.pt") } catch { throw FunASRError(error) }
        encoder = try FSMNEncoder(checkpoint: checkpoint, config: encoderConfig)
        _ = try KaldiFbank(options: fbankOptions)   // surface window/mel errors at load time
    }

    private static func frontend(_ c: YAMLConfig) throws(FunASRError) -> (FbankOptions, Int, Int) {
        do {
            var o = FbankOptions()
            o.sampleRate = try c.int("frontend_conf.fs", default: 16_000)
            o.window = try c.string("frontend_conf.window", default: "hamming")
            o.melBins = try c.int("frontend_conf.n_mels", default: 80)
            o.frameLengthMs = try c.double("frontend_conf.frame_length", default: 25)
            o.frameShiftMs = try c.double("frontend_conf.frame_shift", default: 10)
            // dither: FunASR's configs set 0.0 and the C++ runtime hard-codes 0; Earshot is deterministic
            // and never dithers, so the value is read only to reject a non-zero one explicitly.
            let dither = try c.double("frontend_conf.dither", default: 0)
            guard dither == 0 else {
                throw FunASRError(.invalidConfiguration, "\(c.path): frontend_conf.dither is \(dither); Earshot computes features without dither (set it to 0.0, as FunASR's FSMN-VAD config does)")
            }
            return (o, try c.int("frontend_conf.lfr_m", default: 1), try c.int("frontend_conf.lfr_n", default: 1))
        } catch let e as FunASRError {
            throw e
        } catch let e as CheckpointError {
            throw FunASRError(e)
        } catch {
            throw FunASRError(.invalidConfiguration, "\(c.path): \(error)")
        }
    }

    private static func encoderConfig(_ c: YAMLConfig) throws(FunASRError) -> FSMNEncoderConfig {
        var e = FSMNEncoderConfig()
        let k = "encoder_conf."
        do {
            e.inputDim = try c.int(k + "input_dim", default: e.inputDim)
            e.inputAffineDim = try c.int(k + "input_affine_dim", default: e.inputAffineDim)
            e.fsmnLayers = try c.int(k + "fsmn_layers", default: e.fsmnLayers)
            e.linearDim = try c.int(k + "linear_dim", default: e.linearDim)
            e.projDim = try c.int(k + "proj_dim", default: e.projDim)
            e.lorder = try c.int(k + "lorder", default: e.lorder)
            e.rorder = try c.int(k + "rorder", default: e.rorder)
            e.lstride = try c.int(k + "lstride", default: e.lstride)
            e.rstride = try c.int(k + "rstride", default: e.rstride)
            e.outputAffineDim = try c.int(k + "output_affine_dim", default: e.outputAffineDim)
            e.outputDim = try c.int(k + "output_dim", default: e.outputDim)
        } catch {
            throw FunASRError(error)
        }
        return e
    }

    /// A new stream using this model's options, or `options` when given (e.g. with CLI overrides).
    /// - Throws: `FunASRError.invalidConfiguration` if the overridden options are invalid.
    public func makeStream(options: VADOptions? = nil) throws(FunASRError) -> FSMNVADStream {
        let o = options ?? self.options
        try o.validate()
        return try FSMNVADStream(model: self, options: o)
    }

    /// Segments of a whole signal (16 kHz mono in [-1, 1]), FunASR's offline `[[start_ms, end_ms], …]`.
    public func segments(of samples: [Float], options: VADOptions? = nil) throws(FunASRError) -> [SpeechSegment] {
        let stream = try makeStream(options: options)
        var out: [SpeechSegment] = []
        let collect: (VADEvent) -> Void = { if case .end(let s) = $0 { out.append(s) } }
        samples.withUnsafeBufferPointer { stream.push($0, handler: collect) }
        stream.finish(handler: collect)
        return out
    }
}

/// One audio stream through FSMN-VAD: push samples in chunks of any size, get segment starts and ends
/// as soon as they are decided. Memory is fixed at creation (feature, encoder and window buffers), so a
/// stream of any length runs in constant memory.
public final class FSMNVADStream {
    /// The model.
    public let model: FSMNVAD
    /// The decision parameters in use.
    public let options: VADOptions
    private let features: FeatureStream
    private let state: FSMNEncoder.State
    private var machine: VADStateMachine
    private var silence: [Float]
    /// The newest frame is held back until the next arrives, so the last one can be flagged final.
    private var held: (frame: Int, silence: Float, energy: Double)?
    /// Frames decided so far.
    public private(set) var framesProcessed = 0

    init(model: FSMNVAD, options: VADOptions) throws(FunASRError) {
        self.model = model
        self.options = options
        let fbank = try KaldiFbank(options: model.fbankOptions)
        let batch = 1024   // frames per encoder call: amortises the GEMM's weight packing
        features = try FeatureStream(fbank: fbank, lfrM: model.lfrM, lfrN: model.lfrN, cmvn: model.cmvn, maxBatch: batch)
        state = model.encoder.makeState(maxFrames: batch)
        machine = VADStateMachine(options: options)
        silence = [Float](repeating: 0, count: batch)
    }

    /// Adds samples (16 kHz mono in [-1, 1]) and calls `handler` for every event decided by them.
    public func push(_ samples: UnsafeBufferPointer<Float>, handler: (VADEvent) -> Void) {
        features.push(samples) { batch in consume(batch, handler: handler) }
    }

    /// Adds samples and returns the events decided by them.
    public func push(_ samples: [Float]) -> [VADEvent] {
        var events: [VADEvent] = []
        samples.withUnsafeBufferPointer { push($0) { events.append($0) } }
        return events
    }

    /// Ends the stream: decides the last frames (closing an open segment at the end) and resets the
    /// stream for reuse.
    public func finish(handler: (VADEvent) -> Void) {
        features.finish { batch in consume(batch, handler: handler) }
        if let h = held {
            machine.process(frame: h.frame, silence: h.silence, energy: h.energy, isFinal: true, emit: handler)
            framesProcessed += 1
        }
        machine.closeOpenSegment(emit: handler)
        held = nil
        state.reset()
        machine = VADStateMachine(options: options)
        framesProcessed = 0
    }

    /// Ends the stream and returns the last events.
    public func finish() -> [VADEvent] {
        var events: [VADEvent] = []
        finish { events.append($0) }
        return events
    }

    private func consume(_ batch: FeatureBatch, handler: (VADEvent) -> Void) {
        silence.withUnsafeMutableBufferPointer { sil in
            model.encoder.silenceProbability(batch.features, frames: batch.count, state: state,
                                             silenceClasses: options.silPdfIds, into: sil.baseAddress!)
            for i in 0..<batch.count {
                if let h = held {
                    machine.process(frame: h.frame, silence: h.silence, energy: h.energy, isFinal: false, emit: handler)
                    framesProcessed += 1
                }
                held = (batch.firstFrame + i, sil[i], batch.energies[i])
            }
        }
    }
}
