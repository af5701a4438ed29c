// Throughput of the distance kernels, per level this CPU supports, against memory bandwidth.
//
// Two regimes per kernel, level and dimension:
//   cache/<kernel>/<level>/<dim>/<align>      one pair of vectors, over and over: the kernel's
//                                             compute speed, what an HNSW search sees for its hot
//                                             upper layers.
//   streaming/<kernel>/<level>/<dim>/<align>  one query against every vector of a 256 MiB set:
//                                             what an exact scan (or a cold graph) sees;
//                                             memory-bound when the kernel is fast enough.
// <align> is "aligned" (every vector on a 64-byte boundary) or "offset8" (8 bytes past one, what
// PostgreSQL guarantees for tuple data): AVX-512 loads that straddle cache lines cost bandwidth.
// memory_read only sums the same 256 MiB, the bandwidth no scan can beat. The GB/s columns (bytes
// of stored vectors read; the cached query is not counted) compare directly with it.
//
//   bench_kernels --benchmark_filter='streaming/.*/768/|memory_read'
//
// The half kernels (half_<kernel>, for halfvec) run the same two regimes at dimension 768 over a
// set of the same 256 MiB: their GB/s compare with the float32 kernels' and with memory_read, and
// their items/s (vectors) show what storing half the bytes buys.
//
//   bench_kernels --benchmark_filter='half|memory_read'
//
// The sparse merge kernels (sparse/<kernel>/<nnz>) run on pairs of SPLADE-like vectors: nnz
// random indices each out of 30,522 dimensions (BERT's vocabulary), so few indices match.
// sparse/dot_branchy is the plain if/else merge, the baseline the branchless merge replaced.
//
//   bench_kernels --benchmark_filter='sparse'
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>
#include <type_traits>

#include <benchmark/benchmark.h>

#include "quiver/bits.hpp"
#include "quiver/half.hpp"
#include "quiver/kernels.hpp"
#include "quiver/sparse.hpp"

namespace {

using quiver::core::CosineSums;
using quiver::core::F16Kernels;
using quiver::core::F32Kernels;
using quiver::core::Half;
using quiver::core::KernelLevel;

constexpr std::size_t kStreamBytes = std::size_t{256} << 20;
constexpr std::size_t kMaxDim = 1536;
constexpr std::size_t kDims[] = {128, 768, 1536};
constexpr std::size_t kHalfDims[] = {768};
// Every dimension above is a multiple of 32 elements (64 bytes of halves, 128 of floats), so with
// the set starting at one of these offsets (in bytes) from a 64-byte boundary every vector in it
// does too.
constexpr std::size_t kAlignedOffset = 0;
constexpr std::size_t kPostgresOffset = 8;

// Deterministic values in [-1, 1); a PRNG from <random> takes seconds to fill 256 MiB.
template <class T>
void
FillRandom(T *p, std::size_t n, std::uint64_t seed)
{
	std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	for (std::size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		float value = static_cast<float>(static_cast<double>(x >> 40) / static_cast<double>(1ull << 23) - 1.0);
		if constexpr (std::is_same_v<T, Half>)
			p[i] = quiver::core::FloatToHalf(value);
		else
			p[i] = value;
	}
}

// Elements (float or Half), 64-byte aligned, with 64 bytes of slack so that an offset copy still
// fits.
template <class T> struct AlignedArray {
	explicit AlignedArray(std::size_t n)
	    : count(n), data(static_cast<T *>(std::aligned_alloc(64, n * sizeof(T) + 64)), &std::free)
	{
		if (data == nullptr)
			throw std::bad_alloc();
	}
	std::size_t count;
	std::unique_ptr<T, decltype(&std::free)> data;
};

// Allocated and written (so faulted in) on first use only, so that listing or filtering
// benchmarks does not cost 256 MiB. Written once per element type; the offset views share it.
template <class T>
const AlignedArray<T> &
StreamData()
{
	static const AlignedArray<T> set = [] {
		AlignedArray<T> v(kStreamBytes / sizeof(T));
		FillRandom(v.data.get(), v.count + 64 / sizeof(T), 1);
		return v;
	}();
	return set;
}

template <class T>
const AlignedArray<T> &
PairData()
{
	static const AlignedArray<T> pair = [] {
		AlignedArray<T> p(2 * kMaxDim);
		FillRandom(p.data.get(), p.count + 64 / sizeof(T), 2);
		return p;
	}();
	return pair;
}

// The kernels return either a float or CosineSums; folding both into a float keeps every result
// live without a second copy of each benchmark loop.
inline float
Fold(float x)
{
	return x;
}

inline float
Fold(const CosineSums &s)
{
	return s.dot + s.norm_a + s.norm_b;
}

// offset counts elements here and in BenchStreaming (the alignments in RegisterKernel count bytes).
template <class T, class R>
void
BenchCache(benchmark::State &state, R (*fn)(const T *, const T *, std::size_t), std::size_t dim, std::size_t offset)
{
	const T *a = PairData<T>().data.get() + offset;
	const T *b = a + kMaxDim;
	for (auto _ : state) {
		auto r = fn(a, b, dim);
		benchmark::DoNotOptimize(r);
	}
	state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
	state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * 2 * dim * sizeof(T)));
}

