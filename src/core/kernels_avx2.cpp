// The AVX2 + FMA kernels (compiled with -mavx2 -mfma -mf16c). Keep this file to the
// instantiations: see kernels_impl.hpp.
#include "quiver/kernels_impl.hpp"
#include "kernels_internal.hpp"

#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "kernels_avx2.cpp must be compiled with -mavx2 -mfma -mf16c"
#endif

namespace quiver::core {

// fma3<avx2>, not avx2: xsimd's fused multiply-add kernel is registered for the fma3 arch only.
using Avx2Fma = xsimd::fma3<xsimd::avx2>;

namespace {
constexpr internal::LevelKernels kKernels = {MakeF32Kernels<Avx2Fma>(KernelLevel::AVX2),
                                             MakeF16Kernels<Avx2Fma>(KernelLevel::AVX2)};
} // namespace

const internal::LevelKernels &
internal::KernelsAVX2() noexcept
{
	return kKernels;
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
