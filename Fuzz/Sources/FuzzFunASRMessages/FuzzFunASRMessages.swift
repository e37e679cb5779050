import EarshotSpeech
import EarshotWire
import FuzzSupport

/// A FunASR websocket conversation as the server's session reads it: a sequence of frames, each one byte of
/// kind (even: text, odd: binary PCM), two bytes of length (little-endian) and the payload. Text frames go
/// through `FunASRProtocol.parse` with the configuration so far, as the session keeps it; an accepted
/// configuration's strings are echoed in a result message, as the server echoes `wav_name`. Binary frames go
/// through the PCM stream; the samples out must account for every byte in.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFunASRMessages(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    var config: FunASRProtocol.Config?
    var pcm = PCM16Stream()
    var bytesIn = 0
    var samplesOut = 0
    var offset = 0
    while offset + 3 <= size {
        let kind = data[offset]
        let length = min(Int(data[offset + 1]) | Int(data[offset + 2]) << 8, size - offset - 3)
        let payload = UnsafeBufferPointer(start: data + offset + 3, count: length)
        offset += 3 + length
        if kind % 2 == 0 {
            let text = String(decoding: payload, as: UTF8.self)
            switch try? FunASRProtocol.parse(text, current: config) {
            case .config(let parsed, _)?:
                config = parsed
                let segment = TranscriptSegment(id: 0, seek: 0, start: 0, end: 1, text: parsed.prompt ?? parsed.wavName,
                                                tokens: [], temperature: 0, avgLogProb: 0, compressionRatio: 1,
                                                noSpeechProb: 0,
                                                words: [WordTiming(word: parsed.wavName, start: 0, end: 1, probability: 1)])
                let message = FunASRProtocol.result(mode: parsed.mode.rawValue, wavName: parsed.wavName,
                                                    segments: [segment], isFinal: true)
                precondition(message.hasPrefix("{"), "result message is not a JSON object: \(message)")
            case .end?, .other?, nil:
                break
            }
        } else {
            bytesIn += length
            samplesOut += pcm.samples(from: payload).count
            precondition(2 * samplesOut + (pcm.hasPendingByte ? 1 : 0) == bytesIn,
                         "PCM: \(bytesIn) bytes in, \(samplesOut) samples out")
        }
    }
    return 0
}
