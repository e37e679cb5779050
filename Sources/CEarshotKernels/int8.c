// int8 GEMM: weight packing, per-row activation quantization, portable kernel and dispatch.
// Convention (CTranslate2): W ≈ q / scale with scale = 127 / max|W[row,:]|, symmetric, per output row.
//
// Every step reproduces CTranslate2 4.8's CPU int8 path on x86 (oneDNN/MKL u8s8s32 GEMM), so Earshot's int8
// gives the same numbers as faster-whisper's compute_type="int8":
// - weights: q = round_half_even(w·scale) (src/cpu/kernels.cc quantize_s8_row, shift_to_uint8=false,
//   round_before_cast=true for model binaries of version ≥ 5, include/ctranslate2/models/model.h);
// - activations: u = round_half_even(fma(x, scale, 128)) as uint8 (quantize_s8_row with shift_to_uint8=true,
//   chosen by src/layers/common.cc Dense when cpu::prefer_u8s8s32_gemm(); the AVX2 build contracts the
//   x·scale − (−128) of kernels.cc into one vfmadd, checked in the shipped libctranslate2 4.8.5). Earshot
//   stores q = u − 128, so u·w − 128·Σw = q·w: the integer product is the same, only the rounding of
//   x·scale + 128 (one rounding, at 2⁻¹⁶ resolution near ±128) has to match;
// - epilogue: y = (acc · (1/ascale)) / wscale + bias (kernels.cc dequantize_gemm_output_row), then the
//   residual is added (Dense's ops::Add) — the accumulate flag here.
#include "internal.h"
#include <math.h>
#include <string.h>

void ek_quantize_rows_avx512(const float *x, long m, long k, long ldx, int8_t *q, long ldq, float *scales);
void ek_quantize_rows_avx2(const float *x, long m, long k, long ldx, int8_t *q, long ldq, float *scales);
void ek_quantize_weight_rows_avx512(const float *x, long m, long k, long ldx, int8_t *q, long ldq, float *scales);
void ek_gemm_i8_vnni(long m, long n0, long n1, long k, const int8_t *qa, long ldqa, const float *ascale,
                     const int8_t *packed, const int32_t *comp, const float *wscale, float *c, long ldc,
                     const float *bias, int accumulate);
void ek_gemm_i8_avx2(long m, long n0, long n1, long k, const int8_t *qa, long ldqa, const float *ascale,
                     const int8_t *packed, const float *wscale, float *c, long ldc, const float *bias, int accumulate);

long ek_i8_packed_bytes(long n, long k) { return (n + 15) / 16 * 16 * ((k + 3) / 4 * 4); }

static float row_scale(const float *in, long k) {
    float mx = 0;
    for (long c = 0; c < k; c++) mx = fmaxf(mx, fabsf(in[c]));
    return mx > 0 ? 127.0f / mx : 1.0f;
}

void ek_i8_quantize_rows(int level, const float *x, long m, long k, long ldx, int8_t *q, long ldq, float *scales) {
    if (level > ek_instruction_set()) level = ek_instruction_set();
    if (level >= 2) { ek_quantize_rows_avx512(x, m, k, ldx, q, ldq, scales); return; }
    if (level >= 1) { ek_quantize_rows_avx2(x, m, k, ldx, q, ldq, scales); return; }
    for (long r = 0; r < m; r++) {
        const float *in = x + r * ldx;
        int8_t *out = q + r * ldq;
        float s = row_scale(in, k);
        for (long c = 0; c < k; c++) out[c] = (int8_t)((int)nearbyintf(fmaf(in[c], s, 128.0f)) - 128);
        for (long c = k; c < ldq; c++) out[c] = 0;
        scales[r] = s;
    }
}

void ek_i8_quantize_weight_rows(int level, const float *x, long m, long k, long ldx, int8_t *q, long ldq,
                                float *scales) {
    if (level > ek_instruction_set()) level = ek_instruction_set();
    if (level >= 2) { ek_quantize_weight_rows_avx512(x, m, k, ldx, q, ldq, scales); return; }
    for (long r = 0; r < m; r++) {
        const float *in = x + r * ldx;
        int8_t *out = q + r * ldq;
        float s = row_scale(in, k);
        for (long c = 0; c < k; c++) out[c] = (int8_t)lrintf(in[c] * s);
        for (long c = k; c < ldq; c++) out[c] = 0;
        scales[r] = s;
    }
}

void ek_i8_unpack_row(const int8_t *packed, long k, long row, float scale, float *out) {
    long groups = (k + 3) / 4;
    const int8_t *panel = packed + (row / 16) * groups * 64 + (row % 16) * 4;
    float inv = 1.0f / scale;  // CTranslate2 Dequantize: value · (1/scale) (src/ops/dequantize_cpu.cc)
    for (long p = 0; p < k; p++) out[p] = (float)panel[(p / 4) * 64 + (p % 4)] * inv;
}

void ek_i8_pack(const int8_t *q, long n, long k, long ldq, int8_t *packed, int32_t *comp) {
    long groups = (k + 3) / 4, panels = (n + 15) / 16;
    memset(packed, 0, (size_t)ek_i8_packed_bytes(n, k));
    for (long row = 0; row < panels * 16; row++) {
        int32_t sum = 0;
        if (row < n) {
            const int8_t *src = q + row * ldq;
            int8_t *panel = packed + (row / 16) * groups * 64 + (row % 16) * 4;
            for (long p = 0; p < k; p++) {
                panel[(p / 4) * 64 + (p % 4)] = src[p];
                sum += src[p];
            }
        }
        comp[row] = 128 * sum;
    }
}

static void gemm_i8_portable(long m, long n0, long n1, long k, const int8_t *qa, long ldqa, const float *ascale,
                             const int8_t *packed, const float *wscale, float *c, long ldc, const float *bias,
                             int accumulate) {
    long groups = (k + 3) / 4;
    for (long j = n0; j < n1; j++) {
        const int8_t *panel = packed + (j / 16) * groups * 64 + (j % 16) * 4;
        for (long i = 0; i < m; i++) {
            const int8_t *x = qa + i * ldqa;
            int32_t acc = 0;
            for (long g = 0; g < groups; g++) {
                const int8_t *w = panel + g * 64;
                acc += x[4 * g] * w[0] + x[4 * g + 1] * w[1] + x[4 * g + 2] * w[2] + x[4 * g + 3] * w[3];
            }
            float v = (float)acc * (1.0f / ascale[i]);
            v = v / wscale[j];
            if (bias) v += bias[j];
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + v : v;
        }
    }
}

void ek_gemm_i8(int level, long m, long n0, long n1, long k, const int8_t *qa, long ldqa, const float *ascale,
                const int8_t *packed, const int32_t *comp, const float *wscale, float *c, long ldc,
                const float *bias, int accumulate) {
    if (level > ek_instruction_set()) level = ek_instruction_set();
    if (m <= 0 || n1 <= n0) return;
    if (level >= 3) ek_gemm_i8_vnni(m, n0, n1, k, qa, ldqa, ascale, packed, comp, wscale, c, ldc, bias, accumulate);
    else if (level >= 1) ek_gemm_i8_avx2(m, n0, n1, k, qa, ldqa, ascale, packed, wscale, c, ldc, bias, accumulate);
    else gemm_i8_portable(m, n0, n1, k, qa, ldqa, ascale, packed, wscale, c, ldc, bias, accumulate);
}
