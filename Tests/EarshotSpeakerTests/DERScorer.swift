import Foundation

/// The DER of bench/der.py, in Swift for the tests (same definition: ±collar no-score zones around reference
/// boundaries, overlap scored, optimal one-to-one speaker mapping by exhaustive search).
struct DERScorer {
    typealias Turn = (start: Double, end: Double, speaker: String)
    struct Result { var der: Double; var miss: Double; var falseAlarm: Double; var confusion: Double; var total: Double }

    static func readRTTM(_ text: String) -> [Turn] {
        text.split(separator: "\n").compactMap { line in
            let p = line.split(separator: " ", omittingEmptySubsequences: true)
            guard p.count >= 8, p[0] == "SPEAKER", let s = Double(p[3]), let d = Double(p[4]), d > 0 else { return nil }
            return (s, s + d, String(p[7]))
        }
    }

    static func score(reference: [Turn], hypothesis: [Turn], collar: Double = 0.25) -> Result {
        var zones: [(Double, Double)] = []
        if collar > 0 { for t in reference { zones += [(t.start - collar, t.start + collar), (t.end - collar, t.end + collar)] } }
        var cuts = Set<Double>()
        for t in reference + hypothesis { cuts.insert(t.start); cuts.insert(t.end) }
        for z in zones { cuts.insert(z.0); cuts.insert(z.1) }
        let points = cuts.sorted()
        var intervals: [(Double, Set<String>, Set<String>)] = []
        for (t0, t1) in zip(points, points.dropFirst()) where t1 - t0 > 1e-9 {
            let mid = (t0 + t1) / 2
            if zones.contains(where: { $0.0 <= mid && mid < $0.1 }) { continue }
            let r = Set(reference.filter { $0.start < t1 && $0.end > t0 }.map(\.speaker))
            let h = Set(hypothesis.filter { $0.start < t1 && $0.end > t0 }.map(\.speaker))
            intervals.append((t1 - t0, r, h))
        }
        let refs = Set(intervals.flatMap { $0.1 }).sorted(), hyps = Set(intervals.flatMap { $0.2 }).sorted()
        var overlap: [String: Double] = [:]
        for (d, r, h) in intervals { for a in r { for b in h { overlap[a + "\u{1}" + b, default: 0] += d } } }
        var best = -1.0, mapping: [String: String] = [:]
        func search(_ i: Int, _ used: Set<String>, _ current: [String: String], _ score: Double) {
            if i == refs.count {
                if score > best + 1e-12 { best = score; mapping = current }
                return
            }
            search(i + 1, used, current, score)   // reference speaker left unmapped
            for h in hyps where !used.contains(h) {
                var next = current; next[refs[i]] = h
                search(i + 1, used.union([h]), next, score + (overlap[refs[i] + "\u{1}" + h] ?? 0))
            }
        }
        search(0, [], [:], 0)
        var res = Result(der: 0, miss: 0, falseAlarm: 0, confusion: 0, total: 0)
        for (d, r, h) in intervals {
            let correct = r.filter { mapping[$0].map(h.contains) ?? false }.count
            res.total += Double(r.count) * d
            res.miss += Double(max(0, r.count - h.count)) * d
            res.falseAlarm += Double(max(0, h.count - r.count)) * d
            res.confusion += Double(min(r.count, h.count) - correct) * d
        }
        res.der = res.total > 0 ? (res.miss + res.falseAlarm + res.confusion) / res.total : 0
        return res
    }
}
