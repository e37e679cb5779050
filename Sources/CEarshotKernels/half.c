// fp32 → IEEE half with round-to-nearest-even (the F16C instruction's rounding, and numpy's astype(float16)),
// and attention over keys/values stored as halves (Whisper's cross-attention memory at reduced precision).
#include "internal.h"
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/// One value: infinities and NaNs keep their class, values that round past 65504 become infinity, values
/// below 2⁻¹⁴ become subnormal halves (units of 2⁻²⁴, rounded to nearest even by lrintf).
static uint16_t float_to_half_scalar(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, magnitude = x & 0x7fffffff;
    if (magnitude >= 0x7f800000) return (uint16_t)(sign | 0x7c00 | (magnitude > 0x7f800000 ? 0x200 : 0));
    if (magnitude >= 0x477ff000) return (uint16_t)(sign | 0x7c00);  // ≥ 65520 rounds to infinity
    if (magnitude < 0x38800000) {                                   // below the smallest normal half
        float a;
        memcpy(&a, &magnitude, 4);
        return (uint16_t)(sign | (uint32_t)lrintf(a * 16777216.0f)); // exact scaling by 2²⁴, then RNE
    }
    uint32_t h = (magnitude >> 13) - ((127 - 15) << 10);            // rebias the exponent, keep 10 bits
    uint32_t rest = magnitude & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;           // a carry moves into the exponent
    return (uint16_t)(sign | h);
}

EK_AVX2 static void float_to_half_f16c(const float *src, uint16_t *dst, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) dst[i] = float_to_half_scalar(src[i]);
}

void ek_float_to_half(int level, const float *src, uint16_t *dst, long n) {
    if (level > ek_instruction_set()) level = ek_instruction_set();
    if (level >= 1) float_to_half_f16c(src, dst, n);
    else for (long i = 0; i < n; i++) dst[i] = float_to_half_scalar(src[i]);
}

/// Decoding rows (≤ 16) of one head with half keys/values and `dim` a multiple of 16, on AVX-512: keys and
/// values are widened in registers as they stream (no scratch copy), so a step reads half the bytes. The
/// operations and their order are those of the fp32 path (`qk_stream_avx512` for the scores, the row softmax,
/// `ek_smallm_n_avx512` for the weighted sum with its even/odd accumulators), so the output equals fp32
/// attention over the widened values bit for bit.
static EK_AVX512 void head_f16kv_avx512(long rows, long keys, long dim, const float *q, long ldq, const uint16_t *k,
                                        const uint16_t *v, long ldkv, float *out, long ldo, float scale, float *s) {
    long j = 0;
    for (; j + 16 <= keys; j += 16) {
        const uint16_t *kb = k + j * ldkv;
        for (long i = 0; i < rows; i++) {
            const float *qi = q + i * ldq;
            __m512 acc[16];
#pragma clang loop unroll(full)
            for (int t = 0; t < 16; t++) acc[t] = _mm512_setzero_ps();
            for (long p = 0; p < dim; p += 16) {
                __m512 x = _mm512_loadu_ps(qi + p);
#pragma clang loop unroll(full)
                for (int t = 0; t < 16; t++)
                    acc[t] = _mm512_fmadd_ps(x, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(kb + t * ldkv + p))), acc[t]);
            }
            _mm512_storeu_ps(s + i * keys + j, ek_reduce16_avx512(acc));
        }
    }
    for (; j < keys; j++) {  // the last < 16 keys: one vector chain per key, reduced as _mm512_reduce_add_ps
        for (long i = 0; i < rows; i++) {
            __m512 acc = _mm512_setzero_ps();
            for (long p = 0; p < dim; p += 16)
                acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + i * ldq + p),
                                      _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(k + j * ldkv + p))), acc);
            s[i * keys + j] = _mm512_reduce_add_ps(acc);
        }
    }
    ek_softmax_rows(2, s, rows, keys, keys, scale, -1);
    for (long i = 0; i < rows; i++) {
        const float *x = s + i * keys;
        for (long c = 0; c < dim; c += 64) {
            long width = dim - c < 64 ? dim - c : 64;
            __m512 s0[4], s1[4];
#pragma clang loop unroll(full)
            for (int u = 0; u < 4; u++) { s0[u] = _mm512_setzero_ps(); s1[u] = _mm512_setzero_ps(); }
            long p = 0;
            for (; p + 2 <= keys; p += 2) {
                const uint16_t *r0 = v + p * ldkv + c, *r1 = r0 + ldkv;
                if (p + 18 <= keys) {
                    _mm_prefetch((const char *)(r0 + 16 * ldkv), _MM_HINT_T0);
                    _mm_prefetch((const char *)(r1 + 16 * ldkv), _MM_HINT_T0);
                }
                __m512 x0 = _mm512_set1_ps(x[p]), x1 = _mm512_set1_ps(x[p + 1]);
                for (int u = 0; u < width / 16; u++) {
                    s0[u] = _mm512_fmadd_ps(x0, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r0 + 16 * u))), s0[u]);
                    s1[u] = _mm512_fmadd_ps(x1, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r1 + 16 * u))), s1[u]);
                }
            }
            if (p < keys) {
                const uint16_t *r0 = v + p * ldkv + c;
                __m512 x0 = _mm512_set1_ps(x[p]);
                for (int u = 0; u < width / 16; u++)
                    s0[u] = _mm512_fmadd_ps(x0, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r0 + 16 * u))), s0[u]);
            }
            for (int u = 0; u < width / 16; u++) _mm512_storeu_ps(out + i * ldo + c + 16 * u, _mm512_add_ps(s0[u], s1[u]));
        }
    }
}

void ek_attention_head_f16kv(int level, long rows, long keys, long dim, const float *q, long ldq, const uint16_t *k,
                             const uint16_t *v, long ldkv, float *out, long ldo, float scale) {
    if (rows <= 0 || dim <= 0) return;
    if (keys <= 0) {
        for (long r = 0; r < rows; r++) memset(out + r * ldo, 0, (size_t)dim * 4);
        return;
    }
    if (level > ek_instruction_set()) level = ek_instruction_set();
    if (level >= 2 && rows <= 16 && dim % 16 == 0) {
        float *s = ek_scratch(2, (size_t)rows * (size_t)keys * 4);
        if (!s) abort();
        head_f16kv_avx512(rows, keys, dim, q, ldq, k, v, ldkv, out, ldo, scale, s);
        return;
    }
    // Other levels and many query rows (word alignment): widen this head's keys and values once into
    // per-thread scratch (keys × dim floats each: 375 KiB for 1500 × 64), then run the fp32 head.
    float *kf = ek_scratch(6, (size_t)keys * (size_t)dim * 4);
    float *vf = ek_scratch(7, (size_t)keys * (size_t)dim * 4);
    if (!kf || !vf) abort();  // out of memory for under a MiB of scratch: no way to produce the output
    for (long j = 0; j < keys; j++) {
        const uint16_t *kr = k + j * ldkv, *vr = v + j * ldkv;
        float *kd = kf + j * dim, *vd = vf + j * dim;
        for (long p = 0; p < dim; p++) { kd[p] = ek_half_to_float_scalar(kr[p]); vd[p] = ek_half_to_float_scalar(vr[p]); }
    }
    ek_attention_head(level, rows, keys, dim, q, ldq, kf, dim, vf, dim, out, ldo, scale, -1);
}
