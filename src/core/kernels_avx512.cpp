// The AVX-512F kernels (compiled with -mavx512f -mavx2 -mfma). Keep this file to the
// instantiations: see kernels_impl.hpp, whose ArchOps<avx512f> supplies what xsimd 8.1.0 lacks
// or gets wrong for avx512f (fused multiply-add, an F-only horizontal sum) and the split loads
// for misaligned vectors.
#include "quiver/kernels_impl.hpp"
#include "kernels_internal.hpp"

#if !defined(__AVX512F__)
#error "kernels_avx512.cpp must be compiled with -mavx512f"
#endif

namespace quiver::core {

template float L2SquaredImpl<xsimd::avx512f>(const float *, const float *, std::size_t);
template float DotImpl<xsimd::avx512f>(const float *, const float *, std::size_t);
template float L1Impl<xsimd::avx512f>(const float *, const float *, std::size_t);
template CosineSums CosineSumsImpl<xsimd::avx512f>(const float *, const float *, std::size_t);

namespace {
constexpr F32Kernels kKernels = {KernelLevel::AVX512, &L2SquaredImpl<xsimd::avx512f>, &DotImpl<xsimd::avx512f>,
                                 &L1Impl<xsimd::avx512f>, &CosineSumsImpl<xsimd::avx512f>};
} // namespace

const F32Kernels &
internal::KernelsAVX512() noexcept
{
	return kKernels;
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
