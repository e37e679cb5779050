// Dispatch for the element-wise kernels, their portable versions, and im2col.
#include "internal.h"
#include <math.h>

void ek_exp_avx512(const float *, float *, long);
void ek_erf_avx512(const float *, float *, long);
void ek_gelu_avx512(float *, long);
void ek_softmax_avx512(float *, long, long, long, float, long);
void ek_layernorm_avx512(const float *, long, long, const float *, const float *, float, float *);
void ek_add_avx512(const float *, float *, long);
void ek_half_to_float_avx512(const uint16_t *, float *, long);
void ek_exp_avx2(const float *, float *, long);
void ek_erf_avx2(const float *, float *, long);
void ek_gelu_avx2(float *, long);
void ek_softmax_avx2(float *, long, long, long, float, long);
void ek_layernorm_avx2(const float *, long, long, const float *, const float *, float, float *);
void ek_add_avx2(const float *, float *, long);
void ek_half_to_float_avx2(const uint16_t *, float *, long);
long ek_argmax_avx512(const float *, long);
double ek_sum_exp_avx512(const float *, long, float);
void ek_add_scalar_avx512(float *, long, float);
long ek_argmax_avx2(const float *, long);
double ek_sum_exp_avx2(const float *, long, float);
void ek_add_scalar_avx2(float *, long, float);

static int clamp_level(int level) {
    int hw = ek_instruction_set();
    return level > hw ? hw : level;
}

void ek_exp(int level, const float *x, float *y, long n) {
    level = clamp_level(level);
    if (level >= 2) ek_exp_avx512(x, y, n);
    else if (level == 1) ek_exp_avx2(x, y, n);
    else for (long i = 0; i < n; i++) y[i] = expf(x[i]);
}

void ek_erf(int level, const float *x, float *y, long n) {
    level = clamp_level(level);
    if (level >= 2) ek_erf_avx512(x, y, n);
    else if (level == 1) ek_erf_avx2(x, y, n);
    else for (long i = 0; i < n; i++) y[i] = erff(x[i]);
}

void ek_gelu(int level, float *x, long n) {
    level = clamp_level(level);
    if (level >= 2) ek_gelu_avx512(x, n);
    else if (level == 1) ek_gelu_avx2(x, n);
    else for (long i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

void ek_add(int level, const float *x, float *y, long n) {
    level = clamp_level(level);
    if (level >= 2) ek_add_avx512(x, y, n);
    else if (level == 1) ek_add_avx2(x, y, n);
    else for (long i = 0; i < n; i++) y[i] += x[i];
}

void ek_half_to_float(int level, const uint16_t *src, float *dst, long n) {
    level = clamp_level(level);
    if (level >= 2) ek_half_to_float_avx512(src, dst, n);
    else if (level == 1) ek_half_to_float_avx2(src, dst, n);
    else for (long i = 0; i < n; i++) dst[i] = ek_half_to_float_scalar(src[i]);
}

long ek_argmax(int level, const float *x, long n) {
    if (n <= 0) return 0;
    level = clamp_level(level);
    if (level >= 2) return ek_argmax_avx512(x, n);
    if (level == 1) return ek_argmax_avx2(x, n);
    long best = 0;
    for (long i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return best;
}

double ek_sum_exp(int level, const float *x, long n, float shift) {
    if (n <= 0) return 0;
    level = clamp_level(level);
    if (level >= 2) return ek_sum_exp_avx512(x, n, shift);
    if (level == 1) return ek_sum_exp_avx2(x, n, shift);
    double sum = 0;
    for (long i = 0; i < n; i++) sum += (double)expf(x[i] - shift);
    return sum;
}

void ek_add_scalar(int level, float *x, long n, float c) {
    level = clamp_level(level);
    if (level >= 2) ek_add_scalar_avx512(x, n, c);
    else if (level == 1) ek_add_scalar_avx2(x, n, c);
    else for (long i = 0; i < n; i++) x[i] += c;
}

static void softmax_portable(float *x, long rows, long cols, long stride, float scale, long causal_base) {
    for (long r = 0; r < rows; r++) {
        float *row = x + r * stride;
        long valid = cols;
        if (causal_base >= 0 && causal_base + r + 1 < cols) valid = causal_base + r + 1;
        float mx = -INFINITY, sum = 0;
        for (long c = 0; c < valid; c++) mx = fmaxf(mx, scale * row[c]);
        for (long c = 0; c < valid; c++) { row[c] = expf(scale * row[c] - mx); sum += row[c]; }
        float inv = 1.0f / sum;
        for (long c = 0; c < valid; c++) row[c] *= inv;
        for (long c = valid; c < cols; c++) row[c] = 0;
    }
}

void ek_softmax_rows(int level, float *x, long rows, long cols, long stride, float scale, long causal_base) {
    level = clamp_level(level);
    if (cols <= 0) return;
    if (level >= 2) ek_softmax_avx512(x, rows, cols, stride, scale, causal_base);
    else if (level == 1) ek_softmax_avx2(x, rows, cols, stride, scale, causal_base);
    else softmax_portable(x, rows, cols, stride, scale, causal_base);
}

static void layernorm_portable(const float *x, long rows, long cols, const float *gamma, const float *beta,
                               float eps, float *y) {
    for (long r = 0; r < rows; r++) {
        const float *in = x + r * cols;
        float *out = y + r * cols;
        float s[4] = {0, 0, 0, 0}, v[4] = {0, 0, 0, 0};
        for (long c = 0; c < cols; c++) s[c & 3] += in[c];
        float mean = ((s[0] + s[1]) + (s[2] + s[3])) / (float)cols;
        for (long c = 0; c < cols; c++) { float d = in[c] - mean; v[c & 3] += d * d; }
        float inv = 1.0f / sqrtf(((v[0] + v[1]) + (v[2] + v[3])) / (float)cols + eps);
        for (long c = 0; c < cols; c++) out[c] = (in[c] - mean) * inv * gamma[c] + beta[c];
    }
}

void ek_layernorm(int level, const float *x, long rows, long cols, const float *gamma, const float *beta,
                  float eps, float *y) {
    level = clamp_level(level);
    if (cols <= 0) return;
    if (level >= 2) ek_layernorm_avx512(x, rows, cols, gamma, beta, eps, y);
    else if (level == 1) ek_layernorm_avx2(x, rows, cols, gamma, beta, eps, y);
    else layernorm_portable(x, rows, cols, gamma, beta, eps, y);
}

void ek_im2col_1d(const float *x, long frames, long cin, long ks, long stride, long pad, long out_frames,
                  float *cols) {
    long width = cin * ks;
    for (long t = 0; t < out_frames; t++) {
        float *row = cols + t * width;
        for (long kk = 0; kk < ks; kk++) {
            long src = t * stride + kk - pad;
            if (src < 0 || src >= frames) {
                for (long ci = 0; ci < cin; ci++) row[ci * ks + kk] = 0;
            } else {
                const float *in = x + src * cin;
                for (long ci = 0; ci < cin; ci++) row[ci * ks + kk] = in[ci];
            }
        }
    }
}
