// The AVX-512F kernels (compiled with -mavx512f -mavx2 -mfma -mf16c). Keep this file to the
// instantiations: see kernels_impl.hpp, whose ArchOps<avx512f> supplies what xsimd 8.1.0 lacks
// or gets wrong for avx512f (fused multiply-add, an F-only horizontal sum) and the split loads
// for misaligned vectors.
#include "quiver/kernels_impl.hpp"
#include "kernels_internal.hpp"

#if !defined(__AVX512F__) || !defined(__F16C__)
#error "kernels_avx512.cpp must be compiled with -mavx512f -mf16c"
#endif

namespace quiver::core {

namespace {
constexpr internal::LevelKernels kKernels = {MakeF32Kernels<xsimd::avx512f>(KernelLevel::AVX512),
                                             MakeF16Kernels<xsimd::avx512f>(KernelLevel::AVX512)};
} // namespace

const internal::LevelKernels &
internal::KernelsAVX512() noexcept
{
	return kKernels;
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
