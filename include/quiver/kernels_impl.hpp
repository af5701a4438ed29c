// SIMD bodies of the float32 distance kernels, written once and instantiated per architecture.
//
// Only src/core/kernels_<level>.cpp include this, each compiled with its own -m flags. Every
// function here is a template on Arch, so each TU emits symbols no other TU emits: a
// non-template inline helper would exist once per TU with different instruction sets, and the
// linker could keep the AVX-512 copy for an SSE2 caller. For the same reason this header pulls in
// no STL containers of its own.
//
// Accumulation is float32 throughout, like the scalar reference and pgvector: a sum that
// overflows a float must give +Inf here too, whatever the lane count.
#pragma once

#include <cstddef>

#include <xsimd/xsimd.hpp>

#include "quiver/kernels.hpp"

namespace quiver::core::impl {

template <class Arch> using FloatBatch = xsimd::batch<float, Arch>;

// acc + x * y. xsimd 8.1.0 has a fused kernel for fma3<...> but not for avx512f, where its fma is
// a separate multiply and add; whether the compiler fuses those depends on -ffp-contract and on
// the compiler, so the AVX-512 TU uses the intrinsic on the native register instead. On sse2 there
// is no FMA instruction and the product is rounded before the add, like the scalar reference.
template <class Arch> struct MulAddOp {
	static FloatBatch<Arch>
	Apply(const FloatBatch<Arch> &x, const FloatBatch<Arch> &y, const FloatBatch<Arch> &acc) noexcept
	{
		return xsimd::fma(x, y, acc);
	}
};

// Horizontal sum. For avx512f see the specialisation below.
template <class Arch> struct ReduceAddOp {
	static float
	Apply(const FloatBatch<Arch> &x) noexcept
	{
#if XSIMD_VERSION_MAJOR < 9
		return xsimd::hadd(x);
#else
		return xsimd::reduce_add(x);
#endif
	}
};

#if defined(__AVX512F__)
template <> struct MulAddOp<xsimd::avx512f> {
	static FloatBatch<xsimd::avx512f>
	Apply(const FloatBatch<xsimd::avx512f> &x, const FloatBatch<xsimd::avx512f> &y,
	      const FloatBatch<xsimd::avx512f> &acc) noexcept
	{
		return _mm512_fmadd_ps(x, y, acc);
	}
};

// xsimd 8.1.0's avx512f hadd uses _mm512_extractf32x8_ps, an AVX512DQ instruction, which does not
// compile (and must not run) under -mavx512f alone. _mm512_reduce_add_ps and the unmasked shuffles
// pass _mm512_undefined_ps() through, which GCC 12 flags as -Wuninitialized once inlined (GCC
// PR 105593); the zero-masking forms with a full mask are the same instructions without that.
template <> struct ReduceAddOp<xsimd::avx512f> {
	static float
	Apply(const FloatBatch<xsimd::avx512f> &x) noexcept
	{
		constexpr __mmask16 all = 0xFFFF;
		__m512 s = x;
		s = _mm512_add_ps(s, _mm512_maskz_shuffle_f32x4(all, s, s, _MM_SHUFFLE(1, 0, 3, 2)));
		s = _mm512_add_ps(s, _mm512_maskz_shuffle_f32x4(all, s, s, _MM_SHUFFLE(2, 3, 0, 1)));
		s = _mm512_add_ps(s, _mm512_maskz_permute_ps(all, s, _MM_SHUFFLE(1, 0, 3, 2)));
		s = _mm512_add_ps(s, _mm512_maskz_permute_ps(all, s, _MM_SHUFFLE(2, 3, 0, 1)));
		return _mm512_cvtss_f32(s);
	}
};
#endif

template <class Arch>
inline FloatBatch<Arch>
MulAdd(const FloatBatch<Arch> &x, const FloatBatch<Arch> &y, const FloatBatch<Arch> &acc) noexcept
{
	return MulAddOp<Arch>::Apply(x, y, acc);
}

template <class Arch>
inline float
ReduceAdd(const FloatBatch<Arch> &x) noexcept
{
	return ReduceAddOp<Arch>::Apply(x);
}

template <class Arch>
inline FloatBatch<Arch>
Load(const float *p) noexcept
{
	return FloatBatch<Arch>::load_unaligned(p);
}

} // namespace quiver::core::impl

