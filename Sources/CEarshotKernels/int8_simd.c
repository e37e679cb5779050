// int8 GEMM kernels over the packed layout `[⌈n/16⌉][⌈k/4⌉][16][4]` (16 output columns × 4 inputs = 64 bytes
// per step), plus the AVX-512/AVX2 quantizers (rules and CTranslate2 sources in int8.c).
//
// VNNI: vpdpbusd multiplies unsigned × signed bytes, so activations are offset by +128 (xor 0x80) and
// comp[j] = 128·Σ_k W[j,k] is subtracted afterwards. AVX2: maddubs(|a|, sign(w, a)) then madd(·, 1): with
// both operands in [-127, 127] a pair sums to at most 2·127·127 = 32258 < 32767, so the int16 step never saturates.
#include "internal.h"
#include <immintrin.h>

EK_INLINE EK_AVX512 __mmask16 mask16(long left) { return left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1); }

EK_INLINE EK_AVX512 float row_scale_avx512(const float *in, long k) {
    __m512 mx = _mm512_setzero_ps();
    for (long c = 0; c < k; c += 16) mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_maskz_loadu_ps(mask16(k - c), in + c)));
    float amax = _mm512_reduce_max_ps(mx);
    return amax > 0 ? 127.0f / amax : 1.0f;
}

/// Activations, CTranslate2's u8 rule: q = round_half_even(fma(x, s, 128)) − 128 (see int8.c).
EK_AVX512 void ek_quantize_rows_avx512(const float *x, long m, long k, long ldx, int8_t *q, long ldq, float *scales) {
    const __m512 shift = _mm512_set1_ps(128.0f);
    const __m512i shifti = _mm512_set1_epi32(128);
    for (long r = 0; r < m; r++) {
        const float *in = x + r * ldx;
        int8_t *out = q + r * ldq;
        float s = row_scale_avx512(in, k);
        __m512 sv = _mm512_set1_ps(s);
        long c = 0;
        for (; c < k; c += 16) {
            __mmask16 mk = mask16(k - c);
            __m512 u = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, in + c), sv, shift);
            __m512i v = _mm512_sub_epi32(_mm512_cvtps_epi32(u), shifti);
            _mm_mask_storeu_epi8(out + c, mk, _mm512_cvtsepi32_epi8(v));
        }
        for (c = k; c < ldq; c++) out[c] = 0;
        scales[r] = s;
    }
}

/// Weights, CTranslate2's s8 rule: q = round_half_even(x·s).
EK_AVX512 void ek_quantize_weight_rows_avx512(const float *x, long m, long k, long ldx, int8_t *q, long ldq,
                                              float *scales) {
    for (long r = 0; r < m; r++) {
        const float *in = x + r * ldx;
        int8_t *out = q + r * ldq;
        float s = row_scale_avx512(in, k);
        __m512 sv = _mm512_set1_ps(s);
        long c = 0;
        for (; c < k; c += 16) {
            __mmask16 mk = mask16(k - c);
            __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, in + c), sv));
            _mm_mask_storeu_epi8(out + c, mk, _mm512_cvtsepi32_epi8(v));
        }
        for (c = k; c < ldq; c++) out[c] = 0;
        scales[r] = s;
    }
}

/// AVX2 version of the activation quantizer (same rule, 8 lanes; the tail is scalar with fmaf).
EK_AVX2 void ek_quantize_rows_avx2(const float *x, long m, long k, long ldx, int8_t *q, long ldq, float *scales) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 shift = _mm256_set1_ps(128.0f);
    for (long r = 0; r < m; r++) {
        const float *in = x + r * ldx;
        int8_t *out = q + r * ldq;
        __m256 mx = _mm256_setzero_ps();
        long c = 0;
        for (; c + 8 <= k; c += 8) mx = _mm256_max_ps(mx, _mm256_and_ps(_mm256_loadu_ps(in + c), absmask));
        float lanes[8], amax = 0;
        _mm256_storeu_ps(lanes, mx);
        for (int l = 0; l < 8; l++) amax = lanes[l] > amax ? lanes[l] : amax;
        for (; c < k; c++) { float a = in[c] < 0 ? -in[c] : in[c]; amax = a > amax ? a : amax; }
        float s = amax > 0 ? 127.0f / amax : 1.0f;
        __m256 sv = _mm256_set1_ps(s);
        for (c = 0; c + 8 <= k; c += 8) {
            __m256i u = _mm256_cvtps_epi32(_mm256_fmadd_ps(_mm256_loadu_ps(in + c), sv, shift));
            int32_t t[8];
            _mm256_storeu_si256((__m256i *)t, u);
            for (int l = 0; l < 8; l++) out[c + l] = (int8_t)(t[l] - 128);
        }
        for (; c < k; c++) out[c] = (int8_t)((int)_mm_cvtss_si32(_mm_set_ss(__builtin_fmaf(in[c], s, 128.0f))) - 128);
        for (c = k; c < ldq; c++) out[c] = 0;
        scales[r] = s;
    }
}

