// SIMD bodies of the float32 distance kernels, written once and instantiated per architecture.
//
// Only src/core/kernels_<level>.cpp include this, each compiled with its own -m flags. Every
// function here is a template on Arch (or lives inside one), so each TU emits symbols no other TU
// emits: a non-template inline helper would exist once per TU with different instruction sets,
// and the linker could keep the AVX-512 copy for an SSE2 caller. For the same reason this header
// pulls in no STL containers of its own.
//
// Accumulation is float32 throughout, like the scalar reference and pgvector: a sum that
// overflows a float must give +Inf here too, whatever the lane count. Which element goes to which
// lane and accumulator depends only on its index, never on the address, so equal inputs give
// bit-identical results wherever they are stored (an index-computed distance and a recheck agree).
#pragma once

#include <cstddef>
#include <cstdint>

#include <xsimd/xsimd.hpp>

#include "quiver/kernels.hpp"

namespace quiver::core::impl {

template <class Arch> using FloatBatch = xsimd::batch<float, Arch>;

// What one architecture needs beyond plain xsimd batches; the defaults suit sse2 and fma3<avx2>.
template <class Arch> struct ArchOps {
	using B = FloatBatch<Arch>;

	// Whether a batch that straddles two cache lines is better loaded as two halves.
	static constexpr bool kSplitUnaligned = false;
	// Whether the last n % lanes elements are done by one masked batch instead of a scalar loop.
	static constexpr bool kMaskedTail = false;

	static B
	LoadWhole(const float *p) noexcept
	{
		return B::load_unaligned(p);
	}

	// acc + x * y. A real FMA for fma3<...>; on sse2, which has none, xsimd multiplies and adds,
	// rounding the product first like the scalar reference does.
	static B
	MulAdd(const B &x, const B &y, const B &acc) noexcept
	{
		return xsimd::fma(x, y, acc);
	}

	static float
	ReduceAdd(const B &x) noexcept
	{
#if XSIMD_VERSION_MAJOR < 9
		return xsimd::hadd(x);
#else
		return xsimd::reduce_add(x);
#endif
	}
};

#if defined(__AVX512F__)
template <> struct ArchOps<xsimd::avx512f> {
	using B = FloatBatch<xsimd::avx512f>;

	// A 64-byte load from an address that is not 64-byte aligned touches two cache lines, and on
	// the AMD EPYC machines here that halves the rate at which vectors stream from memory (about
	// 22 against 40-44 GB/s in bench_kernels; 32-byte AVX2 loads do not suffer). PostgreSQL keeps
	// tuples only 8-byte aligned, so for a misaligned input each batch is read as two 32-byte
	// loads joined in a register: the same lanes, so the same result, for about the AVX2 cost on
	// cache-resident data and the full memory bandwidth on streamed data. Aligning the loop to
	// the address instead (peeling) would be as fast but would make the rounding, and so the
	// result, depend on where a vector happens to be stored.
	static constexpr bool kSplitUnaligned = true;
	static constexpr bool kMaskedTail = true;

	static bool
	LineAligned(const float *p) noexcept
	{
		return reinterpret_cast<std::uintptr_t>(p) % 64 == 0;
	}

	static B
	LoadWhole(const float *p) noexcept
	{
		return _mm512_loadu_ps(p);
	}

	static B
	LoadHalves(const float *p) noexcept
	{
		// Zero-masking form for the same reason as in ReduceAdd below.
		__m512d low = _mm512_castps_pd(_mm512_castps256_ps512(_mm256_loadu_ps(p)));
		__m256d high = _mm256_castps_pd(_mm256_loadu_ps(p + 8));
		return _mm512_castpd_ps(_mm512_maskz_insertf64x4(0xFF, low, high, 1));
	}

	// The first count (< 16) elements at p, zeros in the other lanes, reading nothing past them.
	// A zero lane adds nothing to any of the four sums.
	static B
	LoadFirst(const float *p, std::size_t count) noexcept
	{
		return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1u), p);
	}

	// xsimd 8.1.0 has no fused kernel for avx512f: its fma is a multiply and an add, fused or not
	// depending on the compiler's -ffp-contract. The intrinsic makes it one vfmadd for sure.
	static B
	MulAdd(const B &x, const B &y, const B &acc) noexcept
	{
		return _mm512_fmadd_ps(x, y, acc);
	}

	// xsimd 8.1.0's avx512f hadd uses _mm512_extractf32x8_ps, an AVX512DQ instruction, which does
	// not compile (and must not run) under -mavx512f alone. _mm512_reduce_add_ps and the unmasked
	// shuffles pass _mm512_undefined_ps() through, which GCC 12 reports as -Wuninitialized once
	// inlined (GCC PR 105593); the zero-masking forms with a full mask are the same instructions.
	static float
	ReduceAdd(const B &x) noexcept
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

