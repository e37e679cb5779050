// SGEMM driver: BLIS-style blocking (jc → pc → ic → jr → ir) around per-ISA micro-kernels, plus the
// small-M entry that skips packing. The portable micro-kernel and packing routines live here too.
#include "internal.h"
#include <string.h>

#define MR_P 4
#define NR_P 8

/// Portable 4×8 micro-kernel (plain C; the compiler vectorises the j loop with SSE at baseline).
void ek_ukernel_portable(long kc, const float *ap, const float *bp, float *c, long ldc, int mr, int nr,
                         int load_c, const float *bias) {
    float acc[MR_P][NR_P] = {{0}};
    for (long p = 0; p < kc; p++, ap += MR_P, bp += NR_P) {
        for (int i = 0; i < MR_P; i++) {
            for (int j = 0; j < NR_P; j++) acc[i][j] += ap[i] * bp[j];
        }
    }
    for (int i = 0; i < mr; i++) {
        float *row = c + i * ldc;
        for (int j = 0; j < nr; j++) {
            float v = acc[i][j];
            if (bias) v += bias[j];
            row[j] = load_c ? row[j] + v : v;
        }
    }
}

/// Packs `mc` rows × `kc` columns of A into MR-row slivers `[⌈mc/MR⌉][kc][MR]`, zero-padding rows.
static void pack_a(const float *a, long lda, long mc, long kc, int mr, float *ap) {
    for (long i0 = 0; i0 < mc; i0 += mr, ap += kc * mr) {
        int rows = (int)(mc - i0 < mr ? mc - i0 : mr);
        for (int i = 0; i < rows; i++) {
            const float *src = a + (i0 + i) * lda;
            for (long p = 0; p < kc; p++) ap[p * mr + i] = src[p];
        }
        for (int i = rows; i < mr; i++) {
            for (long p = 0; p < kc; p++) ap[p * mr + i] = 0;
        }
    }
}

/// Packs a `kc × nc` block of B into NR-column slivers `[⌈nc/NR⌉][kc][NR]`, zero-padding columns.
/// `b` points at element (p=0, j=0) of the block in its own layout.
static void pack_b(int level, int kind, const void *b, long ldb, long kc, long nc, int nr, float *bp) {
    if (kind == EK_B_TRANS && level >= 2) { ek_pack_b_trans_avx512(b, ldb, kc, nc, nr, bp); return; }
    if (kind == EK_B_TRANS_F16 && level >= 1) { ek_pack_b_f16_f16c(b, ldb, kc, nc, nr, bp); return; }
    for (long j0 = 0; j0 < nc; j0 += nr, bp += kc * nr) {
        int cols = (int)(nc - j0 < nr ? nc - j0 : nr);
        if (kind == EK_B_NORMAL) {
            const float *src = (const float *)b + j0;
            for (long p = 0; p < kc; p++) {
                memcpy(bp + p * nr, src + p * ldb, (size_t)cols * 4);
                for (int j = cols; j < nr; j++) bp[p * nr + j] = 0;
            }
            continue;
        }
        for (int j = 0; j < cols; j++) {
            if (kind == EK_B_TRANS) {
                const float *src = (const float *)b + (j0 + j) * ldb;
                for (long p = 0; p < kc; p++) bp[p * nr + j] = src[p];
            } else {
                const uint16_t *src = (const uint16_t *)b + (j0 + j) * ldb;
                for (long p = 0; p < kc; p++) bp[p * nr + j] = ek_half_to_float_scalar(src[p]);
            }
        }
        for (int j = cols; j < nr; j++) {
            for (long p = 0; p < kc; p++) bp[p * nr + j] = 0;
        }
    }
}

static int level_nr(int level) { return level >= 2 ? 32 : level == 1 ? 16 : NR_P; }

