#ifndef EARSHOT_KERNELS_H
#define EARSHOT_KERNELS_H
// C kernels with run-time instruction-set dispatch (AVX-512 / AVX2+FMA / portable).
//
// Every kernel takes the instruction-set `level` it may use as its first argument (0 portable,
// 1 AVX2+FMA+F16C, 2 AVX-512 F/BW/VL/DQ, 3 AVX-512 + VNNI). Callers get it from `ek_level()` on the
// calling thread and pass it on to worker threads, so a level forced for one thread (tests) holds for
// the work that thread hands out. A level above what the CPU supports is clamped down.
// All matrices are row-major fp32 with explicit leading dimensions (elements between rows).
#include <stddef.h>
#include <stdint.h>

/// The instruction set the hardware supports: 0 portable, 1 AVX2+FMA+F16C, 2 AVX-512, 3 AVX-512+VNNI.
int ek_instruction_set(void);
/// Caps the level for the whole process (benchmarks); a negative value removes the cap.
void ek_force_level(int level);
/// Caps the level for the calling thread only (tests); a negative value removes the cap.
void ek_set_thread_level(int level);
/// The level kernels called from this thread should use: the hardware level under both caps.
int ek_level(void);

/// `C[m×n] = A[m×k]·op(B) (+ bias[n]) (+ C if accumulate)`. `b_transposed`: B is `[n][k]` (A·Bᵀ),
/// else `[k][n]`. Single-threaded; callers split N or M across threads.
void ek_sgemm(int level, long m, long n, long k, const float *a, long lda, const float *b, long ldb,
              int b_transposed, float *c, long ldc, const float *bias, int accumulate);
/// As `ek_sgemm` with B `[n][k]` stored as IEEE half bit patterns, widened on the fly (fp32 accumulation).
void ek_sgemm_f16w(int level, long m, long n, long k, const float *a, long lda, const uint16_t *w, long ldw,
                   float *c, long ldc, const float *bias, int accumulate);

/// One attention head: `out[rows×dim] = softmax(scale·q·kᵀ)·v` over `keys` key/value rows. With
/// `causal_base >= 0`, query row r sees only keys `0 ... causal_base + r`. Scores live in thread-local
/// scratch; few query rows stream the keys once without packing. Single-threaded; callers split heads.
void ek_attention_head(int level, long rows, long keys, long dim, const float *q, long ldq, const float *k,
                       long ldk, const float *v, long ldv, float *out, long ldo, float scale, long causal_base);
/// Layer normalisation of each row: `(x-mean)/sqrt(var+eps)*gamma+beta`. `x` and `y` may alias.
void ek_layernorm(int level, const float *x, long rows, long cols, const float *gamma, const float *beta,
                  float eps, float *y);
/// In-place softmax of `scale·x` for each row (row stride `stride`). With `causal_base >= 0`, row r keeps
/// only its first `min(cols, causal_base + r + 1)` entries; the rest become 0.
void ek_softmax_rows(int level, float *x, long rows, long cols, long stride, float scale, long causal_base);
/// Exact GELU `0.5·x·(1+erf(x/√2))` in place.
void ek_gelu(int level, float *x, long n);
/// `y[i] = erf(x[i])` with the vectorised approximation GELU uses (exposed for tests).
void ek_erf(int level, const float *x, float *y, long n);
/// `y[i] = exp(x[i])` with the vectorised approximation softmax uses (exposed for tests).
void ek_exp(int level, const float *x, float *y, long n);
/// `y += x`.
void ek_add(int level, const float *x, float *y, long n);
/// The first index of the largest of `n` values (0 when `n <= 0` or every value is -inf). No NaNs.
long ek_argmax(int level, const float *x, long n);
/// `Σ exp(x[i] − shift)` accumulated in double, -inf entries contributing 0 (0 when `n <= 0`). With `shift`
/// the maximum, `shift + log(result)` is the log-sum-exp (the log-softmax normaliser of a logit row).
double ek_sum_exp(int level, const float *x, long n, float shift);
/// `x[i] += c`.
void ek_add_scalar(int level, float *x, long n, float c);
/// IEEE half bit patterns to fp32.
void ek_half_to_float(int level, const uint16_t *src, float *dst, long n);
/// im2col for a 1-D convolution over time-major input `[frames][cin]`: writes `[out_frames][cin·ks]`
/// with column `ci·ks + kk` (PyTorch `Conv1d.weight` order), zero padding `pad` on both sides.
void ek_im2col_1d(const float *x, long frames, long cin, long ks, long stride, long pad, long out_frames,
                  float *cols);

/// Bytes of the packed int8 layout for `n` rows of `k` inputs: `[⌈n/16⌉][⌈k/4⌉][16][4]`.
long ek_i8_packed_bytes(long n, long k);
/// Quantizes activation rows as CTranslate2's x86 int8 GEMM does: `scale[r] = 127/max|x[r,:]|` (1 for an
/// all-zero row), `q = round_half_even(fma(x, scale, 128)) − 128` (the u8-shifted value, stored signed),
/// and zero-fills `q` columns `k..<ldq`. Identical at every level.
void ek_i8_quantize_rows(int level, const float *x, long m, long k, long ldx, int8_t *q, long ldq, float *scales);
/// Quantizes weight rows as CTranslate2 does at load: same scale, `q = round_half_even(x·scale)`.
void ek_i8_quantize_weight_rows(int level, const float *x, long m, long k, long ldx, int8_t *q, long ldq,
                                float *scales);
/// Row `row` of packed int8 weights (`k` inputs) dequantized as CTranslate2 does: `q · (1/scale)`.
void ek_i8_unpack_row(const int8_t *packed, long k, long row, float scale, float *out);
/// Packs int8 rows `q[n][k]` (row stride `ldq`) into the kernel layout and fills `comp[r] = 128·Σ q[r,:]`
/// (for the VNNI unsigned×signed trick); `comp` has `⌈n/16⌉·16` entries.
void ek_i8_pack(const int8_t *q, long n, long k, long ldq, int8_t *packed, int32_t *comp);
/// `C[m×(n1-n0)]` columns `n0..<n1` (n0 a multiple of 16) of `((qa·Wᵀ)·(1/ascale[i]))/wscale[j] (+bias) (+C)`,
/// with `qa` quantized activation rows (stride `ldqa` ≥ ⌈k/4⌉·4, zero padded) and `c` pointing at column 0.
void ek_gemm_i8(int level, long m, long n0, long n1, long k, const int8_t *qa, long ldqa, const float *ascale,
                const int8_t *packed, const int32_t *comp, const float *wscale, float *c, long ldc,
                const float *bias, int accumulate);

/// fp32 to IEEE half bit patterns, rounding to nearest even (as F16C's vcvtps2ph and numpy's float16).
void ek_float_to_half(int level, const float *src, uint16_t *dst, long n);
/// `ek_attention_head` (no mask) with keys and values stored as IEEE halves, row stride `ldkv` for both;
/// the head's keys and values are widened exactly into thread-local scratch first.
void ek_attention_head_f16kv(int level, long rows, long keys, long dim, const float *q, long ldq, const uint16_t *k,
                             const uint16_t *v, long ldkv, float *out, long ldo, float scale);
/// Median filter of width 7 along one row with reflected edges (`in` and `out` must not overlap; `n` ≥ 4).
void ek_median7_row(int level, const float *in, float *out, long n);

#endif
