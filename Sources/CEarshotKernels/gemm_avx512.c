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

/// In-register transpose of a 16×16 block: on return `r[q]` lane i holds the old `r[i]` lane q.
/// Interleave row pairs (32-bit), then 64-bit pairs — `u[4g + c]` then holds, in 128-bit lane L, rows
/// 4g..4g+3 of column 4L + c — then two rounds of 128-bit lane shuffles gather lane L of the four row groups.
EK_INLINE EK_AVX512 void transpose16(__m512 *r) {
    __m512 t[16], u[16];
#pragma clang loop unroll(full)
    for (int k = 0; k < 8; k++) {
        t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
#pragma clang loop unroll(full)
    for (int g = 0; g < 4; g++) {
        __m512d t0 = _mm512_castps_pd(t[4 * g]), t1 = _mm512_castps_pd(t[4 * g + 1]);
        __m512d t2 = _mm512_castps_pd(t[4 * g + 2]), t3 = _mm512_castps_pd(t[4 * g + 3]);
        u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
#pragma clang loop unroll(full)
    for (int c = 0; c < 4; c++) {
        __m512 v = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), w = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);
        __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88), w2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
        r[c] = _mm512_shuffle_f32x4(v, v2, 0x88);
        r[8 + c] = _mm512_shuffle_f32x4(v, v2, 0xDD);
        r[4 + c] = _mm512_shuffle_f32x4(w, w2, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(w, w2, 0xDD);
    }
}

/// Packs B stored `[n][k]` into `[⌈nc/nr⌉][kc][nr]` slivers (nr a multiple of 16): per 16 rows × 16 k
/// values, 16 (masked) row loads, one in-register transpose and 16 aligned stores (gathers were ~2× slower).
EK_AVX512 void ek_pack_b_trans_avx512(const float *b, long ldb, long kc, long nc, int nr, float *bp) {
    for (long j0 = 0; j0 < nc; j0 += nr, bp += kc * nr) {
        for (int h = 0; h < nr; h += 16) {
            long left = nc - j0 - h;
            int rows = left >= 16 ? 16 : left <= 0 ? 0 : (int)left;
            const float *src = b + (j0 + h) * ldb;
            if (rows == 0) {
                for (long p = 0; p < kc; p++) _mm512_store_ps(bp + p * nr + h, _mm512_setzero_ps());
                continue;
            }
            for (long p = 0; p < kc; p += 16) {
                int width = kc - p >= 16 ? 16 : (int)(kc - p);
                __mmask16 km = width == 16 ? 0xffff : (__mmask16)((1u << width) - 1);
                __m512 r[16];
#pragma clang loop unroll(full)
                for (int i = 0; i < 16; i++)
                    r[i] = i < rows ? _mm512_maskz_loadu_ps(km, src + i * ldb + p) : _mm512_setzero_ps();
                transpose16(r);
#pragma clang loop unroll(full)
                for (int q = 0; q < 16; q++)
                    if (q < width) _mm512_store_ps(bp + (p + q) * nr + h, r[q]);
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

// ---- A packing ----

/// Packs `mc` rows × `kc` columns of A into 12-row slivers `[⌈mc/12⌉][kc][12]` (zero-padded rows): per 16
/// columns, 12 row loads, an in-register 16×16 transpose (rows 12–15 zero) and 16 masked 12-lane stores,
/// instead of 192 scalar strided stores (attention's PV product packs 256×1500 scores per block).
EK_AVX512 void ek_pack_a_avx512(const float *a, long lda, long mc, long kc, float *ap) {
    for (long i0 = 0; i0 < mc; i0 += MR, ap += kc * MR) {
        int rows = (int)(mc - i0 < MR ? mc - i0 : MR);
        const float *src = a + i0 * lda;
        long p = 0;
        for (; p + 16 <= kc; p += 16) {
            __m512 r[16], t[16], u[16];
#pragma clang loop unroll(full)
            for (int i = 0; i < 12; i++) r[i] = i < rows ? _mm512_loadu_ps(src + i * lda + p) : _mm512_setzero_ps();
            // Stage 1: interleave row pairs; stage 2: 64-bit interleave. Afterwards u[4g + c] holds, in
            // 128-bit lane L, rows 4g..4g+3 of column 4L + c.
#pragma clang loop unroll(full)
            for (int g = 0; g < 3; g++) {
#pragma clang loop unroll(full)
                for (int h = 0; h < 2; h++) {
                    t[4 * g + 2 * h] = _mm512_unpacklo_ps(r[4 * g + 2 * h], r[4 * g + 2 * h + 1]);
                    t[4 * g + 2 * h + 1] = _mm512_unpackhi_ps(r[4 * g + 2 * h], r[4 * g + 2 * h + 1]);
                }
                __m512d t0 = _mm512_castps_pd(t[4 * g]), t1 = _mm512_castps_pd(t[4 * g + 1]);
                __m512d t2 = _mm512_castps_pd(t[4 * g + 2]), t3 = _mm512_castps_pd(t[4 * g + 3]);
                u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
                u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
                u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
                u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
            }
#pragma clang loop unroll(full)
            for (int c = 0; c < 4; c++) {
                // Stages 3–4: gather lane L of the row groups into the vector of column 4L + c.
                __m512 v = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), w = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);
                __m512 z = _mm512_setzero_ps();
                __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], z, 0x88), w2 = _mm512_shuffle_f32x4(u[8 + c], z, 0xDD);
                _mm512_mask_storeu_ps(ap + (p + c) * MR, 0x0fff, _mm512_shuffle_f32x4(v, v2, 0x88));
                _mm512_mask_storeu_ps(ap + (p + 8 + c) * MR, 0x0fff, _mm512_shuffle_f32x4(v, v2, 0xDD));
                _mm512_mask_storeu_ps(ap + (p + 4 + c) * MR, 0x0fff, _mm512_shuffle_f32x4(w, w2, 0x88));
                _mm512_mask_storeu_ps(ap + (p + 12 + c) * MR, 0x0fff, _mm512_shuffle_f32x4(w, w2, 0xDD));
            }
        }
        for (; p < kc; p++) {
            for (int i = 0; i < rows; i++) ap[p * MR + i] = src[i * lda + p];
            for (int i = rows; i < MR; i++) ap[p * MR + i] = 0;
        }
    }
}