/// The blocked driver. `kind` says how `b` is stored (EK_B_*); element size follows from it. With
/// `prepacked`, B was packed by `ek_pack_b_all` at this level and `b` is ignored.
static void gemm_packed(int level, int kind, long m, long n, long k, const float *a, long lda, const void *b,
                        long ldb, float *c, long ldc, const float *bias, int accumulate, const float *prepacked) {
    int mr, nr;
    ek_ukernel_fn ukr;
    if (level >= 2) { mr = 12; nr = 32; ukr = ek_ukernel_avx512; }
    else if (level == 1) { mr = 6; nr = 16; ukr = ek_ukernel_avx2; }
    else { mr = MR_P; nr = NR_P; ukr = ek_ukernel_portable; }
    long ncmax = n < EK_NC ? n : EK_NC;
    long kcmax = k < EK_KC ? k : EK_KC;
    float *bp = prepacked ? NULL : ek_scratch(0, (size_t)kcmax * (size_t)((ncmax + nr - 1) / nr * nr) * 4);
    float *ap = ek_scratch(1, (size_t)kcmax * EK_MC * 4);
    size_t esize = kind == EK_B_TRANS_F16 ? 2 : 4;
    const float *next = prepacked;
    for (long jc = 0; jc < n; jc += EK_NC) {
        long nc = n - jc < EK_NC ? n - jc : EK_NC;
        for (long pc = 0; pc < k; pc += EK_KC) {
            long kc = k - pc < EK_KC ? k - pc : EK_KC;
            long offset = kind == EK_B_NORMAL ? pc * ldb + jc : jc * ldb + pc;
            if (prepacked) {
                bp = (float *)next;
                next += kc * ((nc + nr - 1) / nr * nr);
            } else {
                pack_b(level, kind, (const char *)b + offset * (long)esize, ldb, kc, nc, nr, bp);
            }
            int first = pc == 0;
            int load_c = !first || accumulate;
            for (long ic = 0; ic < m; ic += EK_MC) {
                long mc = m - ic < EK_MC ? m - ic : EK_MC;
                if (level >= 2) ek_pack_a_avx512(a + ic * lda + pc, lda, mc, kc, ap);
                else pack_a(a + ic * lda + pc, lda, mc, kc, mr, ap);
                for (long jr = 0; jr < nc; jr += nr) {
                    int nrr = (int)(nc - jr < nr ? nc - jr : nr);
                    const float *bsl = bp + jr * kc;
                    const float *bb = first && bias ? bias + jc + jr : NULL;
                    for (long ir = 0; ir < mc; ir += mr) {
                        int mrr = (int)(mc - ir < mr ? mc - ir : mr);
                        ukr(kc, ap + ir * kc, bsl, c + (ic + ir) * ldc + jc + jr, ldc, mrr, nrr, load_c, bb);
                    }
                }
            }
        }
    }
}

/// C = bias (+C) when k == 0.
static void gemm_k0(long m, long n, float *c, long ldc, const float *bias, int accumulate) {
    for (long i = 0; i < m; i++) {
        for (long j = 0; j < n; j++) {
            float v = bias ? bias[j] : 0;
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + v : v;
        }
    }
}

/// Portable small-M path over weight rows (4 independent partial sums per dot product).
static void smallm_t_portable(long m, long n, long k, const float *a, long lda, const void *w, long ldw, int f16,
                              float *c, long ldc, const float *bias, int acc) {
    for (long j = 0; j < n; j++) {
        for (long i = 0; i < m; i++) {
            const float *x = a + i * lda;
            float s[4] = {0, 0, 0, 0};
            long p = 0;
            if (f16) {
                const uint16_t *wr = (const uint16_t *)w + j * ldw;
                for (; p < k; p++) s[p & 3] += x[p] * ek_half_to_float_scalar(wr[p]);
            } else {
                const float *wr = (const float *)w + j * ldw;
                for (; p + 4 <= k; p += 4) {
                    for (int t = 0; t < 4; t++) s[t] += x[p + t] * wr[p + t];
                }
                for (; p < k; p++) s[0] += x[p] * wr[p];
            }
            float v = (s[0] + s[1]) + (s[2] + s[3]);
            if (bias) v += bias[j];
            c[i * ldc + j] = acc ? c[i * ldc + j] + v : v;
        }
    }
}

