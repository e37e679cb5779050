// AVX-512 element-wise kernels: exp/erf approximations, softmax, GELU, layer norm, add, fp16 → fp32.
#include "internal.h"
#include <immintrin.h>

// expf: Cephes `expf.c` range reduction (ln2 split 0.693359375 / -2.12194440e-4) and its degree-5
// minimax polynomial; |rel err| ≈ 2 ulp. Inputs below -87.3 (below FLT_MIN) give 0.
EK_INLINE EK_AVX512 __m512 exp512(__m512 x) {
    __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33654f), _CMP_LT_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33654f)), _mm512_set1_ps(88.72283f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    y = _mm512_scalef_ps(y, n);
    return _mm512_mask_blend_ps(tiny, y, _mm512_setzero_ps());
}

// erf: Abramowitz & Stegun 7.1.26, erf(x) = 1 − (a1·t + … + a5·t⁵)·e^(−x²), t = 1/(1 + p·|x|),
// |err| ≤ 1.5e-7 (the same formula PyTorch's vectorised CPU erf uses).
EK_INLINE EK_AVX512 __m512 erf512(__m512 x) {
    __m512 ax = _mm512_abs_ps(x);
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(ax, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    p = _mm512_mul_ps(p, t);
    __m512 e = exp512(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), ax), ax));
    __m512 r = _mm512_fnmadd_ps(p, e, _mm512_set1_ps(1.0f));
    // copy the sign of x
    __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(r), sign));
}

EK_INLINE EK_AVX512 __mmask16 tail_mask(long left) {
    return left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
}

EK_AVX512 void ek_exp_avx512(const float *x, float *y, long n) {
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, exp512(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

EK_AVX512 void ek_erf_avx512(const float *x, float *y, long n) {
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, erf512(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

EK_AVX512 void ek_gelu_avx512(float *x, long n) {
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
    const __m512 rsqrt2 = _mm512_set1_ps(0.70710678118654752f);
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __m512 g = _mm512_mul_ps(_mm512_mul_ps(half, v), _mm512_add_ps(one, erf512(_mm512_mul_ps(v, rsqrt2))));
        _mm512_mask_storeu_ps(x + i, m, g);
    }
}

EK_AVX512 void ek_softmax_avx512(float *x, long rows, long cols, long stride, float scale, long causal_base) {
    const __m512 sc = _mm512_set1_ps(scale);
    for (long r = 0; r < rows; r++) {
        float *row = x + r * stride;
        long valid = cols;
        if (causal_base >= 0 && causal_base + r + 1 < cols) valid = causal_base + r + 1;
        __m512 mx0 = _mm512_set1_ps(-__builtin_inff()), mx1 = mx0;
        long c = 0;
        for (; c + 32 <= valid; c += 32) {
            mx0 = _mm512_max_ps(mx0, _mm512_mul_ps(sc, _mm512_loadu_ps(row + c)));
            mx1 = _mm512_max_ps(mx1, _mm512_mul_ps(sc, _mm512_loadu_ps(row + c + 16)));
        }
        for (; c < valid; c += 16) {
            __mmask16 m = tail_mask(valid - c);
            mx0 = _mm512_mask_max_ps(mx0, m, mx0, _mm512_mul_ps(sc, _mm512_maskz_loadu_ps(m, row + c)));
        }
        __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(_mm512_max_ps(mx0, mx1)));
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
        for (c = 0; c + 32 <= valid; c += 32) {
            __m512 e0 = exp512(_mm512_fmsub_ps(sc, _mm512_loadu_ps(row + c), mx));
            __m512 e1 = exp512(_mm512_fmsub_ps(sc, _mm512_loadu_ps(row + c + 16), mx));
            _mm512_storeu_ps(row + c, e0);
            _mm512_storeu_ps(row + c + 16, e1);
            s0 = _mm512_add_ps(s0, e0);
            s1 = _mm512_add_ps(s1, e1);
        }
        for (; c < valid; c += 16) {
            __mmask16 m = tail_mask(valid - c);
            __m512 e = _mm512_maskz_mov_ps(m, exp512(_mm512_fmsub_ps(sc, _mm512_maskz_loadu_ps(m, row + c), mx)));
            _mm512_mask_storeu_ps(row + c, m, e);
            s0 = _mm512_add_ps(s0, e);
        }
        __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)));
        for (c = 0; c < valid; c += 16) {
            __mmask16 m = tail_mask(valid - c);
            _mm512_mask_storeu_ps(row + c, m, _mm512_mul_ps(inv, _mm512_maskz_loadu_ps(m, row + c)));
        }
        for (c = valid; c < cols; c += 16) _mm512_mask_storeu_ps(row + c, tail_mask(cols - c), _mm512_setzero_ps());
    }
}

