/// numpy's legacy `RandomState` generator (MT19937), as far as scikit-learn's k-means++ draws from it:
/// `seed(Int)`, `random_sample`, `uniform(0, 1)` and `choice(n, p:)`. FunASR's spectral clustering calls
/// `sklearn.cluster.k_means` without a `random_state`, so it draws from numpy's global generator, which
/// `AutoModel.build_model` seeds with `set_all_random_seed(0)`; the large-N path passes `random_state=0`.
/// Reproducing the generator makes Earshot pick the same initial centres, hence the same label numbers.
///
/// Sources: numpy 1.26 `numpy/random/_mt19937.pyx` (`_legacy_seeding` → `mt19937_seed`),
/// `numpy/random/src/legacy/legacy-distributions.c` / `mt19937.h` (53-bit doubles from two 32-bit words),
/// `numpy/random/mtrand.pyx` (`choice`: cumulative sum, normalised, `searchsorted(side='right')`).
struct NumpyRandomState: Sendable {
    private var key = [UInt32](repeating: 0, count: 624)
    private var position = 624

    /// `np.random.seed(seed)` / `np.random.RandomState(seed)` for an integer seed.
    init(seed: UInt32) {
        var s = seed
        for i in 0..<624 {
            key[i] = s
            s = 1_812_433_253 &* (s ^ (s >> 30)) &+ UInt32(i + 1)
        }
        position = 624
    }

    private mutating func generate() {
        let upper: UInt32 = 0x8000_0000, lower: UInt32 = 0x7fff_ffff, matrixA: UInt32 = 0x9908_b0df
        for i in 0..<624 {
            let y = (key[i] & upper) | (key[(i + 1) % 624] & lower)
            key[i] = key[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : matrixA)
        }
        position = 0
    }

    /// One tempered 32-bit output.
    mutating func nextUInt32() -> UInt32 {
        if position >= 624 { generate() }
        var y = key[position]
        position += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    /// `random_sample()`: a double in [0, 1) from 27 + 26 random bits.
    mutating func randomSample() -> Double {
        let a = Double(nextUInt32() >> 5), b = Double(nextUInt32() >> 6)
        return (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `uniform(size: count)` on [0, 1): `low + (high - low) * random_sample()` with low 0, high 1.
    mutating func uniform(count: Int) -> [Double] {
        (0..<count).map { _ in 0.0 + 1.0 * randomSample() }
    }

    /// `choice(n, p=p)` for one draw: the first index whose normalised cumulative probability exceeds a
    /// uniform sample (`searchsorted(..., side='right')`).
    mutating func choice(probabilities p: [Double]) -> Int {
        var cdf = [Double](repeating: 0, count: p.count)
        var acc = 0.0
        for i in p.indices { acc += p[i]; cdf[i] = acc }
        let total = cdf[cdf.count - 1]
        for i in cdf.indices { cdf[i] /= total }
        let u = randomSample()
        var lo = 0, hi = cdf.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if cdf[mid] <= u { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
