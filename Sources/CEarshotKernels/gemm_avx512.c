// AVX-512 SGEMM pieces: the 12×32 micro-kernel (24 zmm accumulators), B packing with gathers, and the
// small-M kernels that stream weight rows without packing.
#include "internal.h"
#include <immintrin.h>

#define MR 12
#define NR 32

/// 12×32 micro-kernel: per k, two B vectors and 12 broadcasts feed 24 FMAs (no spills: 24 + 3 of 32 zmm).
EK_AVX512 void ek_ukernel_avx512(long kc, const float *ap, const float *bp, float *c, long ldc, int mr, int nr,
                                 int load_c, const float *bias) {
    __m512 c0[MR], c1[MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) { c0[i] = _mm512_setzero_ps(); c1[i] = _mm512_setzero_ps(); }
    for (int i = 0; i < MR && i < mr; i++) {  // the C tile is needed at the end: start fetching it now
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }
#pragma clang loop unroll_count(4)
    for (long p = 0; p < kc; p++, ap += MR, bp += NR) {
        __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++) {
            __m512 av = _mm512_set1_ps(ap[i]);
            c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
        }
    }
    __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    __m512 bias0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
    __m512 bias1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) {
        if (i < mr) {
        float *row = c + i * ldc;
        __m512 v0 = _mm512_add_ps(c0[i], bias0), v1 = _mm512_add_ps(c1[i], bias1);
        if (load_c) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, row));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, row + 16));
        }
        _mm512_mask_storeu_ps(row, m0, v0);
        _mm512_mask_storeu_ps(row + 16, m1, v1);
        }
    }
}

/// Packs B stored `[n][k]` into `[⌈nc/nr⌉][kc][nr]` slivers; one gather per 16 columns of a k step.
EK_AVX512 void ek_pack_b_trans_avx512(const float *b, long ldb, long kc, long nc, int nr, float *bp) {
    __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i index = _mm512_mullo_epi32(lanes, _mm512_set1_epi32((int)ldb));
    for (long j0 = 0; j0 < nc; j0 += nr, bp += kc * nr) {
        for (int h = 0; h < nr; h += 16) {
            long cols = nc - j0 - h;
            __mmask16 mask = cols >= 16 ? 0xffff : cols <= 0 ? 0 : (__mmask16)((1u << cols) - 1);
            const float *src = b + (j0 + h) * ldb;
            if (mask == 0) {
                for (long p = 0; p < kc; p++) _mm512_store_ps(bp + p * nr + h, _mm512_setzero_ps());
                continue;
            }
            for (long p = 0; p < kc; p++) {
                __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, index, src + p, 4);
                _mm512_store_ps(bp + p * nr + h, v);
            }
        }
    }
}

// ---- small M, B = weight rows [n][k] (fp32 or fp16) ----

EK_INLINE EK_AVX512 __m512 load_w(const void *w, long idx, int f16) {
    if (f16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)w + idx)));
    return _mm512_loadu_ps((const float *)w + idx);
}

EK_INLINE EK_AVX512 __m512 load_w_mask(const void *w, long idx, __mmask16 m, int f16) {
    if (f16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)w + idx));
    return _mm512_maskz_loadu_ps(m, (const float *)w + idx);
}

/// MI activation rows × NJ weight rows: MI·NJ independent FMA chains over k, reduced once at the end.
EK_INLINE EK_AVX512 void tile_t(const int MI, const int NJ, const int f16, long k, const float *a, long lda,
                                const void *w, long ldw, float *c, long ldc, const float *bias, int acc) {
    __m512 s[4][8];
    #pragma clang loop unroll(full)
    for (int i = 0; i < MI; i++)
        #pragma clang loop unroll(full)
        for (int j = 0; j < NJ; j++) s[i][j] = _mm512_setzero_ps();
    long p = 0;
    for (; p + 16 <= k; p += 16) {
        __m512 x[4];
        #pragma clang loop unroll(full)
        for (int i = 0; i < MI; i++) x[i] = _mm512_loadu_ps(a + i * lda + p);
        #pragma clang loop unroll(full)
        for (int j = 0; j < NJ; j++) {
            __m512 wv = load_w(w, j * ldw + p, f16);
            #pragma clang loop unroll(full)
            for (int i = 0; i < MI; i++) s[i][j] = _mm512_fmadd_ps(x[i], wv, s[i][j]);
        }
    }
    if (p < k) {
        __mmask16 m = (__mmask16)((1u << (k - p)) - 1);
        __m512 x[4];
        #pragma clang loop unroll(full)
        for (int i = 0; i < MI; i++) x[i] = _mm512_maskz_loadu_ps(m, a + i * lda + p);
        #pragma clang loop unroll(full)
        for (int j = 0; j < NJ; j++) {
            __m512 wv = load_w_mask(w, j * ldw + p, m, f16);
            #pragma clang loop unroll(full)
            for (int i = 0; i < MI; i++) s[i][j] = _mm512_fmadd_ps(x[i], wv, s[i][j]);
        }
    }
    #pragma clang loop unroll(full)
    for (int i = 0; i < MI; i++) {
        #pragma clang loop unroll(full)
        for (int j = 0; j < NJ; j++) {
            float v = _mm512_reduce_add_ps(s[i][j]);
            if (bias) v += bias[j];
            c[i * ldc + j] = acc ? c[i * ldc + j] + v : v;
        }
    }
}