// The query is the first argument and the stored vectors the second, as hnswlib passes them.
template <class T, class R>
void
BenchStreaming(benchmark::State &state, R (*fn)(const T *, const T *, std::size_t), std::size_t dim, std::size_t offset)
{
	const AlignedArray<T> &set = StreamData<T>();
	const T *query = PairData<T>().data.get() + offset;
	std::size_t count = set.count / dim;
	for (auto _ : state) {
		float acc = 0.0f;
		const T *v = set.data.get() + offset;
		for (std::size_t i = 0; i < count; i++, v += dim)
			acc += Fold(fn(query, v, dim));
		benchmark::DoNotOptimize(acc);
	}
	state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * count));
	state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * count * dim * sizeof(T)));
}

// Reads the 256 MiB as fast as one core can: eight independent 16-byte accumulators, named so
// that they stay in registers (GCC vector extensions, so it needs no -m flag and no intrinsics),
// are more than DRAM can feed.
void
BenchMemoryRead(benchmark::State &state)
{
	typedef float V4 __attribute__((vector_size(16)));
	const AlignedArray<float> &set = StreamData<float>();
	const float *p = set.data.get();
	std::size_t n = set.count;
	auto load = [p](std::size_t i) {
		V4 x;
		std::memcpy(&x, p + i, sizeof x);
		return x;
	};
	for (auto _ : state) {
		V4 s0 = {}, s1 = {}, s2 = {}, s3 = {}, s4 = {}, s5 = {}, s6 = {}, s7 = {};
		for (std::size_t i = 0; i + 32 <= n; i += 32) {
			s0 += load(i);
			s1 += load(i + 4);
			s2 += load(i + 8);
			s3 += load(i + 12);
			s4 += load(i + 16);
			s5 += load(i + 20);
			s6 += load(i + 24);
			s7 += load(i + 28);
		}
		V4 total = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
		float sum = total[0] + total[1] + total[2] + total[3];
		benchmark::DoNotOptimize(sum);
	}
	state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * sizeof(float)));
}

// Bit strings of 1,536 and 64,000 bits (a binary-quantized 1536-d embedding, and the largest
// bit an hnsw index takes), in cache: bytes of both inputs per second.
void
RegisterBitKernels()
{
	for (const quiver::core::BitKernels *k : {&quiver::core::PortableBitKernels(),
	                                          &quiver::core::BitKernelsFor(KernelLevel::AVX2),
	                                          &quiver::core::BitKernelsFor(KernelLevel::AVX512)}) {
		for (std::size_t bits : {1536u, 64000u}) {
			std::string suffix = std::string(k->name) + "/" + std::to_string(bits);
			auto run = [k, bits](benchmark::State &state, bool jaccard) {
				std::size_t bytes = bits / 8;
				static const std::vector<std::uint8_t> data = [] {
					std::vector<std::uint8_t> d(2 * 8000);
					std::uint32_t x = 12345;
					for (auto &byte : d) {
						x = x * 1664525u + 1013904223u;
						byte = static_cast<std::uint8_t>(x >> 24);
					}
					return d;
				}();
				const std::uint8_t *a = data.data();
				const std::uint8_t *b = a + bytes;
				for (auto _ : state) {
					if (jaccard) {
						auto r = k->jaccard(a, b, bytes);
						benchmark::DoNotOptimize(r);
					} else {
						auto r = k->hamming(a, b, bytes);
						benchmark::DoNotOptimize(r);
					}
				}
				state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * 2 * bytes));
			};
			benchmark::RegisterBenchmark(("bits/hamming/" + suffix).c_str(),
			                             [run](benchmark::State &state) { run(state, false); });
			benchmark::RegisterBenchmark(("bits/jaccard/" + suffix).c_str(),
			                             [run](benchmark::State &state) { run(state, true); });
		}
	}
}