// Loads whole batches of one input, in one piece or in halves.
template <class Arch, bool kSplit> struct Loader {
	static FloatBatch<Arch>
	Load(const float *p) noexcept
	{
		if constexpr (kSplit)
			return ArchOps<Arch>::LoadHalves(p);
		else
			return ArchOps<Arch>::LoadWhole(p);
	}
};

// Calls body(loader_a, loader_b) with the loaders that suit the alignment of a and b. Where the
// architecture never splits, there is a single instantiation and no test.
template <class Arch, class Body>
inline auto
WithLoaders(const float *a, const float *b, const Body &body)
{
	using Ops = ArchOps<Arch>;
	if constexpr (Ops::kSplitUnaligned) {
		bool split_a = !Ops::LineAligned(a);
		bool split_b = !Ops::LineAligned(b);
		if (split_a && split_b)
			return body(Loader<Arch, true>{}, Loader<Arch, true>{});
		if (split_a)
			return body(Loader<Arch, true>{}, Loader<Arch, false>{});
		if (split_b)
			return body(Loader<Arch, false>{}, Loader<Arch, true>{});
	}
	return body(Loader<Arch, false>{}, Loader<Arch, false>{});
}

} // namespace quiver::core::impl

namespace quiver::core {

// Four independent accumulators: one FMA chain alone is bound by its latency (4 cycles) while
// the core can start two per cycle.
template <class Arch>
float
L2SquaredImpl(const float *a, const float *b, std::size_t n)
{
	using Ops = impl::ArchOps<Arch>;
	using B = impl::FloatBatch<Arch>;
	return impl::WithLoaders<Arch>(a, b, [a, b, n](auto la, auto lb) {
		constexpr std::size_t w = B::size;
		B acc0(0.0f), acc1(0.0f), acc2(0.0f), acc3(0.0f);
		std::size_t i = 0;
		for (; i + 4 * w <= n; i += 4 * w) {
			B d0 = la.Load(a + i) - lb.Load(b + i);
			B d1 = la.Load(a + i + w) - lb.Load(b + i + w);
			B d2 = la.Load(a + i + 2 * w) - lb.Load(b + i + 2 * w);
			B d3 = la.Load(a + i + 3 * w) - lb.Load(b + i + 3 * w);
			acc0 = Ops::MulAdd(d0, d0, acc0);
			acc1 = Ops::MulAdd(d1, d1, acc1);
			acc2 = Ops::MulAdd(d2, d2, acc2);
			acc3 = Ops::MulAdd(d3, d3, acc3);
		}
		for (; i + w <= n; i += w) {
			B d = la.Load(a + i) - lb.Load(b + i);
			acc0 = Ops::MulAdd(d, d, acc0);
		}
		if constexpr (Ops::kMaskedTail) {
			if (i < n) {
				B d = Ops::LoadFirst(a + i, n - i) - Ops::LoadFirst(b + i, n - i);
				acc1 = Ops::MulAdd(d, d, acc1);
				i = n;
			}
		}
		float sum = Ops::ReduceAdd((acc0 + acc1) + (acc2 + acc3));
		for (; i < n; i++) {
			float d = a[i] - b[i];
			sum += d * d;
		}
		return sum;
	});
}

template <class Arch>
float
DotImpl(const float *a, const float *b, std::size_t n)
{
	using Ops = impl::ArchOps<Arch>;
	using B = impl::FloatBatch<Arch>;
	return impl::WithLoaders<Arch>(a, b, [a, b, n](auto la, auto lb) {
		constexpr std::size_t w = B::size;
		B acc0(0.0f), acc1(0.0f), acc2(0.0f), acc3(0.0f);
		std::size_t i = 0;
		for (; i + 4 * w <= n; i += 4 * w) {
			acc0 = Ops::MulAdd(la.Load(a + i), lb.Load(b + i), acc0);
			acc1 = Ops::MulAdd(la.Load(a + i + w), lb.Load(b + i + w), acc1);
			acc2 = Ops::MulAdd(la.Load(a + i + 2 * w), lb.Load(b + i + 2 * w), acc2);
			acc3 = Ops::MulAdd(la.Load(a + i + 3 * w), lb.Load(b + i + 3 * w), acc3);
		}
		for (; i + w <= n; i += w)
			acc0 = Ops::MulAdd(la.Load(a + i), lb.Load(b + i), acc0);
		if constexpr (Ops::kMaskedTail) {
			if (i < n) {
				acc1 = Ops::MulAdd(Ops::LoadFirst(a + i, n - i), Ops::LoadFirst(b + i, n - i), acc1);
				i = n;
			}
		}
		float sum = Ops::ReduceAdd((acc0 + acc1) + (acc2 + acc3));
		for (; i < n; i++)
			sum += a[i] * b[i];
		return sum;
	});
}

template <class Arch>
float
L1Impl(const float *a, const float *b, std::size_t n)
{
	using Ops = impl::ArchOps<Arch>;
	using B = impl::FloatBatch<Arch>;
	return impl::WithLoaders<Arch>(a, b, [a, b, n](auto la, auto lb) {
		constexpr std::size_t w = B::size;
		B acc0(0.0f), acc1(0.0f), acc2(0.0f), acc3(0.0f);
		std::size_t i = 0;
		for (; i + 4 * w <= n; i += 4 * w) {
			acc0 += xsimd::abs(la.Load(a + i) - lb.Load(b + i));
			acc1 += xsimd::abs(la.Load(a + i + w) - lb.Load(b + i + w));
			acc2 += xsimd::abs(la.Load(a + i + 2 * w) - lb.Load(b + i + 2 * w));
			acc3 += xsimd::abs(la.Load(a + i + 3 * w) - lb.Load(b + i + 3 * w));
		}
		for (; i + w <= n; i += w)
			acc0 += xsimd::abs(la.Load(a + i) - lb.Load(b + i));
		if constexpr (Ops::kMaskedTail) {
			if (i < n) {
				acc1 += xsimd::abs(Ops::LoadFirst(a + i, n - i) - Ops::LoadFirst(b + i, n - i));
				i = n;
			}
		}
		float sum = Ops::ReduceAdd((acc0 + acc1) + (acc2 + acc3));
		// The builtin, not std::fabs: <cmath>'s inline overloads would be emitted by every arch
		// TU at -O0 (see the top of this file), and ?: may compile to a branch that random signs
		// mispredict.
		for (; i < n; i++)
			sum += __builtin_fabsf(a[i] - b[i]);
		return sum;
	});
}

// The three sums are already three independent chains; unrolling twice makes six, enough to keep
// both FMA ports busy without spilling the 16 registers SSE2 and AVX2 have.
template <class Arch>
CosineSums
CosineSumsImpl(const float *a, const float *b, std::size_t n)
{
	using Ops = impl::ArchOps<Arch>;
	using B = impl::FloatBatch<Arch>;
	return impl::WithLoaders<Arch>(a, b, [a, b, n](auto la, auto lb) {
		constexpr std::size_t w = B::size;
		B dot0(0.0f), dot1(0.0f), na0(0.0f), na1(0.0f), nb0(0.0f), nb1(0.0f);
		std::size_t i = 0;
		for (; i + 2 * w <= n; i += 2 * w) {
			B a0 = la.Load(a + i);
			B b0 = lb.Load(b + i);
			B a1 = la.Load(a + i + w);
			B b1 = lb.Load(b + i + w);
			dot0 = Ops::MulAdd(a0, b0, dot0);
			na0 = Ops::MulAdd(a0, a0, na0);
			nb0 = Ops::MulAdd(b0, b0, nb0);
			dot1 = Ops::MulAdd(a1, b1, dot1);
			na1 = Ops::MulAdd(a1, a1, na1);
			nb1 = Ops::MulAdd(b1, b1, nb1);
		}
		for (; i + w <= n; i += w) {
			B a0 = la.Load(a + i);
			B b0 = lb.Load(b + i);
			dot0 = Ops::MulAdd(a0, b0, dot0);
			na0 = Ops::MulAdd(a0, a0, na0);
			nb0 = Ops::MulAdd(b0, b0, nb0);
		}
		if constexpr (Ops::kMaskedTail) {
			if (i < n) {
				B a1 = Ops::LoadFirst(a + i, n - i);
				B b1 = Ops::LoadFirst(b + i, n - i);
				dot1 = Ops::MulAdd(a1, b1, dot1);
				na1 = Ops::MulAdd(a1, a1, na1);
				nb1 = Ops::MulAdd(b1, b1, nb1);
				i = n;
			}
		}
		CosineSums sums;
		sums.dot = Ops::ReduceAdd(dot0 + dot1);
		sums.norm_a = Ops::ReduceAdd(na0 + na1);
		sums.norm_b = Ops::ReduceAdd(nb0 + nb1);
		for (; i < n; i++) {
			sums.dot += a[i] * b[i];
			sums.norm_a += a[i] * a[i];
			sums.norm_b += b[i] * b[i];
		}
		return sums;
	});
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
