// AVX2+FMA element-wise kernels (same algorithms as vecmath_avx512.c; tails go through a scalar-padded
// buffer instead of masks).
#include "internal.h"
#include <immintrin.h>
#include <string.h>

// Cephes expf (see vecmath_avx512.c). 2ⁿ is built in the exponent bits, so the input is clamped to
// [-87.33654, 88] (n ≤ 127); below -87.33654 the result is 0.
EK_INLINE EK_AVX2 __m256 exp256(__m256 x) {
    __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33654f), _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33654f)), _mm256_set1_ps(88.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(tiny, y);
}

// Abramowitz & Stegun 7.1.26 (see vecmath_avx512.c).
EK_INLINE EK_AVX2 __m256 erf256(__m256 x) {
    __m256 signbit = _mm256_set1_ps(-0.0f);
    __m256 ax = _mm256_andnot_ps(signbit, x);
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(ax, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    p = _mm256_mul_ps(p, t);
    __m256 e = exp256(_mm256_mul_ps(_mm256_xor_ps(ax, signbit), ax));
    __m256 r = _mm256_fnmadd_ps(p, e, _mm256_set1_ps(1.0f));
    return _mm256_or_ps(r, _mm256_and_ps(signbit, x));
}

EK_INLINE EK_AVX2 __m256 load_tail(const float *x, long count) {
    float t[8] = {0};
    memcpy(t, x, (size_t)count * 4);
    return _mm256_loadu_ps(t);
}

EK_INLINE EK_AVX2 void store_tail(float *y, __m256 v, long count) {
    float t[8];
    _mm256_storeu_ps(t, v);
    memcpy(y, t, (size_t)count * 4);
}

EK_INLINE EK_AVX2 float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

EK_INLINE EK_AVX2 float hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define MAP_TAIL(expr_of_v)                                                                 \
    long i = 0;                                                                             \
    for (; i + 8 <= n; i += 8) { __m256 v = _mm256_loadu_ps(x + i); _mm256_storeu_ps(y + i, expr_of_v); } \
    if (i < n) { __m256 v = load_tail(x + i, n - i); store_tail(y + i, expr_of_v, n - i); }

EK_AVX2 void ek_exp_avx2(const float *x, float *y, long n) { MAP_TAIL(exp256(v)) }

EK_AVX2 void ek_erf_avx2(const float *x, float *y, long n) { MAP_TAIL(erf256(v)) }

EK_AVX2 void ek_gelu_avx2(float *x, long n) {
    float *y = x;
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), rs2 = _mm256_set1_ps(0.70710678118654752f);
    MAP_TAIL(_mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, erf256(_mm256_mul_ps(v, rs2)))))
}

EK_AVX2 void ek_add_avx2(const float *x, float *y, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] += x[i];
}

EK_AVX2 void ek_half_to_float_avx2(const uint16_t *src, float *dst, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = _cvtsh_ss(src[i]);
}

EK_AVX2 void ek_softmax_avx2(float *x, long rows, long cols, long stride, float scale, long causal_base) {
    const __m256 sc = _mm256_set1_ps(scale);
    for (long r = 0; r < rows; r++) {
        float *row = x + r * stride;
        long valid = cols;
        if (causal_base >= 0 && causal_base + r + 1 < cols) valid = causal_base + r + 1;
        __m256 mx = _mm256_set1_ps(-__builtin_inff());
        long c = 0;
        for (; c + 8 <= valid; c += 8) mx = _mm256_max_ps(mx, _mm256_mul_ps(sc, _mm256_loadu_ps(row + c)));
        float m = hmax(mx);
        for (; c < valid; c++) m = row[c] * scale > m ? row[c] * scale : m;
        __m256 mv = _mm256_set1_ps(m), s0 = _mm256_setzero_ps();
        for (c = 0; c + 8 <= valid; c += 8) {
            __m256 e = exp256(_mm256_fmsub_ps(sc, _mm256_loadu_ps(row + c), mv));
            _mm256_storeu_ps(row + c, e);
            s0 = _mm256_add_ps(s0, e);
        }
        if (c < valid) {
            __m256 e = exp256(_mm256_fmsub_ps(sc, load_tail(row + c, valid - c), mv));
            float t[8];
            _mm256_storeu_ps(t, e);
            for (long q = 0; q < valid - c; q++) { row[c + q] = t[q]; }
            for (long q = valid - c; q < 8; q++) t[q] = 0;
            s0 = _mm256_add_ps(s0, _mm256_loadu_ps(t));
        }
        __m256 inv = _mm256_set1_ps(1.0f / hsum(s0));
        for (c = 0; c + 8 <= valid; c += 8) _mm256_storeu_ps(row + c, _mm256_mul_ps(inv, _mm256_loadu_ps(row + c)));
        for (; c < valid; c++) row[c] *= _mm256_cvtss_f32(inv);
        for (c = valid; c < cols; c++) row[c] = 0;
    }
}

