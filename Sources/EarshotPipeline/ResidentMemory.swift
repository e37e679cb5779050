import Foundation
import EarshotFunASR
import EarshotMemory
import EarshotSpeech

/// The memory a loaded pipeline holds whatever it is given: the recognizer's and VAD's weights and the
/// runtime, measured as the process's resident set after a warm-up (every weight page touched once).
struct ResidentMemory {
    /// Resident bytes after the warm-up and a heap trim.
    var bytes: Int
    /// Bytes of the recognizer's weights and of the VAD model.
    var weightBytes: Int
    var vadWeightBytes: Int
    /// Bytes of the punctuation model's resident weights (0 without `--punc`).
    var punctuationWeightBytes = 0

    /// Warms the recognizer up with a silent window (so the baseline includes its resident weights) and
    /// measures the baseline. Also sets the allocator up so big buffers go back to the OS when freed.
    static func measure(recognizer: any SpeechRecognizer, vad: FSMNVAD?, settings: RecognitionSettings,
                        punctuation: (any PunctuationModel)? = nil) throws -> ResidentMemory {
        _ = ProcessMemory.configureAllocator()
        let silence = [Float](repeating: 0, count: 1600)
        var warm = settings
        if recognizer.needsLanguage, warm.language == nil { warm.language = recognizer.detectLanguage(of: silence) }
        _ = try recognizer.recognize([AudioChunk(samples: silence, startSeconds: 0, index: 0)], settings: warm, times: nil)
        _ = try punctuation?.punctuate("warm up")
        _ = ProcessMemory.trimHeap()
        let vadBytes = vad.flatMap { v in
            (try? FileManager.default.attributesOfItem(atPath: v.directory + "/model.pt"))?[.size] as? Int
        } ?? 0
        return ResidentMemory(bytes: ProcessMemory.currentRSS()?.bytes ?? 0, weightBytes: recognizer.weightBytes,
                              vadWeightBytes: vadBytes, punctuationWeightBytes: punctuation?.residentWeightBytes ?? 0)
    }

    /// Holds the baseline in a ledger for as long as the returned reservations live: the weights (mapped
    /// and owned) and the rest (runtime, tokenizer, allocator).
    func reserve(in ledger: MemoryLedger) throws -> [MemoryReservation] {
        let weights = min(weightBytes + vadWeightBytes, bytes)
        let punctuation = min(punctuationWeightBytes, bytes - weights)
        var reservations = [try ledger.reserve(ByteCount(weights), category: .weights, label: "recognizer + VAD weights")]
        if punctuation > 0 {
            reservations.append(try ledger.reserve(ByteCount(punctuation), category: .weights, label: "punctuation weights"))
        }
        reservations.append(try ledger.reserve(ByteCount(bytes - weights - punctuation), category: .other, label: "runtime, tokenizer"))
        return reservations
    }
}

extension RecognizerBatchCost {
    /// Reserves what a batch of `count` windows costs, by category; release the reservations after the batch.
    func reserve(batchSize count: Int, in ledger: MemoryLedger) throws -> [MemoryReservation] {
        [
            try ledger.reserve(ByteCount(features + alignment), category: .features, label: "features"),
            try ledger.reserve(ByteCount(activations + count * activationsPerItem), category: .activations,
                               label: "batch of \(count)"),
            try ledger.reserve(ByteCount(count * cachePerItem), category: .kvCache, label: "caches"),
            try ledger.reserve(ByteCount(count * outputsPerItem), category: .outputs, label: "outputs"),
        ]
    }
}
