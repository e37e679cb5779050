// Median filter of width 7 along a row (the alignment signal's smoothing, openai-whisper timing.py's
// median_filter(filter_width=7), reflect padding as in F.pad(mode="reflect")).
//
// Interior columns use a branch-free sorting network on 7 shifted copies of the row (odd–even transposition
// sort: 7 rounds of compare-exchange on neighbours sorts any 7 inputs); a min/max pair returns two of its
// inputs, so the middle output is exactly the median, whatever the order of comparisons. The loop is written
// for the compiler to vectorise at every level; the first and last 3 columns read reflected neighbours.
#include "internal.h"

#define CX(a, b) do { float lo_ = a < b ? a : b; float hi_ = a < b ? b : a; a = lo_; b = hi_; } while (0)

EK_INLINE float median7(float v0, float v1, float v2, float v3, float v4, float v5, float v6) {
    for (int round = 0; round < 7; round++) {
        if (round % 2 == 0) { CX(v0, v1); CX(v2, v3); CX(v4, v5); }
        else { CX(v1, v2); CX(v3, v4); CX(v5, v6); }
    }
    return v3;
}

static inline long reflect(long c, long n) {
    if (c < 0) return -c;
    if (c >= n) return 2 * n - c - 2;
    return c;
}

#define MEDIAN7_BODY                                                                                        \
    for (long c = 0; c < 3 && c < n; c++) {                                                                \
        out[c] = median7(in[reflect(c - 3, n)], in[reflect(c - 2, n)], in[reflect(c - 1, n)], in[c],       \
                         in[reflect(c + 1, n)], in[reflect(c + 2, n)], in[reflect(c + 3, n)]);             \
    }                                                                                                      \
    for (long c = 3; c < n - 3; c++) {                                                                     \
        out[c] = median7(in[c - 3], in[c - 2], in[c - 1], in[c], in[c + 1], in[c + 2], in[c + 3]);         \
    }                                                                                                      \
    for (long c = n - 3 > 3 ? n - 3 : 3; c < n; c++) {                                                     \
        out[c] = median7(in[reflect(c - 3, n)], in[reflect(c - 2, n)], in[reflect(c - 1, n)], in[c],       \
                         in[reflect(c + 1, n)], in[reflect(c + 2, n)], in[reflect(c + 3, n)]);             \
    }

static void median7_portable(const float *in, float *out, long n) { MEDIAN7_BODY }
EK_AVX2 static void median7_avx2(const float *in, float *out, long n) { MEDIAN7_BODY }
EK_AVX512 static void median7_avx512(const float *in, float *out, long n) { MEDIAN7_BODY }

void ek_median7_row(int level, const float *in, float *out, long n) {
    if (n <= 0) return;
    level = level < ek_instruction_set() ? level : ek_instruction_set();
    if (level >= 2) median7_avx512(in, out, n);
    else if (level == 1) median7_avx2(in, out, n);
    else median7_portable(in, out, n);
}
