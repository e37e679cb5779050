// AVX2+FMA SGEMM pieces: the 6×16 micro-kernel (12 ymm accumulators, the AVX2 tile of swift-numerics.md
// §2.2), fp16 B packing with F16C, and the small-M kernels.
#include "internal.h"
#include <immintrin.h>
#include <string.h>

#define MR 6
#define NR 16

/// 6×16 micro-kernel: per k two B vectors and 6 broadcasts feed 12 FMAs (12 + 3 of 16 ymm).
EK_AVX2 void ek_ukernel_avx2(long kc, const float *ap, const float *bp, float *c, long ldc, int mr, int nr,
                             int load_c, const float *bias) {
    __m256 c0[MR], c1[MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) { c0[i] = _mm256_setzero_ps(); c1[i] = _mm256_setzero_ps(); }
    for (long p = 0; p < kc; p++, ap += MR, bp += NR) {
        __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++) {
            __m256 av = _mm256_broadcast_ss(ap + i);
            c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
        }
    }
    if (mr == MR && nr == NR) {
        __m256 bias0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
        __m256 bias1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++) {
            float *row = c + i * ldc;
            __m256 v0 = _mm256_add_ps(c0[i], bias0), v1 = _mm256_add_ps(c1[i], bias1);
            if (load_c) { v0 = _mm256_add_ps(v0, _mm256_loadu_ps(row)); v1 = _mm256_add_ps(v1, _mm256_loadu_ps(row + 8)); }
            _mm256_storeu_ps(row, v0);
            _mm256_storeu_ps(row + 8, v1);
        }
        return;
    }
    float tile[MR][NR];
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) { _mm256_storeu_ps(tile[i], c0[i]); _mm256_storeu_ps(tile[i] + 8, c1[i]); }
    for (int i = 0; i < mr; i++) {
        float *row = c + i * ldc;
        for (int j = 0; j < nr; j++) {
            float v = tile[i][j] + (bias ? bias[j] : 0);
            row[j] = load_c ? row[j] + v : v;
        }
    }
}

/// Packs fp16 B stored `[n][k]` into fp32 `[⌈nc/nr⌉][kc][nr]` slivers (vcvtph2ps, 8 halves at a time).
EK_AVX2 void ek_pack_b_f16_f16c(const uint16_t *b, long ldb, long kc, long nc, int nr, float *bp) {
    for (long j0 = 0; j0 < nc; j0 += nr, bp += kc * nr) {
        int cols = (int)(nc - j0 < nr ? nc - j0 : nr);
        for (int j = 0; j < cols; j++) {
            const uint16_t *src = b + (j0 + j) * ldb;
            long p = 0;
            for (; p + 8 <= kc; p += 8) {
                float t[8];
                _mm256_storeu_ps(t, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + p))));
                for (int q = 0; q < 8; q++) bp[(p + q) * nr + j] = t[q];
            }
            for (; p < kc; p++) bp[p * nr + j] = _cvtsh_ss(src[p]);
        }
        for (int j = cols; j < nr; j++) {
            for (long p = 0; p < kc; p++) bp[p * nr + j] = 0;
        }
    }
}

// ---- small M, B = weight rows [n][k] ----

EK_INLINE EK_AVX2 __m256 load_w(const void *w, long idx, int f16) {
    if (f16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + idx)));
    return _mm256_loadu_ps((const float *)w + idx);
}

/// Loads the `count` (< 8) trailing elements zero-padded.
EK_INLINE EK_AVX2 __m256 load_tail_f(const float *x, long count) {
    float t[8] = {0};
    memcpy(t, x, (size_t)count * 4);
    return _mm256_loadu_ps(t);
}

EK_INLINE EK_AVX2 __m256 load_w_tail(const void *w, long idx, long count, int f16) {
    if (!f16) return load_tail_f((const float *)w + idx, count);
    uint16_t t[8] = {0};
    memcpy(t, (const uint16_t *)w + idx, (size_t)count * 2);
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)t));
}

EK_INLINE EK_AVX2 float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// MI activation rows × NJ weight rows, MI·NJ FMA chains (≤ 8 accumulators of 16 ymm).
EK_INLINE EK_AVX2 void tile_t(const int MI, const int NJ, const int f16, long k, const float *a, long lda,
                              const void *w, long ldw, float *c, long ldc, const float *bias, int acc) {
    __m256 s[2][8];
    #pragma clang loop unroll(full)
    for (int i = 0; i < MI; i++)
        #pragma clang loop unroll(full)
        for (int j = 0; j < NJ; j++) s[i][j] = _mm256_setzero_ps();
    long p = 0;
    for (; p + 8 <= k; p += 8) {
        __m256 x[2];
        #pragma clang loop unroll(full)
        for (int i = 0; i < MI; i++) x[i] = _mm256_loadu_ps(a + i * lda + p);
        #pragma clang loop unroll(full)
        for (int j = 0; j < NJ; j++) {
            __m256 wv = load_w(w, j * ldw + p, f16);
            #pragma clang loop unroll(full)
            for (int i = 0; i < MI; i++) s[i][j] = _mm256_fmadd_ps(x[i], wv, s[i][j]);
        }
    }
    if (p < k) {
        __m256 x[2];
        #pragma clang loop unroll(full)
        for (int i = 0; i < MI; i++) x[i] = load_tail_f(a + i * lda + p, k - p);
        #pragma clang loop unroll(full)
        for (int j = 0; j < NJ; j++) {
            __m256 wv = load_w_tail(w, j * ldw + p, k - p, f16);
            #pragma clang loop unroll(full)
            for (int i = 0; i < MI; i++) s[i][j] = _mm256_fmadd_ps(x[i], wv, s[i][j]);
        }
    }
    #pragma clang loop unroll(full)
    for (int i = 0; i < MI; i++) {
        #pragma clang loop unroll(full)
        for (int j = 0; j < NJ; j++) {
            float v = hsum(s[i][j]);
            if (bias) v += bias[j];
            c[i * ldc + j] = acc ? c[i * ldc + j] + v : v;
        }
    }
}

