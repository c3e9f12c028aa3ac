// Per-thread floating-point control. Flush-to-zero and denormals-are-zero: masked attention
// logits (−100) produce subnormal probabilities whose arithmetic takes microcode assists on
// x86 (measured: attention 10x slower). Values below 1.2e-38 become 0, far below any tolerance.
#ifndef CCPU_CONTROL_H
#define CCPU_CONTROL_H
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
static inline void ccpu_flush_denormals(void) { _mm_setcsr(_mm_getcsr() | 0x8040); }
static inline int ccpu_flushing_denormals(void) { return (_mm_getcsr() & 0x8040) == 0x8040; }
#else
static inline void ccpu_flush_denormals(void) {}
static inline int ccpu_flushing_denormals(void) { return 1; }
#endif
#endif
