#ifndef EARSHOT_KERNELS_H
#define EARSHOT_KERNELS_H
// C kernels with run-time instruction-set dispatch (AVX-512 / AVX2+FMA / portable).
#include <stddef.h>
#include <stdint.h>

/// The instruction set the dispatched kernels use: 0 portable, 1 AVX2+FMA+F16C, 2 AVX-512, 3 AVX-512+VNNI.
int ek_instruction_set(void);

#endif
