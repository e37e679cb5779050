import EarshotCheckpoint
import FuzzSupport

/// The YAML configuration reader (Yams) and its typed look-ups, with the keys FunASR's configs use.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzYAML(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = Scratch.write(data, size, name: "config.yaml")
    guard let config = try? YAMLConfig(path: path) else { return 0 }
    _ = try? config.int("frontend_conf.n_mels", default: 80)
    _ = try? config.double("model_conf.speech_noise_thres", default: 0.6)
    _ = try? config.bool("model_conf.sil_pdf_ids", default: false)
    _ = try? config.string("model", default: "")
    _ = try? config.ints("frontend_conf.lfr_m", default: [])
    _ = config.node("encoder_conf.output_size")
    return 0
}
