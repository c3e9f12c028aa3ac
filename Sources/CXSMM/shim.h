// libxsmm (Debian libxsmm-dev 1.17): JIT-generated kernels for small matrix products. Its kernel
// type is a variadic function pointer, which Swift cannot call, so two inline wrappers dispatch
// (column-major C(m×n) = A(m×k)·B(k×n) + beta·C, alpha 1) and call a kernel with three operands.
#ifndef CXSMM_SHIM_H
#define CXSMM_SHIM_H
#include <libxsmm.h>

static inline const void *esvit_xsmm_dispatch(int m, int n, int k, int lda, int ldb, int ldc, float beta) {
    const libxsmm_blasint a = lda, b = ldb, c = ldc;
    const float alpha = 1;
    return (const void *)libxsmm_smmdispatch(m, n, k, &a, &b, &c, &alpha, &beta, NULL, NULL);
}

static inline void esvit_xsmm_call(const void *kernel, const float *a, const float *b, float *c) {
    ((libxsmm_smmfunction)kernel)(a, b, c);
}
#endif
