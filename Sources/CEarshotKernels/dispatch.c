// Instruction-set detection, level caps and thread-local scratch memory.
#include "internal.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static int hardware_level = -1;
static int global_cap = 3;
static _Thread_local int thread_cap = 3;

int ek_instruction_set(void) {
    int cached = __atomic_load_n(&hardware_level, __ATOMIC_RELAXED);
    if (cached >= 0) return cached;
    int level = 0;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
        level = 1;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
            level = __builtin_cpu_supports("avx512vnni") ? 3 : 2;
        }
    }
#endif
    __atomic_store_n(&hardware_level, level, __ATOMIC_RELAXED);
    return level;
}

void ek_force_level(int level) { __atomic_store_n(&global_cap, level < 0 ? 3 : level, __ATOMIC_RELAXED); }

void ek_set_thread_level(int level) { thread_cap = level < 0 ? 3 : level; }

int ek_level(void) {
    int level = ek_instruction_set();
    int g = __atomic_load_n(&global_cap, __ATOMIC_RELAXED);
    if (g < level) level = g;
    if (thread_cap < level) level = thread_cap;
    return level;
}

struct ek_scratch_slot { void *p; size_t cap; };
static _Thread_local struct ek_scratch_slot slots[8];
static _Thread_local int slots_registered;
static pthread_key_t slots_key;
static pthread_once_t slots_key_once = PTHREAD_ONCE_INIT;

/* A worker thread's scratch is freed when the thread exits (libdispatch retires idle workers and starts new
   ones; without this each retired worker's buffers leaked — LeakSanitizer found it in the ASan test run). */
static void release_slots(void *value) {
    struct ek_scratch_slot *s = value;
    for (int i = 0; i < 8; i++) { free(s[i].p); s[i].p = NULL; s[i].cap = 0; }
}

static void make_slots_key(void) { pthread_key_create(&slots_key, release_slots); }

void *ek_scratch(int slot, size_t bytes) {
    if (slots[slot].cap < bytes) {
        if (!slots_registered) {
            pthread_once(&slots_key_once, make_slots_key);
            pthread_setspecific(slots_key, slots);
            slots_registered = 1;
        }
        free(slots[slot].p);
        size_t rounded = (bytes + 4095) & ~(size_t)4095;
        slots[slot].p = aligned_alloc(64, rounded);
        slots[slot].cap = slots[slot].p ? rounded : 0;
    }
    return slots[slot].p;
}

float ek_half_to_float_scalar(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000 | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else {  // subnormal half: normalise
        int e = -1;
        do { man <<= 1; e++; } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}