/// Epilogue of one 16-column panel for MI rows (CTranslate2's dequantize_gemm_output_row):
/// y = ((acc − comp) · (1/ascale)) / wscale + bias, plus the old C if `accumulate`.
EK_INLINE EK_VNNI void store_panel(const int MI, const __m512i *acc, const float *ascale, const int32_t *comp,
                                   const float *wscale, const float *bias, float *c, long ldc, int accumulate,
                                   __mmask16 mk) {
    __m512i cp = _mm512_maskz_loadu_epi32(mk, comp);
    __m512 ws = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), mk, wscale);
    __m512 bv = bias ? _mm512_maskz_loadu_ps(mk, bias) : _mm512_setzero_ps();
    #pragma clang loop unroll(full)
    for (int i = 0; i < MI; i++) {
        __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i], cp));
        v = _mm512_add_ps(_mm512_div_ps(_mm512_mul_ps(v, _mm512_set1_ps(1.0f / ascale[i])), ws), bv);
        float *out = c + i * ldc;
        if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, out));
        _mm512_mask_storeu_ps(out, mk, v);
    }
}

/// MI rows × NP panels of 16 columns straight from the signed activations (xor 0x80 per broadcast):
/// MI·NP dpbusd chains. C's lines are prefetched for writing at the start: the tile's loop hides the
/// write-allocate miss (at M = 1500, N ≥ 1152 C outgrows L2, and under memory contention the 4×4 tile lost
/// 10–20 % there without it).
EK_INLINE EK_VNNI void tile_vnni(const int MI, const int NP, long groups, const int8_t *qa, long ldqa,
                                 const float *ascale, const int8_t *w, const int32_t *comp, const float *wscale,
                                 float *c, long ldc, const float *bias, int accumulate, long cols) {
    __m512i acc[8][4];
    #pragma clang loop unroll(full)
    for (int i = 0; i < MI; i++)
        #pragma clang loop unroll(full)
        for (int p = 0; p < NP; p++) {
            acc[p][i] = _mm512_setzero_si512();
            if (16 * p < cols) _mm_prefetch((const char *)(c + i * ldc + 16 * p), _MM_HINT_ET0);
        }
    const __m512i flip = _mm512_set1_epi32((int)0x80808080u);
    long pstride = groups * 64;
    for (long g = 0; g < groups; g++) {
        __m512i a[4];
        #pragma clang loop unroll(full)
        for (int i = 0; i < MI; i++)
            a[i] = _mm512_xor_si512(_mm512_set1_epi32(*(const int32_t *)(qa + i * ldqa + 4 * g)), flip);
        #pragma clang loop unroll(full)
        for (int p = 0; p < NP; p++) {
            __m512i wv = _mm512_load_si512((const void *)(w + p * pstride + g * 64));
            #pragma clang loop unroll(full)
            for (int i = 0; i < MI; i++) acc[p][i] = _mm512_dpbusd_epi32(acc[p][i], a[i], wv);
        }
    }
    #pragma clang loop unroll(full)
    for (int p = 0; p < NP; p++) {
        __mmask16 mk = mask16(cols - 16 * p);
        if (!mk) break;
        store_panel(MI, acc[p], ascale, comp + 16 * p, wscale + 16 * p, bias ? bias + 16 * p : 0, c + 16 * p, ldc,
                    accumulate, mk);
    }
}

#define TILE_ARGS groups, qa + i * ldqa, ldqa, ascale + i, w, comp + j, wscale + j, c + i * ldc + j, ldc, \
                  bias ? bias + j : 0, accumulate, n1 - j

