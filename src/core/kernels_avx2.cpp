// The AVX2 + FMA kernels (compiled with -mavx2 -mfma). Keep this file to the instantiations: see
// kernels_impl.hpp.
#include "quiver/kernels_impl.hpp"
#include "kernels_internal.hpp"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "kernels_avx2.cpp must be compiled with -mavx2 -mfma"
#endif

namespace quiver::core {

// fma3<avx2>, not avx2: xsimd's fused multiply-add kernel is registered for the fma3 arch only.
using Avx2Fma = xsimd::fma3<xsimd::avx2>;

template float L2SquaredImpl<Avx2Fma>(const float *, const float *, std::size_t);
template float DotImpl<Avx2Fma>(const float *, const float *, std::size_t);
template float L1Impl<Avx2Fma>(const float *, const float *, std::size_t);
template CosineSums CosineSumsImpl<Avx2Fma>(const float *, const float *, std::size_t);

namespace {
constexpr F32Kernels kKernels = {KernelLevel::AVX2, &L2SquaredImpl<Avx2Fma>, &DotImpl<Avx2Fma>, &L1Impl<Avx2Fma>,
                                 &CosineSumsImpl<Avx2Fma>};
} // namespace

const F32Kernels &
internal::KernelsAVX2() noexcept
{
	return kKernels;
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
