// Private declarations shared by the kernel files.
#ifndef EARSHOT_KERNELS_INTERNAL_H
#define EARSHOT_KERNELS_INTERNAL_H
#include "earshot_kernels.h"

#define EK_AVX512_TARGET "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"
#define EK_AVX512 __attribute__((target(EK_AVX512_TARGET)))
#define EK_VNNI __attribute__((target(EK_AVX512_TARGET ",avx512vnni,prfchw")))
#define EK_AVX2 __attribute__((target("avx2,fma,f16c")))
#define EK_INLINE static inline __attribute__((always_inline))

// Blocking (BLIS terms). KC·NR·4 = 32 KiB B sliver stays in the 48 KiB L1d next to the 12 KiB A sliver;
// MC·KC·4 = 144 KiB A block stays in L2; values measured in swift-numerics.md §2.3 (KC 192–256, MC 96–144
// within 5 %). MC is a multiple of every MR below, NC of every NR.
#define EK_KC 256
#define EK_MC 144
#define EK_NC 3072

/// Micro-kernel: `C[mr×nr] (+)= Ap·Bp` over `kc` with packed slivers; `load_c` adds the old C,
/// a non-null `bias` adds bias[0..<nr].
typedef void (*ek_ukernel_fn)(long kc, const float *ap, const float *bp, float *c, long ldc, int mr, int nr,
                              int load_c, const float *bias);

/// Thread-local 64-byte aligned scratch buffer `slot` (0..7: 0–1 GEMM packing, 2 attention scores, 3–4 packed
/// K/V, 5 int8 GEMM activations, 6–7 widened half K/V) of at least `bytes` bytes.
void *ek_scratch(int slot, size_t bytes);
#ifdef __clang__
#include <immintrin.h>
/// Lane j = horizontal sum of `s[j]` for 16 vectors, in `_mm512_reduce_add_ps`'s order (attention.c).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"))) __m512 ek_reduce16_avx512(const __m512 *s);
#endif
float ek_half_to_float_scalar(uint16_t h);

void ek_ukernel_avx512(long, const float *, const float *, float *, long, int, int, int, const float *);
void ek_ukernel_avx2(long, const float *, const float *, float *, long, int, int, int, const float *);
void ek_ukernel_portable(long, const float *, const float *, float *, long, int, int, int, const float *);

/// B kinds for packing.
enum { EK_B_NORMAL = 0, EK_B_TRANS = 1, EK_B_TRANS_F16 = 2 };
void ek_pack_a_avx512(const float *a, long lda, long mc, long kc, float *ap);
void ek_pack_b_trans_avx512(const float *b, long ldb, long kc, long nc, int nr, float *bp);
void ek_pack_b_f16_f16c(const uint16_t *b, long ldb, long kc, long nc, int nr, float *bp);

// B packed once for many products (attention reuses one head's keys and values for every query block).
/// Floats `ek_pack_b_all` writes for an `n`-column, `k`-deep B at this level.
long ek_packed_b_floats(int level, long n, long k);
/// Packs all of B (`[n][k]` if `b_transposed`, else `[k][n]`) in the order the blocked driver consumes it.
void ek_pack_b_all(int level, long n, long k, const float *b, long ldb, int b_transposed, float *bp);
/// `C[m×n] = A·B` with B from `ek_pack_b_all` at the same level (no bias, no accumulation).
void ek_sgemm_prepacked(int level, long m, long n, long k, const float *a, long lda, const float *bp, float *c,
                        long ldc);

// Small-M paths (no packing of B).
void ek_smallm_t_avx512(long m, long n, long k, const float *a, long lda, const void *w, long ldw, int f16,
                        float *c, long ldc, const float *bias, int acc);
void ek_smallm_t_avx2(long m, long n, long k, const float *a, long lda, const void *w, long ldw, int f16,
                      float *c, long ldc, const float *bias, int acc);
void ek_smallm_n_avx512(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                        float *c, long ldc, const float *bias, int acc);
void ek_smallm_n_avx2(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                      float *c, long ldc, const float *bias, int acc);

#endif