EK_AVX512 void ek_layernorm_avx512(const float *x, long rows, long cols, const float *gamma, const float *beta,
                                   float eps, float *y) {
    for (long r = 0; r < rows; r++) {
        const float *in = x + r * cols;
        float *out = y + r * cols;
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
        long c = 0;
        for (; c + 32 <= cols; c += 32) {
            s0 = _mm512_add_ps(s0, _mm512_loadu_ps(in + c));
            s1 = _mm512_add_ps(s1, _mm512_loadu_ps(in + c + 16));
        }
        for (; c < cols; c += 16) s0 = _mm512_add_ps(s0, _mm512_maskz_loadu_ps(tail_mask(cols - c), in + c));
        float mean = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) / (float)cols;
        __m512 mv = _mm512_set1_ps(mean);
        s0 = _mm512_setzero_ps(); s1 = _mm512_setzero_ps();
        for (c = 0; c + 32 <= cols; c += 32) {
            __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(in + c), mv), d1 = _mm512_sub_ps(_mm512_loadu_ps(in + c + 16), mv);
            s0 = _mm512_fmadd_ps(d0, d0, s0);
            s1 = _mm512_fmadd_ps(d1, d1, s1);
        }
        for (; c < cols; c += 16) {
            __mmask16 m = tail_mask(cols - c);
            __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, in + c), mv);
            s0 = _mm512_fmadd_ps(d, d, s0);
        }
        float var = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) / (float)cols;
        __m512 inv = _mm512_set1_ps(1.0f / __builtin_sqrtf(var + eps));
        for (c = 0; c < cols; c += 16) {
            __mmask16 m = tail_mask(cols - c);
            __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, in + c), mv), inv);
            __m512 o = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, gamma + c), _mm512_maskz_loadu_ps(m, beta + c));
            _mm512_mask_storeu_ps(out + c, m, o);
        }
    }
}

EK_AVX512 void ek_add_avx512(const float *x, float *y, long n) {
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_maskz_loadu_ps(m, x + i)));
    }
}

EK_AVX512 void ek_half_to_float_avx512(const uint16_t *src, float *dst, long n) {
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, src + i)));
    }
}

// ---- logit rows (decoding) ----

/// First index of the largest value (NaN-free input; a row of -inf gives 0).
EK_AVX512 long ek_argmax_avx512(const float *x, long n) {
    __m512 m0 = _mm512_set1_ps(-__builtin_inff()), m1 = m0;
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + i));
        m1 = _mm512_max_ps(m1, _mm512_loadu_ps(x + i + 16));
    }
    for (; i < n; i += 16) m0 = _mm512_mask_max_ps(m0, tail_mask(n - i), m0, _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
    float mx = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
    __m512 target = _mm512_set1_ps(mx);
    for (i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __mmask16 hit = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, x + i), target, _CMP_EQ_OQ);
        if (hit) return i + __builtin_ctz(hit);
    }
    return 0;
}

/// Σ exp(x[i] − shift) accumulated in double (16 float exps per step, widened to two double vectors).
EK_AVX512 double ek_sum_exp_avx512(const float *x, long n, float shift) {
    __m512 sh = _mm512_set1_ps(shift);
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 e = _mm512_maskz_mov_ps(m, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), sh)));
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}

/// `x[i] += c`.
EK_AVX512 void ek_add_scalar_avx512(float *x, long n, float c) {
    __m512 cv = _mm512_set1_ps(c);
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, x + i), cv));
    }
}