static EK_VNNI void gemm_vnni_direct(long m, long n0, long n1, long groups, const int8_t *qa, long ldqa,
                                     const float *ascale, const int8_t *packed, const int32_t *comp,
                                     const float *wscale, float *c, long ldc, const float *bias, int accumulate) {
    long j = n0;
    if (m <= 2) {  // decoder: 8 panels (128 columns) per pass keeps 8–16 chains in flight (swift-numerics.md §3)
        for (; j + 128 <= n1; j += 128) {
            const int8_t *w = packed + (j / 16) * groups * 64;
            long i = 0;
            if (m == 1) tile_vnni(1, 8, TILE_ARGS);
            else tile_vnni(2, 8, TILE_ARGS);
        }
    }
    for (; j < n1; j += 64) {
        const int8_t *w = packed + (j / 16) * groups * 64;
        long panels = (n1 - j + 15) / 16;
        for (long i = 0; i < m; i += 4) {
            long rows = m - i < 4 ? m - i : 4;
            if (panels >= 4) {
                switch (rows) {
                case 4: tile_vnni(4, 4, TILE_ARGS); break;
                case 3: tile_vnni(3, 4, TILE_ARGS); break;
                case 2: tile_vnni(2, 4, TILE_ARGS); break;
                default: tile_vnni(1, 4, TILE_ARGS); break;
                }
            } else {
                for (long r = 0; r < rows; r++) {
                    long ii = i + r, jj = j;
                    for (long p = 0; p < panels; p++, jj += 16) {
                        tile_vnni(1, 1, groups, qa + ii * ldqa, ldqa, ascale + ii, w + p * groups * 64, comp + jj,
                                  wscale + jj, c + ii * ldc + jj, ldc, bias ? bias + jj : 0, accumulate, n1 - jj);
                    }
                }
            }
        }
    }
}

// 3 ≤ M ≤ 16 (batched decoder): the activation rows are first copied as unsigned bytes (q xor 0x80), so every
// broadcast is a plain vpbroadcastd load, and the micro-tile is up to MR = 6 rows × 4 panels (64 columns): 24
// dpbusd per 4 weight loads and 6 broadcasts, one pass over the weights for up to 6 rows. The first tile of each
// 64-column sliver prefetches the next sliver: these weights are streamed once per decoding step and come from
// DRAM, which the 4×4 tile could not hide (measured: +40–65 % there, −5–20 % if the weights are cache-hot).
// For larger M the 4×4 tile is as fast (it runs at the dpbusd peak in L1) and needs no copy.
#define I8_MR 6
#define I8_MC 96
#define I8_ROWS_MAX 16

/// Copies `rows` activation rows as unsigned bytes, 4·groups bytes per row.
EK_INLINE EK_VNNI void copy_a_u8(long rows, long groups, const int8_t *qa, long ldqa, uint8_t *ap) {
    const __m512i flip = _mm512_set1_epi32((int)0x80808080u);
    long lda = groups * 4;
    for (long r = 0; r < rows; r++) {
        const int8_t *src = qa + r * ldqa;
        uint8_t *dst = ap + r * lda;
        for (long c = 0; c < lda; c += 64) {
            __mmask64 mk = lda - c >= 64 ? ~0ull : (1ull << (lda - c)) - 1;
            _mm512_mask_storeu_epi8(dst + c, mk, _mm512_xor_si512(_mm512_maskz_loadu_epi8(mk, src + c), flip));
        }
    }
}