EK_AVX2 void ek_layernorm_avx2(const float *x, long rows, long cols, const float *gamma, const float *beta,
                               float eps, float *y) {
    for (long r = 0; r < rows; r++) {
        const float *in = x + r * cols;
        float *out = y + r * cols;
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
        long c = 0;
        for (; c + 16 <= cols; c += 16) {
            s0 = _mm256_add_ps(s0, _mm256_loadu_ps(in + c));
            s1 = _mm256_add_ps(s1, _mm256_loadu_ps(in + c + 8));
        }
        for (; c < cols; c += 8) s0 = _mm256_add_ps(s0, load_tail(in + c, cols - c < 8 ? cols - c : 8));
        float mean = hsum(_mm256_add_ps(s0, s1)) / (float)cols;
        __m256 mv = _mm256_set1_ps(mean);
        s0 = _mm256_setzero_ps(); s1 = _mm256_setzero_ps();
        for (c = 0; c + 16 <= cols; c += 16) {
            __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(in + c), mv), d1 = _mm256_sub_ps(_mm256_loadu_ps(in + c + 8), mv);
            s0 = _mm256_fmadd_ps(d0, d0, s0);
            s1 = _mm256_fmadd_ps(d1, d1, s1);
        }
        float tailsum = 0;
        for (; c < cols; c++) { float d = in[c] - mean; tailsum += d * d; }
        float var = (hsum(_mm256_add_ps(s0, s1)) + tailsum) / (float)cols;
        float inv = 1.0f / __builtin_sqrtf(var + eps);
        __m256 iv = _mm256_set1_ps(inv);
        for (c = 0; c + 8 <= cols; c += 8) {
            __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(in + c), mv), iv);
            _mm256_storeu_ps(out + c, _mm256_fmadd_ps(d, _mm256_loadu_ps(gamma + c), _mm256_loadu_ps(beta + c)));
        }
        for (; c < cols; c++) out[c] = (in[c] - mean) * inv * gamma[c] + beta[c];
    }
}

// ---- logit rows (decoding) ----

EK_AVX2 long ek_argmax_avx2(const float *x, long n) {
    __m256 m0 = _mm256_set1_ps(-__builtin_inff()), m1 = m0;
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
        m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + i + 8));
    }
    float mx = hmax(_mm256_max_ps(m0, m1));
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    __m256 target = _mm256_set1_ps(mx);
    for (i = 0; i + 8 <= n; i += 8) {
        int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), target, _CMP_EQ_OQ));
        if (hit) return i + __builtin_ctz((unsigned)hit);
    }
    for (; i < n; i++) if (x[i] == mx) return i;
    return 0;
}

EK_AVX2 double ek_sum_exp_avx2(const float *x, long n, float shift) {
    __m256 sh = _mm256_set1_ps(shift);
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    __m256d s = _mm256_add_pd(s0, s1);
    double t[4];
    _mm256_storeu_pd(t, s);
    double sum = (t[0] + t[1]) + (t[2] + t[3]);
    if (i < n) {
        float e[8];
        _mm256_storeu_ps(e, exp256(_mm256_sub_ps(load_tail(x + i, n - i), sh)));
        for (long j = 0; j < n - i; j++) sum += e[j];
    }
    return sum;
}

EK_AVX2 void ek_add_scalar_avx2(float *x, long n, float c) {
    __m256 cv = _mm256_set1_ps(c);
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_add_ps(_mm256_loadu_ps(x + i), cv));
    for (; i < n; i++) x[i] += c;
}
