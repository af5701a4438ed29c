// The SSE2 kernels (compiled with -msse2). Keep this file to the instantiations: see kernels_impl.hpp.
#include "quiver/kernels_impl.hpp"
#include "kernels_internal.hpp"

namespace quiver::core {

template float L2SquaredImpl<xsimd::sse2>(const float *, const float *, std::size_t);
template float DotImpl<xsimd::sse2>(const float *, const float *, std::size_t);
template float L1Impl<xsimd::sse2>(const float *, const float *, std::size_t);
template CosineSums CosineSumsImpl<xsimd::sse2>(const float *, const float *, std::size_t);

namespace {
constexpr F32Kernels kKernels = {KernelLevel::SSE2, &L2SquaredImpl<xsimd::sse2>, &DotImpl<xsimd::sse2>,
                                 &L1Impl<xsimd::sse2>, &CosineSumsImpl<xsimd::sse2>};
} // namespace

const F32Kernels &
internal::KernelsSSE2() noexcept
{
	return kKernels;
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