template <class T, class R, std::size_t kDimCount>
void
RegisterKernel(const char *kernel, const char *level, R (*fn)(const T *, const T *, std::size_t),
               const std::size_t (&dims)[kDimCount])
{
	struct Alignment {
		const char *name;
		std::size_t offset;
	};
	constexpr Alignment kAlignments[] = {{"aligned", kAlignedOffset}, {"offset8", kPostgresOffset}};
	for (std::size_t dim : dims) {
		for (const Alignment &al : kAlignments) {
			std::string suffix = std::string(kernel) + "/" + level + "/" + std::to_string(dim) + "/" + al.name;
			std::size_t offset = al.offset / sizeof(T);
			benchmark::RegisterBenchmark(("cache/" + suffix).c_str(), [fn, dim, offset](benchmark::State &state) {
				BenchCache(state, fn, dim, offset);
			});
			benchmark::RegisterBenchmark(("streaming/" + suffix).c_str(), [fn, dim, offset](benchmark::State &state) {
				BenchStreaming(state, fn, dim, offset);
			})->Unit(benchmark::kMillisecond);
		}
	}
}

// The merge most code writes first: a branch per step on which side is behind.
float
BranchyDot(const quiver::core::SparseView &a, const quiver::core::SparseView &b)
{
	float sum = 0;
	int i = 0, j = 0;
	while (i < a.nnz && j < b.nnz) {
		if (a.indices[i] == b.indices[j])
			sum += a.values[i++] * b.values[j++];
		else if (a.indices[i] < b.indices[j])
			i++;
		else
			j++;
	}
	return sum;
}

void
RegisterSparseKernels()
{
	using quiver::core::SparseView;
	using Fn = float (*)(const SparseView &, const SparseView &);
	struct Kernel {
		const char *name;
		Fn fn;
	};
	static const Kernel kKernels[] = {{"dot", [](const SparseView &a, const SparseView &b) { return quiver::core::SparseInnerProduct(a, b); }},
	                                  {"dot_branchy", BranchyDot},
	                                  {"l2_squared", [](const SparseView &a, const SparseView &b) { return quiver::core::SparseL2Squared(a, b); }},
	                                  {"l1", [](const SparseView &a, const SparseView &b) { return quiver::core::SparseL1(a, b); }}};
	for (int nnz : {32, 128, 512}) {
		for (const Kernel &k : kKernels) {
			std::string name = std::string("sparse/") + k.name + "/" + std::to_string(nnz);
			Fn fn = k.fn;
			benchmark::RegisterBenchmark(name.c_str(), [fn, nnz](benchmark::State &state) {
				constexpr int kDim = 30522;
				constexpr int kPairs = 2048; // enough that the branch predictor cannot learn the pairs
				std::mt19937 rng(42);
				std::vector<std::vector<std::int32_t>> idx(2 * kPairs);
				std::vector<std::vector<float>> val(2 * kPairs);
				std::vector<SparseView> views;
				for (int v = 0; v < 2 * kPairs; v++) {
					std::vector<char> used(kDim, 0);
					while (static_cast<int>(idx[v].size()) < nnz) {
						int x = static_cast<int>(rng() % kDim);
						if (!used[x]) {
							used[x] = 1;
							idx[v].push_back(x);
						}
					}
					std::sort(idx[v].begin(), idx[v].end());
					for (int i = 0; i < nnz; i++)
						val[v].push_back(static_cast<float>(rng() % 1000 + 1) / 1000.0f);
					views.push_back(SparseView{kDim, nnz, idx[v].data(), val[v].data()});
				}
				std::size_t p = 0;
				for (auto _ : state) {
					benchmark::DoNotOptimize(fn(views[2 * p], views[2 * p + 1]));
					p = (p + 1) % kPairs;
				}
				state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
			});
		}
	}
}

void
RegisterAll()
{
	constexpr KernelLevel kLevels[] = {KernelLevel::Scalar, KernelLevel::SSE2, KernelLevel::AVX2, KernelLevel::AVX512};
	benchmark::RegisterBenchmark("memory_read", BenchMemoryRead)->Unit(benchmark::kMillisecond);
	RegisterBitKernels();
	RegisterSparseKernels();
	for (KernelLevel level : kLevels) {
		if (!quiver::core::KernelLevelSupported(level))
			continue;
		const F32Kernels &k = quiver::core::KernelsFor(level);
		const F16Kernels &h = quiver::core::HalfKernelsFor(level);
		const char *name = quiver::core::KernelLevelName(level);
		RegisterKernel("l2_squared", name, k.l2_squared, kDims);
		RegisterKernel("dot", name, k.dot, kDims);
		RegisterKernel("l1", name, k.l1, kDims);
		RegisterKernel("cosine_sums", name, k.cosine_sums, kDims);
		RegisterKernel("half_l2_squared", name, h.l2_squared, kHalfDims);
		RegisterKernel("half_dot", name, h.dot, kHalfDims);
		RegisterKernel("half_l1", name, h.l1, kHalfDims);
		RegisterKernel("half_cosine_sums", name, h.cosine_sums, kHalfDims);
	}
}

} // namespace

int
main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::AddCustomContext("quiver_detected_kernel_level",
	                            quiver::core::KernelLevelName(quiver::core::DetectKernelLevel()));
	RegisterAll();
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
