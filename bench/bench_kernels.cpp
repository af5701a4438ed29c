// Throughput of the distance kernels, per level this CPU supports, against memory bandwidth.
//
// Two regimes per kernel, level and dimension:
//   cache/<kernel>/<level>/<dim>      one pair of vectors, over and over: the kernel's compute
//                                     speed, what an HNSW search sees for its hot upper layers.
//   streaming/<kernel>/<level>/<dim>  one query against every vector of a 256 MiB set: what an
//                                     exact scan (or a cold graph) sees; memory-bound when fast.
// and memory_read, which only sums the same 256 MiB, the bandwidth no scan can beat. The GB/s
// columns (bytes of stored vectors read, the query excluded) compare directly with it.
//
//   bench_kernels --benchmark_filter='streaming/.*/768|memory_read'
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "quiver/kernels.hpp"

namespace {

using quiver::core::CosineSums;
using quiver::core::CosineSumsFn;
using quiver::core::DistanceFn;
using quiver::core::F32Kernels;
using quiver::core::KernelLevel;

constexpr std::size_t kStreamBytes = std::size_t{256} << 20;
constexpr std::size_t kStreamFloats = kStreamBytes / sizeof(float);
constexpr std::size_t kMaxDim = 1536;
constexpr std::size_t kDims[] = {128, 768, 1536};

// Deterministic values in [-1, 1); a PRNG from <random> takes seconds to fill 256 MiB.
void
FillRandom(float *p, std::size_t n, std::uint64_t seed)
{
	std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	for (std::size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = static_cast<float>(static_cast<double>(x >> 40) / static_cast<double>(1ull << 23) - 1.0);
	}
}

// Allocated and written (so faulted in) on first use only, so that listing or filtering
// benchmarks does not cost 256 MiB.
const std::vector<float> &
StreamData()
{
	static const std::vector<float> data = [] {
		std::vector<float> v(kStreamFloats);
		FillRandom(v.data(), v.size(), 1);
		return v;
	}();
	return data;
}

struct SmallVectors {
	std::vector<float> a, b;
};

const SmallVectors &
PairData()
{
	static const SmallVectors pair = [] {
		SmallVectors p{std::vector<float>(kMaxDim), std::vector<float>(kMaxDim)};
		FillRandom(p.a.data(), kMaxDim, 2);
		FillRandom(p.b.data(), kMaxDim, 3);
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

template <class Fn>
void
BenchCache(benchmark::State &state, Fn fn, std::size_t dim)
{
	const SmallVectors &pair = PairData();
	const float *a = pair.a.data();
	const float *b = pair.b.data();
	for (auto _ : state) {
		auto r = fn(a, b, dim);
		benchmark::DoNotOptimize(r);
	}
	state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
	state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * 2 * dim * sizeof(float)));
}

template <class Fn>
void
BenchStreaming(benchmark::State &state, Fn fn, std::size_t dim)
{
	const std::vector<float> &data = StreamData();
	const float *query = PairData().a.data();
	std::size_t count = data.size() / dim;
	for (auto _ : state) {
		float acc = 0.0f;
		const float *v = data.data();
		for (std::size_t i = 0; i < count; i++, v += dim)
			acc += Fold(fn(query, v, dim));
		benchmark::DoNotOptimize(acc);
	}
	state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * count));
	state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * count * dim * sizeof(float)));
}

// Reads the 256 MiB as fast as one core can: eight independent 16-byte accumulators (GCC vector
// extensions, so it needs no -m flag and no intrinsics) are far more than DRAM can feed.
void
BenchMemoryRead(benchmark::State &state)
{
	typedef float V4 __attribute__((vector_size(16)));
	const std::vector<float> &data = StreamData();
	const float *p = data.data();
	std::size_t n = data.size();
	for (auto _ : state) {
		V4 acc[8] = {};
		for (std::size_t i = 0; i + 32 <= n; i += 32) {
			for (int j = 0; j < 8; j++) {
				V4 x;
				std::memcpy(&x, p + i + 4 * j, sizeof x);
				acc[j] += x;
			}
		}
		V4 total = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
		float sum = total[0] + total[1] + total[2] + total[3];
		benchmark::DoNotOptimize(sum);
	}
	state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * sizeof(float)));
}

template <class Fn>
void
RegisterKernel(const char *kernel, const char *level, Fn fn)
{
	for (std::size_t dim : kDims) {
		std::string suffix = std::string(kernel) + "/" + level + "/" + std::to_string(dim);
		benchmark::RegisterBenchmark(("cache/" + suffix).c_str(),
		                             [fn, dim](benchmark::State &state) { BenchCache(state, fn, dim); });
		benchmark::RegisterBenchmark(("streaming/" + suffix).c_str(),
		                             [fn, dim](benchmark::State &state) { BenchStreaming(state, fn, dim); })
		    ->Unit(benchmark::kMillisecond);
	}
}

void
RegisterAll()
{
	constexpr KernelLevel kLevels[] = {KernelLevel::Scalar, KernelLevel::SSE2, KernelLevel::AVX2,
	                                   KernelLevel::AVX512};
	benchmark::RegisterBenchmark("memory_read", BenchMemoryRead)->Unit(benchmark::kMillisecond);
	for (KernelLevel level : kLevels) {
		if (!quiver::core::KernelLevelSupported(level))
			continue;
		const F32Kernels &k = quiver::core::KernelsFor(level);
		const char *name = quiver::core::KernelLevelName(level);
		RegisterKernel<DistanceFn>("l2_squared", name, k.l2_squared);
		RegisterKernel<DistanceFn>("dot", name, k.dot);
		RegisterKernel<DistanceFn>("l1", name, k.l1);
		RegisterKernel<CosineSumsFn>("cosine_sums", name, k.cosine_sums);
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
