// The table of kernels compiled once per instruction set (isa/kernels.cc is built three times:
// AVX-512, AVX2+FMA and the x86-64 baseline). runtime/simd.cc picks one table at start-up.
#pragma once
#include <cstdint>

namespace dlf {

struct Kernels {
  const char* name;
  int vector_floats;  // floats per vector register

  // C = alpha * op(A) * op(B) + beta * C, row-major. op(A) is M x K, op(B) is K x N.
  // A(i,k) = transA ? A[k*lda + i] : A[i*lda + k]; likewise B. beta == 0 ignores C's contents.
  // Splits the work over the thread pool when it is large enough.
  void (*sgemm)(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
};

const Kernels* kernels_avx512();
const Kernels* kernels_avx2();
const Kernels* kernels_base();

}  // namespace dlf
