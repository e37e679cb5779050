// One attention head: S = Q·Kᵀ, row softmax of scale·S, O = S·V, with the scores in thread-local scratch.
// Few query rows (decoding) use a QKᵀ kernel that streams the key rows once, 16 keys per pass.
#include "internal.h"
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

// Query rows up to which the streaming QKᵀ kernel is used (the small-M GEMM threshold).
#define ATTN_SMALL_ROWS 16
// Query rows per block of scores: 256 rows × 1500 keys of fp32 = 1.5 MiB, which stays in L2/L3 between the
// QKᵀ product, the softmax and the PV product.
#define ATTN_QUERY_BLOCK 256

/// Transposed reduction of 16 accumulators: lane j of the result is the horizontal sum of `s[j]`, added in
/// the same order as `_mm512_reduce_add_ps` (halves of 256, 128, 64 and 32 bits), so scores are
/// bit-identical to the small-M GEMM's one-key-at-a-time reduction. 45 shuffles/adds instead of 16×8.
EK_AVX512 __m512 ek_reduce16_avx512(const __m512 *s) {
    __m512 u[4];
#pragma clang loop unroll(full)
    for (int g = 0; g < 4; g++) {
        __m512 a = s[g], b = s[4 + g], c = s[8 + g], d = s[12 + g];
        // lane i + lane i+8 of two vectors at once
        __m512 tab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
        __m512 tcd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
        // lane i + lane i+4: 128-bit lane k now holds the four partial sums of vector (a, b, c, d)[k]
        u[g] = _mm512_add_ps(_mm512_shuffle_f32x4(tab, tcd, 0x88), _mm512_shuffle_f32x4(tab, tcd, 0xDD));
    }
    // lane i + lane i+2, then i + i+1
    __m512d u0 = _mm512_castps_pd(u[0]), u1 = _mm512_castps_pd(u[1]);
    __m512d u2 = _mm512_castps_pd(u[2]), u3 = _mm512_castps_pd(u[3]);
    __m512 v01 = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(u0, u1)), _mm512_castpd_ps(_mm512_unpackhi_pd(u0, u1)));
    __m512 v23 = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(u2, u3)), _mm512_castpd_ps(_mm512_unpackhi_pd(u2, u3)));
    return _mm512_add_ps(_mm512_shuffle_ps(v01, v23, 0x88), _mm512_shuffle_ps(v01, v23, 0xDD));
}

/// `s[i][j] = q[i]·key[j]` for `m` query rows and `n` key rows of `dim` values: per query row and block
/// of 16 keys, 16 FMA chains over the dimension (as `ek_smallm_t_avx512`), one transposed reduction and
/// one vector store. Key rows stream once per query row (a 16-key block stays in L1 across rows).
static EK_AVX512 void qk_stream_avx512(long m, long n, long dim, const float *q, long ldq, const float *key,
                                       long ldk, float *s, long lds) {
    long j = 0;
    for (; j + 16 <= n; j += 16) {
        const float *kb = key + j * ldk;
        // (Software prefetch of the next blocks was tried here and cost time: the 16 independent key rows
        // per pass already keep enough loads in flight.)
        for (long i = 0; i < m; i++) {
            const float *qi = q + i * ldq;
            __m512 acc[16];
#pragma clang loop unroll(full)
            for (int t = 0; t < 16; t++) acc[t] = _mm512_setzero_ps();
            long p = 0;
            for (; p + 16 <= dim; p += 16) {
                __m512 x = _mm512_loadu_ps(qi + p);
#pragma clang loop unroll(full)
                for (int t = 0; t < 16; t++) acc[t] = _mm512_fmadd_ps(x, _mm512_loadu_ps(kb + t * ldk + p), acc[t]);
            }
            if (p < dim) {
                __mmask16 mk = (__mmask16)((1u << (dim - p)) - 1);
                __m512 x = _mm512_maskz_loadu_ps(mk, qi + p);
#pragma clang loop unroll(full)
                for (int t = 0; t < 16; t++)
                    acc[t] = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(mk, kb + t * ldk + p), acc[t]);
            }
            _mm512_storeu_ps(s + i * lds + j, ek_reduce16_avx512(acc));
        }
    }
    if (j < n) ek_smallm_t_avx512(m, n - j, dim, q, ldq, key + j * ldk, ldk, 0, s + j, lds, NULL, 0);
}

void ek_attention_head(int level, long rows, long keys, long dim, const float *q, long ldq, const float *k,
                       long ldk, const float *v, long ldv, float *out, long ldo, float scale, long causal_base) {
    if (rows <= 0 || dim <= 0) return;
    if (keys <= 0) {
        for (long r = 0; r < rows; r++) memset(out + r * ldo, 0, (size_t)dim * 4);
        return;
    }
    if (level > ek_instruction_set()) level = ek_instruction_set();
    if (rows > ATTN_QUERY_BLOCK || (rows > ATTN_SMALL_ROWS && causal_base < 0)) {
        // Many query rows without a mask (the encoder): pack this head's keys and values once and run the
        // query rows in blocks against them, instead of re-packing both for every block.
        float *kp = ek_scratch(3, (size_t)ek_packed_b_floats(level, keys, dim) * 4);
        float *vp = ek_scratch(4, (size_t)ek_packed_b_floats(level, dim, keys) * 4);
        long block = rows < ATTN_QUERY_BLOCK ? rows : ATTN_QUERY_BLOCK;
        float *s = ek_scratch(2, (size_t)block * (size_t)keys * 4);
        if (!kp || !vp || !s) abort();  // out of memory for a few MiB of scratch: no way to produce the output
        ek_pack_b_all(level, keys, dim, k, ldk, 1, kp);
        ek_pack_b_all(level, dim, keys, v, ldv, 0, vp);
        for (long q0 = 0; q0 < rows; q0 += block) {
            long r = rows - q0 < block ? rows - q0 : block;
            ek_sgemm_prepacked(level, r, keys, dim, q + q0 * ldq, ldq, kp, s, keys);
            ek_softmax_rows(level, s, r, keys, keys, scale, causal_base < 0 ? -1 : causal_base + q0);
            ek_sgemm_prepacked(level, r, dim, keys, s, keys, vp, out + q0 * ldo, ldo);
        }
        return;
    }
    float *s = ek_scratch(2, (size_t)rows * (size_t)keys * 4);
    if (!s) abort();
    if (level >= 2 && rows <= ATTN_SMALL_ROWS) qk_stream_avx512(rows, keys, dim, q, ldq, k, ldk, s, keys);
    else ek_sgemm(level, rows, keys, dim, q, ldq, k, ldk, 1, s, keys, NULL, 0);
    ek_softmax_rows(level, s, rows, keys, keys, scale, causal_base);
    ek_sgemm(level, rows, dim, keys, s, keys, v, ldv, 0, out, ldo, NULL, 0);
}
