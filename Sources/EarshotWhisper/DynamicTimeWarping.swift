import EarshotTensor

/// The signal steps of Whisper's word alignment that follow the decoder pass: normalising attention over
/// tokens, a median filter over time, and dynamic time warping of tokens onto audio frames.
///
/// These reproduce CTranslate2 4.x (`src/ops/whisper.cc` `NormalizeAttentionWeights`, `MedianFilter`;
/// `src/dtw.cc` `negative_dtw`), which in turn follow openai-whisper's `timing.py`
/// (`std_mean` over tokens, `median_filter`, `dtw`). Matrices are row-major `[rows][columns]` `Float` arrays.
enum AlignmentSignal {
    /// Normalises every column of `x[rows][columns]` to zero mean and unit variance over the rows
    /// (`(x − mean) / √var`, population variance, no epsilon — CTranslate2's `layer_norm_axis` on the token
    /// axis with `epsilon = 0`; openai-whisper `std_mean(dim=-2, unbiased=False)`).
    static func normalizeColumns(_ x: inout [Float], rows: Int, columns: Int) {
        guard rows > 0, columns > 0 else { return }
        var mean = [Double](repeating: 0, count: columns)
        var squares = [Double](repeating: 0, count: columns)
        for r in 0..<rows {
            let base = r * columns
            for c in 0..<columns {
                mean[c] += Double(x[base + c])
            }
        }
        for c in 0..<columns { mean[c] /= Double(rows) }
        for r in 0..<rows {
            let base = r * columns
            for c in 0..<columns {
                let d = Double(x[base + c]) - mean[c]
                squares[c] += d * d
            }
        }
        var inverse = [Float](repeating: 0, count: columns)
        for c in 0..<columns { inverse[c] = Float(1 / (squares[c] / Double(rows)).squareRoot()) }
        var meanF = [Float](repeating: 0, count: columns)
        for c in 0..<columns { meanF[c] = Float(mean[c]) }
        for r in 0..<rows {
            let base = r * columns
            for c in 0..<columns { x[base + c] = (x[base + c] - meanF[c]) * inverse[c] }
        }
    }

    /// Median of a window of `width` (odd) values centred on each element of the given rows, each row
    /// reflected at its ends without repeating the edge (`x[-1] = x[1]`; PyTorch/scipy "reflect",
    /// CTranslate2 `MedianFilter`). Rows no longer than `width / 2` pass through unchanged, as in CTranslate2.
    static func medianFilterRows(_ x: inout [Float], rows: Range<Int>, columns: Int, width: Int) {
        let half = width / 2
        guard width > 1, columns > half else { return }
        var row = [Float](repeating: 0, count: columns)
        var window = [Float](repeating: 0, count: width)
        x.withUnsafeMutableBufferPointer { data in
            row.withUnsafeMutableBufferPointer { row in
                window.withUnsafeMutableBufferPointer { window in
                    for r in rows {
                        let line = data.baseAddress! + r * columns
                        row.baseAddress!.update(from: line, count: columns)
                        if width == 7 {
                            Kernels.medianFilter7(row.baseAddress!, into: line, count: columns)
                        } else {
                            filterRow(row.baseAddress!, into: line, columns: columns, half: half, window: window.baseAddress!)
                        }
                    }
                }
            }
        }
    }

    /// One row of the median filter: `out[c]` = median of `input[c-half ... c+half]`, reflected at the ends.
    private static func filterRow(_ input: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, columns: Int,
                                  half: Int, window: UnsafeMutablePointer<Float>) {
        let width = 2 * half + 1
        for c in 0..<columns {
            for k in -half...half {
                var read = abs(c + k)
                if read >= columns { read = columns - (read - columns) - 2 }
                window[k + half] = input[read]
            }
            // Insertion sort of the small window; the middle element is the median.
            for i in 1..<width {
                let v = window[i]
                var j = i - 1
                while j >= 0 && window[j] > v {
                    window[j + 1] = window[j]
                    j -= 1
                }
                window[j + 1] = v
            }
            out[c] = window[half]
        }
    }

    /// Dynamic time warping that maximises the sum of `x[rows][columns]` along a monotone path from
    /// `(0, 0)` to `(rows−1, columns−1)` (CTranslate2 `negative_dtw`: the cost of a cell is `−x` plus the
    /// cheapest of its diagonal, upper and left neighbours; ties go to the left neighbour, then upward).
    ///
    /// - Returns: the path as (row, column) pairs, in order; every row appears at least once.
    static func negativeDTW(_ x: [Float], rows n: Int, columns m: Int) -> [(row: Int, column: Int)] {
        guard n > 0, m > 0 else { return [] }
        // Costs are kept for two columns at a time (the recurrence runs column by column); the trace keeps
        // every step: 0 diagonal, 1 up, 2 left.
        var previous = [Float](repeating: .infinity, count: n + 1)
        var current = [Float](repeating: .infinity, count: n + 1)
        previous[0] = 0
        var trace = [UInt8](repeating: 0, count: (n + 1) * (m + 1))
        for j in 1...m {
            current[0] = .infinity
            for i in 1...n {
                let c0 = previous[i - 1], c1 = current[i - 1], c2 = previous[i]
                let c: Float
                let t: UInt8
                if c0 < c1 && c0 < c2 {
                    c = c0; t = 0
                } else if c1 < c0 && c1 < c2 {
                    c = c1; t = 1
                } else {
                    c = c2; t = 2
                }
                current[i] = -x[(i - 1) * m + (j - 1)] + c
                trace[i * (m + 1) + j] = t
            }
            swap(&previous, &current)
        }
        // Backtrace; the first row and column only lead back to the origin.
        for k in 0...m { trace[k] = 2 }
        for k in 0...n { trace[k * (m + 1)] = 1 }
        var path: [(row: Int, column: Int)] = []
        path.reserveCapacity(n + m)
        var i = n, j = m
        while i > 0 || j > 0 {
            path.append((i - 1, j - 1))
            switch trace[i * (m + 1) + j] {
            case 0: i -= 1; j -= 1
            case 1: i -= 1
            default: j -= 1
            }
        }
        path.reverse()
        // The walk ends at the origin through (1, 1); a step that left the grid (row or column −1) is dropped.
        return path.filter { $0.row >= 0 && $0.column >= 0 }
    }
}