/// MI rows × 4 panels over unsigned activations `ap` (row stride `lda`); `off[p]` is panel p's byte offset from
/// `w` (a column tail repeats its last panel: computed, not stored). C is prefetched as in tile_vnni; with PF,
/// the next sliver's 4·groups lines from `pf` are prefetched, 4 per group.
EK_INLINE EK_VNNI void tile_u8(const int MI, const int PF, long groups, const uint8_t *ap, long lda,
                               const float *ascale, const int8_t *w, const long *off, const int32_t *comp,
                               const float *wscale, float *c, long ldc, const float *bias, int accumulate, long cols,
                               const int8_t *pf) {
    __m512i acc[4][I8_MR];
    #pragma clang loop unroll(full)
    for (int p = 0; p < 4; p++)
        #pragma clang loop unroll(full)
        for (int i = 0; i < MI; i++) {
            acc[p][i] = _mm512_setzero_si512();
            if (16 * p < cols) _mm_prefetch((const char *)(c + i * ldc + 16 * p), _MM_HINT_ET0);
        }
    const int8_t *w0 = w + off[0], *w1 = w + off[1], *w2 = w + off[2], *w3 = w + off[3];
    for (long g = 0; g < groups; g++) {
        if (PF) {
            #pragma clang loop unroll(full)
            for (int l = 0; l < 4; l++) _mm_prefetch((const char *)(pf + 256 * g + 64 * l), _MM_HINT_T0);
        }
        __m512i wv[4] = {_mm512_load_si512((const void *)(w0 + 64 * g)),
                         _mm512_load_si512((const void *)(w1 + 64 * g)),
                         _mm512_load_si512((const void *)(w2 + 64 * g)),
                         _mm512_load_si512((const void *)(w3 + 64 * g))};
        #pragma clang loop unroll(full)
        for (int i = 0; i < MI; i++) {
            __m512i a = _mm512_set1_epi32(*(const int32_t *)(ap + i * lda + 4 * g));
            #pragma clang loop unroll(full)
            for (int p = 0; p < 4; p++) acc[p][i] = _mm512_dpbusd_epi32(acc[p][i], a, wv[p]);
        }
    }
    #pragma clang loop unroll(full)
    for (int p = 0; p < 4; p++) {
        __mmask16 mk = mask16(cols - 16 * p);
        if (!mk) break;
        store_panel(MI, acc[p], ascale, comp + 16 * p, wscale + 16 * p, bias ? bias + 16 * p : 0, c + 16 * p, ldc,
                    accumulate, mk);
    }
}

static EK_VNNI void gemm_vnni_rows(long m, long n0, long n1, long groups, const int8_t *qa, long ldqa,
                                   const float *ascale, const int8_t *packed, const int32_t *comp,
                                   const float *wscale, float *c, long ldc, const float *bias, int accumulate,
                                   uint8_t *ap) {
    long lda = groups * 4, pstride = groups * 64;
    for (long i0 = 0; i0 < m; i0 += I8_MC) {
        long mc = m - i0 < I8_MC ? m - i0 : I8_MC;
        copy_a_u8(mc, groups, qa + i0 * ldqa, ldqa, ap);
        for (long j = n0; j < n1; j += 64) {
            const int8_t *w = packed + (j / 16) * pstride;
            long cols = n1 - j, np = cols >= 64 ? 4 : (cols + 15) / 16, off[4];
            for (int p = 0; p < 4; p++) off[p] = (p < np ? p : np - 1) * pstride;
            const float *bj = bias ? bias + j : 0;
            const int8_t *pf = cols > 64 ? w + 4 * pstride : 0;
            for (long t = 0; t < mc; t += I8_MR) {
                long i = i0 + t;
#define TILE_U8(MI)                                                                                              \
    if (t == 0 && pf)                                                                                            \
        tile_u8(MI, 1, groups, ap + t * lda, lda, ascale + i, w, off, comp + j, wscale + j, c + i * ldc + j, ldc, \
                bj, accumulate, cols, pf);                                                                       \
    else                                                                                                         \
        tile_u8(MI, 0, groups, ap + t * lda, lda, ascale + i, w, off, comp + j, wscale + j, c + i * ldc + j, ldc, \
                bj, accumulate, cols, 0)
                switch (mc - t) {
                case 1: TILE_U8(1); break;
                case 2: TILE_U8(2); break;
                case 3: TILE_U8(3); break;
                case 4: TILE_U8(4); break;
                case 5: TILE_U8(5); break;
                default: TILE_U8(6); break;
                }
#undef TILE_U8
            }
        }
    }
}

EK_VNNI void ek_gemm_i8_vnni(long m, long n0, long n1, long k, const int8_t *qa, long ldqa, const float *ascale,
                             const int8_t *packed, const int32_t *comp, const float *wscale, float *c, long ldc,
                             const float *bias, int accumulate) {
    long groups = (k + 3) / 4;
    long rows = m < I8_MC ? m : I8_MC;
    uint8_t *ap = m >= 3 && m <= I8_ROWS_MAX ? ek_scratch(5, (size_t)rows * (size_t)groups * 4) : 0;
    if (ap) gemm_vnni_rows(m, n0, n1, groups, qa, ldqa, ascale, packed, comp, wscale, c, ldc, bias, accumulate, ap);
    else gemm_vnni_direct(m, n0, n1, groups, qa, ldqa, ascale, packed, comp, wscale, c, ldc, bias, accumulate);
}