EK_INLINE EK_AVX2 void smallm_t(const int f16, long m, long n, long k, const float *a, long lda, const void *w,
                                long ldw, float *c, long ldc, const float *bias, int acc) {
    const size_t es = f16 ? 2 : 4;
    long j = 0;
    if (m == 1) {
        for (; j + 8 <= n; j += 8)
            tile_t(1, 8, f16, k, a, lda, (const char *)w + j * ldw * es, ldw, c + j, ldc, bias ? bias + j : 0, acc);
    }
    for (; j + 4 <= n; j += 4) {
        const void *wj = (const char *)w + j * ldw * es;
        long i = 0;
        for (; i + 2 <= m; i += 2)
            tile_t(2, 4, f16, k, a + i * lda, lda, wj, ldw, c + i * ldc + j, ldc, bias ? bias + j : 0, acc);
        if (i < m) tile_t(1, 4, f16, k, a + i * lda, lda, wj, ldw, c + i * ldc + j, ldc, bias ? bias + j : 0, acc);
    }
    for (; j < n; j++) {
        const void *wj = (const char *)w + j * ldw * es;
        for (long i = 0; i < m; i++)
            tile_t(1, 1, f16, k, a + i * lda, lda, wj, ldw, c + i * ldc + j, ldc, bias ? bias + j : 0, acc);
    }
}

EK_AVX2 void ek_smallm_t_avx2(long m, long n, long k, const float *a, long lda, const void *w, long ldw, int f16,
                              float *c, long ldc, const float *bias, int acc) {
    if (f16) smallm_t(1, m, n, k, a, lda, w, ldw, c, ldc, bias, acc);
    else smallm_t(0, m, n, k, a, lda, w, ldw, c, ldc, bias, acc);
}

// ---- small M, B = [k][n] ----

/// For each block of 32 output columns and each activation row: two k streams × 4 vectors = 8 chains.
EK_AVX2 void ek_smallm_n_avx2(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                              float *c, long ldc, const float *bias, int acc) {
    static const int32_t ramp[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    __m256i lanes = _mm256_loadu_si256((const __m256i *)ramp);
    for (long j = 0; j < n; j += 32) {
        __m256i mk[4];
        #pragma clang loop unroll(full)
        for (int v = 0; v < 4; v++) {
            long left = n - j - 8 * v;
            int cnt = left >= 8 ? 8 : left <= 0 ? 0 : (int)left;
            mk[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(cnt), lanes);
        }
        for (long i = 0; i < m; i++) {
            const float *x = a + i * lda;
            __m256 s0[4], s1[4];
            #pragma clang loop unroll(full)
            for (int v = 0; v < 4; v++) { s0[v] = _mm256_setzero_ps(); s1[v] = _mm256_setzero_ps(); }
            long p = 0;
            for (; p + 2 <= k; p += 2) {
                const float *r0 = b + p * ldb + j, *r1 = r0 + ldb;
                __m256 x0 = _mm256_set1_ps(x[p]), x1 = _mm256_set1_ps(x[p + 1]);
                #pragma clang loop unroll(full)
                for (int v = 0; v < 4; v++) {
                    s0[v] = _mm256_fmadd_ps(x0, _mm256_maskload_ps(r0 + 8 * v, mk[v]), s0[v]);
                    s1[v] = _mm256_fmadd_ps(x1, _mm256_maskload_ps(r1 + 8 * v, mk[v]), s1[v]);
                }
            }
            if (p < k) {
                const float *r0 = b + p * ldb + j;
                __m256 x0 = _mm256_set1_ps(x[p]);
                #pragma clang loop unroll(full)
                for (int v = 0; v < 4; v++) s0[v] = _mm256_fmadd_ps(x0, _mm256_maskload_ps(r0 + 8 * v, mk[v]), s0[v]);
            }
            float *out = c + i * ldc + j;
            #pragma clang loop unroll(full)
            for (int v = 0; v < 4; v++) {
                if (n - j - 8 * v <= 0) break;
                __m256 r = _mm256_add_ps(s0[v], s1[v]);
                if (bias) r = _mm256_add_ps(r, _mm256_maskload_ps(bias + j + 8 * v, mk[v]));
                if (acc) r = _mm256_add_ps(r, _mm256_maskload_ps(out + 8 * v, mk[v]));
                _mm256_maskstore_ps(out + 8 * v, mk[v], r);
            }
        }
    }
}