EK_INLINE EK_AVX512 void rows_t(const int NJ, const int f16, long m, long k, const float *a, long lda,
                                const void *w, long ldw, float *c, long ldc, const float *bias, int acc) {
    for (long i = 0; i < m; i += 4) {
        const float *ai = a + i * lda;
        float *ci = c + i * ldc;
        switch (m - i >= 4 ? 4 : m - i) {
        case 4: tile_t(4, NJ, f16, k, ai, lda, w, ldw, ci, ldc, bias, acc); break;
        case 3: tile_t(3, NJ, f16, k, ai, lda, w, ldw, ci, ldc, bias, acc); break;
        case 2: tile_t(2, NJ, f16, k, ai, lda, w, ldw, ci, ldc, bias, acc); break;
        default: tile_t(1, NJ, f16, k, ai, lda, w, ldw, ci, ldc, bias, acc); break;
        }
    }
}

EK_INLINE EK_AVX512 void smallm_t(const int f16, long m, long n, long k, const float *a, long lda, const void *w,
                                  long ldw, float *c, long ldc, const float *bias, int acc) {
    const size_t es = f16 ? 2 : 4;
    long j = 0;
    // One or two activation rows: 8 weight rows per pass keeps 8–16 chains in flight (§3: 2 chains were
    // latency bound at half speed).
    if (m <= 2) {
        for (; j + 8 <= n; j += 8) {
            const void *wj = (const char *)w + j * ldw * es;
            if (m == 1) tile_t(1, 8, f16, k, a, lda, wj, ldw, c + j, ldc, bias ? bias + j : 0, acc);
            else tile_t(2, 8, f16, k, a, lda, wj, ldw, c + j, ldc, bias ? bias + j : 0, acc);
        }
    }
    for (; j + 4 <= n; j += 4)
        rows_t(4, f16, m, k, a, lda, (const char *)w + j * ldw * es, ldw, c + j, ldc, bias ? bias + j : 0, acc);
    for (; j < n; j++)
        rows_t(1, f16, m, k, a, lda, (const char *)w + j * ldw * es, ldw, c + j, ldc, bias ? bias + j : 0, acc);
}

EK_AVX512 void ek_smallm_t_avx512(long m, long n, long k, const float *a, long lda, const void *w, long ldw,
                                  int f16, float *c, long ldc, const float *bias, int acc) {
    if (f16) smallm_t(1, m, n, k, a, lda, w, ldw, c, ldc, bias, acc);
    else smallm_t(0, m, n, k, a, lda, w, ldw, c, ldc, bias, acc);
}

// ---- small M, B = [k][n] ----

/// For each block of 64 output columns and each activation row: two k streams × 4 vectors = 8 chains.
EK_AVX512 void ek_smallm_n_avx512(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                                  float *c, long ldc, const float *bias, int acc) {
    for (long j = 0; j < n; j += 64) {
        __mmask16 mk[4];
        #pragma clang loop unroll(full)
        for (int v = 0; v < 4; v++) {
            long left = n - j - 16 * v;
            mk[v] = left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
        }
        for (long i = 0; i < m; i++) {
            const float *x = a + i * lda;
            __m512 s0[4], s1[4];
            #pragma clang loop unroll(full)
            for (int v = 0; v < 4; v++) { s0[v] = _mm512_setzero_ps(); s1[v] = _mm512_setzero_ps(); }
            long p = 0;
            for (; p + 2 <= k; p += 2) {
                const float *r0 = b + p * ldb + j, *r1 = r0 + ldb;
                // Rows of B can be kilobytes apart (attention values): prefetch 16 rows ahead.
                if (p + 18 <= k) {
                    #pragma clang loop unroll(full)
                    for (int v = 0; v < 4; v++) {
                        if (mk[v]) {
                            _mm_prefetch((const char *)(r0 + 16 * ldb + 16 * v), _MM_HINT_T0);
                            _mm_prefetch((const char *)(r1 + 16 * ldb + 16 * v), _MM_HINT_T0);
                        }
                    }
                }
                __m512 x0 = _mm512_set1_ps(x[p]), x1 = _mm512_set1_ps(x[p + 1]);
                #pragma clang loop unroll(full)
                for (int v = 0; v < 4; v++) {
                    s0[v] = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(mk[v], r0 + 16 * v), s0[v]);
                    s1[v] = _mm512_fmadd_ps(x1, _mm512_maskz_loadu_ps(mk[v], r1 + 16 * v), s1[v]);
                }
            }
            if (p < k) {
                const float *r0 = b + p * ldb + j;
                __m512 x0 = _mm512_set1_ps(x[p]);
                #pragma clang loop unroll(full)
                for (int v = 0; v < 4; v++)
                    s0[v] = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(mk[v], r0 + 16 * v), s0[v]);
            }
            float *out = c + i * ldc + j;
            #pragma clang loop unroll(full)
            for (int v = 0; v < 4; v++) {
                if (!mk[v]) break;
                __m512 r = _mm512_add_ps(s0[v], s1[v]);
                if (bias) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mk[v], bias + j + 16 * v));
                if (acc) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mk[v], out + 16 * v));
                _mm512_mask_storeu_ps(out + 16 * v, mk[v], r);
            }
        }
    }
}