// Below this M the weight rows are streamed unpacked (swift-numerics.md §2.4: packing is 2.4× slower at
// M=8 and 12× at M=1 when B is large).
#define SMALL_M 16

void ek_sgemm(int level, long m, long n, long k, const float *a, long lda, const float *b, long ldb,
              int b_transposed, float *c, long ldc, const float *bias, int accumulate) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { gemm_k0(m, n, c, ldc, bias, accumulate); return; }
    if (level > ek_instruction_set()) level = ek_instruction_set();
    if (m <= SMALL_M && level >= 1) {
        if (b_transposed) {
            if (level >= 2) ek_smallm_t_avx512(m, n, k, a, lda, b, ldb, 0, c, ldc, bias, accumulate);
            else ek_smallm_t_avx2(m, n, k, a, lda, b, ldb, 0, c, ldc, bias, accumulate);
        } else {
            if (level >= 2) ek_smallm_n_avx512(m, n, k, a, lda, b, ldb, c, ldc, bias, accumulate);
            else ek_smallm_n_avx2(m, n, k, a, lda, b, ldb, c, ldc, bias, accumulate);
        }
        return;
    }
    if (m <= 4 && b_transposed) {
        smallm_t_portable(m, n, k, a, lda, b, ldb, 0, c, ldc, bias, accumulate);
        return;
    }
    gemm_packed(level, b_transposed ? EK_B_TRANS : EK_B_NORMAL, m, n, k, a, lda, b, ldb, c, ldc, bias, accumulate,
                NULL);
}

long ek_packed_b_floats(int level, long n, long k) {
    if (level > ek_instruction_set()) level = ek_instruction_set();
    long nr = level_nr(level), total = 0;
    for (long jc = 0; jc < n; jc += EK_NC) {
        long nc = n - jc < EK_NC ? n - jc : EK_NC;
        total += k * ((nc + nr - 1) / nr * nr);
    }
    return total;
}

void ek_pack_b_all(int level, long n, long k, const float *b, long ldb, int b_transposed, float *bp) {
    if (level > ek_instruction_set()) level = ek_instruction_set();
    int nr = level_nr(level), kind = b_transposed ? EK_B_TRANS : EK_B_NORMAL;
    for (long jc = 0; jc < n; jc += EK_NC) {
        long nc = n - jc < EK_NC ? n - jc : EK_NC;
        for (long pc = 0; pc < k; pc += EK_KC) {
            long kc = k - pc < EK_KC ? k - pc : EK_KC;
            long offset = b_transposed ? jc * ldb + pc : pc * ldb + jc;
            pack_b(level, kind, b + offset, ldb, kc, nc, nr, bp);
            bp += kc * ((nc + nr - 1) / nr * nr);
        }
    }
}

void ek_sgemm_prepacked(int level, long m, long n, long k, const float *a, long lda, const float *bp, float *c,
                        long ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { gemm_k0(m, n, c, ldc, NULL, 0); return; }
    if (level > ek_instruction_set()) level = ek_instruction_set();
    gemm_packed(level, EK_B_NORMAL, m, n, k, a, lda, NULL, 0, c, ldc, NULL, 0, bp);
}

void ek_sgemm_f16w(int level, long m, long n, long k, const float *a, long lda, const uint16_t *w, long ldw,
                   float *c, long ldc, const float *bias, int accumulate) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { gemm_k0(m, n, c, ldc, bias, accumulate); return; }
    if (level > ek_instruction_set()) level = ek_instruction_set();
    if (m <= SMALL_M) {
        if (level >= 2) ek_smallm_t_avx512(m, n, k, a, lda, w, ldw, 1, c, ldc, bias, accumulate);
        else if (level == 1) ek_smallm_t_avx2(m, n, k, a, lda, w, ldw, 1, c, ldc, bias, accumulate);
        else smallm_t_portable(m, n, k, a, lda, w, ldw, 1, c, ldc, bias, accumulate);
        return;
    }
    gemm_packed(level, EK_B_TRANS_F16, m, n, k, a, lda, w, ldw, c, ldc, bias, accumulate, NULL);
}
