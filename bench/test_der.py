#!/usr/bin/env python3
"""Hand-checked cases for bench/der.py. Run: python3 bench/test_der.py"""
import os, sys, unittest
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from der import der


class DERTests(unittest.TestCase):
    def test_perfect_with_renamed_speakers(self):
        ref = [(0, 5, "A"), (5, 10, "B")]
        hyp = [(0, 5, "x"), (5, 10, "y")]
        self.assertAlmostEqual(der(ref, hyp, collar=0)["der"], 0)

    def test_hand_checked_no_collar(self):
        # ref: A 0–10, B 10–20 (20 s). hyp: s1 0–12, s2 12–18, nothing 18–20, s3 19–20? no: s2 also 19–20.
        # mapping A→s1 (10 s), B→s2 (6 + 1 = 7 s).
        # 10–12: ref B, hyp s1 → confusion 2. 18–19: ref B, no hyp → miss 1. 19–20: correct.
        ref = [(0, 10, "A"), (10, 20, "B")]
        hyp = [(0, 12, "s1"), (12, 18, "s2"), (19, 20, "s2")]
        r = der(ref, hyp, collar=0)
        self.assertAlmostEqual(r["confusion"], 2)
        self.assertAlmostEqual(r["miss"], 1)
        self.assertAlmostEqual(r["false_alarm"], 0)
        self.assertAlmostEqual(r["total"], 20)
        self.assertAlmostEqual(r["der"], 3 / 20)

    def test_hand_checked_collar_and_false_alarm(self):
        # ref: A 1–4 (boundaries 1 and 4 → no-score 0.75–1.25 and 3.75–4.25). hyp: h 0–4.5, g 6–7.
        # scored: 0–0.75 (hyp h, no ref) FA 0.75; 1.25–3.75 correct (2.5 s ref); 4.25–4.5 FA 0.25; 6–7 FA 1.
        ref = [(1, 4, "A")]
        hyp = [(0, 4.5, "h"), (6, 7, "g")]
        r = der(ref, hyp, collar=0.25)
        self.assertAlmostEqual(r["total"], 2.5)
        self.assertAlmostEqual(r["false_alarm"], 2.0)
        self.assertAlmostEqual(r["miss"], 0)
        self.assertAlmostEqual(r["der"], 2.0 / 2.5)

    def test_overlap_counts_each_reference_speaker(self):
        # ref A 0–10 and B 5–10 (overlap 5–10): total 15. hyp a 0–10 only → miss 5 (B unmapped there).
        ref = [(0, 10, "A"), (5, 10, "B")]
        hyp = [(0, 10, "a")]
        r = der(ref, hyp, collar=0)
        self.assertAlmostEqual(r["total"], 15)
        self.assertAlmostEqual(r["miss"], 5)
        self.assertAlmostEqual(r["der"], 5 / 15)

    def test_optimal_not_greedy_mapping(self):
        # h1 overlaps A 6 s and B 5 s; h2 overlaps A 5 s only. Greedy (largest first) maps A→h1 and leaves
        # B unmatched: 6 correct. Optimal maps A→h2, B→h1: 10 correct.
        ref = [(0, 6, "A"), (6, 11, "A"), (11, 16, "B")]
        hyp = [(0, 6, "h1"), (6, 11, "h2"), (11, 16, "h1")]
        r = der(ref, hyp, collar=0)
        self.assertEqual(r["mapping"], {"A": "h2", "B": "h1"})
        self.assertAlmostEqual(r["confusion"], 6)


if __name__ == "__main__":
    unittest.main()
