import EarshotCheckpoint
import Foundation

/// Global cepstral mean and variance normalisation from FunASR's `am.mvn` (a Kaldi nnet1 text model):
/// `y = (x + shift) · scale`, with `shift` from the `<AddShift>` component (negated means) and `scale` from
/// `<Rescale>` (inverse standard deviations). As in FunASR's `load_cmvn`, the values are the tokens between
/// `<LearnRateCoef> 0 [` and `]` on the line after each component tag; the last occurrence wins.
public struct CMVN: Sendable, Equatable {
    /// Added to each feature dimension.
    public let shift: [Float]
    /// Then multiplied into each dimension.
    public let scale: [Float]
    /// Dimensions (400 for the VAD, 560 for Paraformer).
    public var dimension: Int { shift.count }

    /// Creates CMVN from explicit vectors of equal length.
    public init(shift: [Float], scale: [Float]) {
        precondition(shift.count == scale.count, "CMVN shift and scale differ in length")
        self.shift = shift
        self.scale = scale
    }

    /// Parses an `am.mvn` file.
    /// - Throws: `FunASRError` `.model` if the file is missing, `.invalidConfiguration` if it lacks either
    ///   component or holds a non-number (the message names the file and line).
    public init(path: String) throws(FunASRError) {
        guard let data = FileBytes.read(path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw FunASRError(.model, "\(path): \(exists ? "cannot read the file" : "no such file"); the model directory needs am.mvn (run scripts/fetch-assets.sh)")
        }
        let lines = String(decoding: data, as: UTF8.self).split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        var shift: [Float]?, scale: [Float]?
        for (i, line) in lines.enumerated() {
            let tokens = line.split(whereSeparator: \.isWhitespace)
            guard let tag = tokens.first, tag == "<AddShift>" || tag == "<Rescale>", i + 1 < lines.count else { continue }
            let next = lines[i + 1].split(whereSeparator: \.isWhitespace)
            guard next.first == "<LearnRateCoef>", next.count >= 4 else { continue }
            var values: [Float] = []
            for token in next[3..<(next.count - 1)] {
                guard let v = Float(token) else {
                    throw FunASRError(.invalidConfiguration, "\(path): line \(i + 2): '\(token)' is not a number")
                }
                values.append(v)
            }
            if tag == "<AddShift>" { shift = values } else { scale = values }
        }
        guard let shift, let scale, !shift.isEmpty else {
            throw FunASRError(.invalidConfiguration, "\(path): no <AddShift> and <Rescale> components with values; not an am.mvn file")
        }
        guard shift.count == scale.count else {
            throw FunASRError(.invalidConfiguration, "\(path): <AddShift> has \(shift.count) values but <Rescale> has \(scale.count)")
        }
        self.init(shift: shift, scale: scale)
    }

    /// Normalises `x` (`dimension` values) in place.
    public func apply(_ x: UnsafeMutablePointer<Float>) {
        shift.withUnsafeBufferPointer { s in
            scale.withUnsafeBufferPointer { c in
                for i in 0..<s.count { x[i] = (x[i] + s[i]) * c[i] }
            }
        }
    }
}