namespace quiver::core {

// Four independent accumulators: one FMA chain alone is bound by its latency (4 cycles) while
// the core can start two per cycle.
template <class Arch>
float
L2SquaredImpl(const float *a, const float *b, std::size_t n)
{
	using B = impl::FloatBatch<Arch>;
	constexpr std::size_t w = B::size;
	B acc0(0.0f), acc1(0.0f), acc2(0.0f), acc3(0.0f);
	std::size_t i = 0;
	for (; i + 4 * w <= n; i += 4 * w) {
		B d0 = impl::Load<Arch>(a + i) - impl::Load<Arch>(b + i);
		B d1 = impl::Load<Arch>(a + i + w) - impl::Load<Arch>(b + i + w);
		B d2 = impl::Load<Arch>(a + i + 2 * w) - impl::Load<Arch>(b + i + 2 * w);
		B d3 = impl::Load<Arch>(a + i + 3 * w) - impl::Load<Arch>(b + i + 3 * w);
		acc0 = impl::MulAdd<Arch>(d0, d0, acc0);
		acc1 = impl::MulAdd<Arch>(d1, d1, acc1);
		acc2 = impl::MulAdd<Arch>(d2, d2, acc2);
		acc3 = impl::MulAdd<Arch>(d3, d3, acc3);
	}
	for (; i + w <= n; i += w) {
		B d = impl::Load<Arch>(a + i) - impl::Load<Arch>(b + i);
		acc0 = impl::MulAdd<Arch>(d, d, acc0);
	}
	float sum = impl::ReduceAdd<Arch>((acc0 + acc1) + (acc2 + acc3));
	for (; i < n; i++) {
		float d = a[i] - b[i];
		sum += d * d;
	}
	return sum;
}

template <class Arch>
float
DotImpl(const float *a, const float *b, std::size_t n)
{
	using B = impl::FloatBatch<Arch>;
	constexpr std::size_t w = B::size;
	B acc0(0.0f), acc1(0.0f), acc2(0.0f), acc3(0.0f);
	std::size_t i = 0;
	for (; i + 4 * w <= n; i += 4 * w) {
		acc0 = impl::MulAdd<Arch>(impl::Load<Arch>(a + i), impl::Load<Arch>(b + i), acc0);
		acc1 = impl::MulAdd<Arch>(impl::Load<Arch>(a + i + w), impl::Load<Arch>(b + i + w), acc1);
		acc2 = impl::MulAdd<Arch>(impl::Load<Arch>(a + i + 2 * w), impl::Load<Arch>(b + i + 2 * w), acc2);
		acc3 = impl::MulAdd<Arch>(impl::Load<Arch>(a + i + 3 * w), impl::Load<Arch>(b + i + 3 * w), acc3);
	}
	for (; i + w <= n; i += w)
		acc0 = impl::MulAdd<Arch>(impl::Load<Arch>(a + i), impl::Load<Arch>(b + i), acc0);
	float sum = impl::ReduceAdd<Arch>((acc0 + acc1) + (acc2 + acc3));
	for (; i < n; i++)
		sum += a[i] * b[i];
	return sum;
}

template <class Arch>
float
L1Impl(const float *a, const float *b, std::size_t n)
{
	using B = impl::FloatBatch<Arch>;
	constexpr std::size_t w = B::size;
	B acc0(0.0f), acc1(0.0f), acc2(0.0f), acc3(0.0f);
	std::size_t i = 0;
	for (; i + 4 * w <= n; i += 4 * w) {
		acc0 += xsimd::abs(impl::Load<Arch>(a + i) - impl::Load<Arch>(b + i));
		acc1 += xsimd::abs(impl::Load<Arch>(a + i + w) - impl::Load<Arch>(b + i + w));
		acc2 += xsimd::abs(impl::Load<Arch>(a + i + 2 * w) - impl::Load<Arch>(b + i + 2 * w));
		acc3 += xsimd::abs(impl::Load<Arch>(a + i + 3 * w) - impl::Load<Arch>(b + i + 3 * w));
	}
	for (; i + w <= n; i += w)
		acc0 += xsimd::abs(impl::Load<Arch>(a + i) - impl::Load<Arch>(b + i));
	float sum = impl::ReduceAdd<Arch>((acc0 + acc1) + (acc2 + acc3));
	for (; i < n; i++) {
		float d = a[i] - b[i];
		sum += d < 0.0f ? -d : d;
	}
	return sum;
}

// The three sums are already three independent chains; unrolling twice makes six, enough to keep
// both FMA ports busy without spilling the 16 registers SSE2 and AVX2 have.
template <class Arch>
CosineSums
CosineSumsImpl(const float *a, const float *b, std::size_t n)
{
	using B = impl::FloatBatch<Arch>;
	constexpr std::size_t w = B::size;
	B dot0(0.0f), dot1(0.0f), na0(0.0f), na1(0.0f), nb0(0.0f), nb1(0.0f);
	std::size_t i = 0;
	for (; i + 2 * w <= n; i += 2 * w) {
		B a0 = impl::Load<Arch>(a + i);
		B b0 = impl::Load<Arch>(b + i);
		B a1 = impl::Load<Arch>(a + i + w);
		B b1 = impl::Load<Arch>(b + i + w);
		dot0 = impl::MulAdd<Arch>(a0, b0, dot0);
		na0 = impl::MulAdd<Arch>(a0, a0, na0);
		nb0 = impl::MulAdd<Arch>(b0, b0, nb0);
		dot1 = impl::MulAdd<Arch>(a1, b1, dot1);
		na1 = impl::MulAdd<Arch>(a1, a1, na1);
		nb1 = impl::MulAdd<Arch>(b1, b1, nb1);
	}
	for (; i + w <= n; i += w) {
		B a0 = impl::Load<Arch>(a + i);
		B b0 = impl::Load<Arch>(b + i);
		dot0 = impl::MulAdd<Arch>(a0, b0, dot0);
		na0 = impl::MulAdd<Arch>(a0, a0, na0);
		nb0 = impl::MulAdd<Arch>(b0, b0, nb0);
	}
	CosineSums sums;
	sums.dot = impl::ReduceAdd<Arch>(dot0 + dot1);
	sums.norm_a = impl::ReduceAdd<Arch>(na0 + na1);
	sums.norm_b = impl::ReduceAdd<Arch>(nb0 + nb1);
	for (; i < n; i++) {
		sums.dot += a[i] * b[i];
		sums.norm_a += a[i] * a[i];
		sums.norm_b += b[i] * b[i];
	}
	return sums;
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