/// AVX2: MI rows × NP panels, each panel two ymm (columns 0–7 and 8–15).
EK_INLINE EK_AVX2 void tile_avx2(const int MI, const int NP, long groups, const int8_t *qa, long ldqa,
                                 const float *ascale, const int8_t *w, const float *wscale, float *c, long ldc,
                                 const float *bias, int accumulate, long cols) {
    __m256i acc[2][8];
    #pragma clang loop unroll(full)
    for (int i = 0; i < MI; i++)
        #pragma clang loop unroll(full)
        for (int p = 0; p < 2 * NP; p++) {
            acc[i][p] = _mm256_setzero_si256();
            if (p % 2 == 0 && 8 * p < cols) _mm_prefetch((const char *)(c + i * ldc + 8 * p), _MM_HINT_T0);
        }
    const __m256i ones = _mm256_set1_epi16(1);
    long pstride = groups * 64;
    for (long g = 0; g < groups; g++) {
        __m256i a[2], aa[2];
        #pragma clang loop unroll(full)
        for (int i = 0; i < MI; i++) {
            a[i] = _mm256_set1_epi32(*(const int32_t *)(qa + i * ldqa + 4 * g));
            aa[i] = _mm256_abs_epi8(a[i]);
        }
        #pragma clang loop unroll(full)
        for (int h = 0; h < 2 * NP; h++) {
            __m256i wv = _mm256_load_si256((const __m256i *)(w + (h / 2) * pstride + g * 64 + (h % 2) * 32));
            #pragma clang loop unroll(full)
            for (int i = 0; i < MI; i++) {
                __m256i prod = _mm256_maddubs_epi16(aa[i], _mm256_sign_epi8(wv, a[i]));
                acc[i][h] = _mm256_add_epi32(acc[i][h], _mm256_madd_epi16(prod, ones));
            }
        }
    }
    #pragma clang loop unroll(full)
    for (int i = 0; i < MI; i++) {
        #pragma clang loop unroll(full)
        for (int h = 0; h < 2 * NP; h++) {
            if (h * 8 + 8 <= cols) {  // the scalar steps below, 8 lanes at once
                __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[i][h]), _mm256_set1_ps(1.0f / ascale[i]));
                v = _mm256_div_ps(v, _mm256_loadu_ps(wscale + h * 8));
                if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + h * 8));
                float *out = c + i * ldc + h * 8;
                if (accumulate) v = _mm256_add_ps(_mm256_loadu_ps(out), v);
                _mm256_storeu_ps(out, v);
                continue;
            }
            int32_t t[8];
            _mm256_storeu_si256((__m256i *)t, acc[i][h]);
            for (int l = 0; l < 8; l++) {
                long j = h * 8 + l;
                if (j >= cols) break;
                float v = (float)t[l] * (1.0f / ascale[i]);
                v = v / wscale[j];
                if (bias) v += bias[j];
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + v : v;
            }
        }
    }
}

EK_AVX2 void ek_gemm_i8_avx2(long m, long n0, long n1, long k, const int8_t *qa, long ldqa, const float *ascale,
                             const int8_t *packed, const float *wscale, float *c, long ldc, const float *bias,
                             int accumulate) {
    long groups = (k + 3) / 4;
    for (long j = n0; j < n1; j += 32) {
        const int8_t *w = packed + (j / 16) * groups * 64;
        long cols = n1 - j;
        long i = 0;
        if (cols > 16) {
            for (; i + 2 <= m; i += 2)
                tile_avx2(2, 2, groups, qa + i * ldqa, ldqa, ascale + i, w, wscale + j, c + i * ldc + j, ldc,
                          bias ? bias + j : 0, accumulate, cols);
            if (i < m)
                tile_avx2(1, 2, groups, qa + i * ldqa, ldqa, ascale + i, w, wscale + j, c + i * ldc + j, ldc,
                          bias ? bias + j : 0, accumulate, cols);
        } else {
            for (; i < m; i++)
                tile_avx2(1, 1, groups, qa + i * ldqa, ldqa, ascale + i, w, wscale + j, c + i * ldc + j, ldc,
                          bias ? bias + j : 0, accumulate, cols);
        }
    }
}
