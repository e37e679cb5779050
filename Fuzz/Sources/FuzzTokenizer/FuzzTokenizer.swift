import EarshotText
import FuzzSupport

/// The Hugging Face `tokenizer.json` reader, as a model directory without a vocabulary file uses it (the
/// vocabulary is rebuilt from the file's ids), then an encode/decode round of a short text.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = Scratch.write(data, size, name: "tokenizer.json")
    guard let tokenizer = try? WhisperTokenizer(vocabularyPath: nil, tokenizerJSONPath: path) else { return 0 }
    let ids = tokenizer.encode(" Hello world, it's 3 o'clock.")
    _ = tokenizer.decode(ids.filter { $0 >= 0 && $0 < tokenizer.vocabularySize })
    return 0
}
