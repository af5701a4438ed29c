// HNSW core benchmark: build a graph from a TEXMEX dataset with the core builder (no server),
// then search it at several ef values.
//
//   bench_hnsw_core DIR METRIC M EF_CONSTRUCTION THREADS EF_SEARCH...
//
// DIR holds base.fvecs, query.fvecs and gt.ivecs (see shared/data/README.md). METRIC is l2, ip,
// l1, cosine (Metric::Cosine on the raw vectors) or cosine-normalized (unit vectors, then
// Metric::InnerProduct, which ranks identically and costs one sum instead of three).
//
// Prints build seconds and memory (the builder's estimate beside what malloc and the RSS say),
// then per ef: recall@10 against the first 10 gt ids, QPS of one thread searching, p50/p99
// latency, and the searching thread's CPU time per query (robust when the machine is shared).
// Figures to compare within one run, not assertions.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "quiver/graph_fill.hpp"
#include "quiver/hnsw_builder.hpp"
#include "quiver/kernels.hpp"
#include "quiver/metric.hpp"
#include "quiver/parallel_for.hpp"
#include "quiver/parallel_insert.hpp"

namespace {

using quiver::core::HnswBuilder;
using quiver::core::HnswBuildParams;
using quiver::core::Metric;
using quiver::core::ParallelInserter;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kRecallK = 10;

// Rows of a .fvecs or .ivecs file: each an int32 dimension followed by that many 4-byte values.
template <class T> struct Matrix {
	std::vector<T> values;
	std::size_t rows = 0;
	std::size_t dim = 0;

	const T *
	Row(std::size_t i) const
	{
		return values.data() + i * dim;
	}
};

template <class T>
Matrix<T>
ReadVecs(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error("cannot open " + path);
	std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	Matrix<T> m;
	std::size_t pos = 0;
	while (pos < bytes.size()) {
		std::int32_t d;
		if (bytes.size() - pos < sizeof d)
			throw std::runtime_error(path + ": truncated row header");
		std::memcpy(&d, bytes.data() + pos, sizeof d);
		pos += sizeof d;
		if (d <= 0 || (m.rows > 0 && static_cast<std::size_t>(d) != m.dim))
			throw std::runtime_error(path + ": bad or inconsistent dimension " + std::to_string(d));
		m.dim = static_cast<std::size_t>(d);
		const std::size_t row_bytes = m.dim * sizeof(T);
		if (bytes.size() - pos < row_bytes)
			throw std::runtime_error(path + ": truncated row");
		const std::size_t old = m.values.size();
		m.values.resize(old + m.dim);
		std::memcpy(m.values.data() + old, bytes.data() + pos, row_bytes);
		pos += row_bytes;
		m.rows++;
	}
	return m;
}

void
Normalize(Matrix<float> &m)
{
	for (std::size_t i = 0; i < m.rows; i++) {
		float *row = m.values.data() + i * m.dim;
		double norm = 0;
		for (std::size_t j = 0; j < m.dim; j++)
			norm += static_cast<double>(row[j]) * row[j];
		if (norm == 0)
			continue;
		const double inv = 1.0 / std::sqrt(norm);
		for (std::size_t j = 0; j < m.dim; j++)
			row[j] = static_cast<float>(row[j] * inv);
	}
}

// Everything malloc has handed out and not taken back, across all arenas (worker threads
// allocate from their own).
double
MallocInUseMiB()
{
#if defined(__GLIBC__)
	struct mallinfo2 mi = mallinfo2();
	return static_cast<double>(mi.uordblks + mi.hblkhd) / (1024.0 * 1024.0);
#else
	return 0;
#endif
}

// A field of /proc/self/status in MiB (VmRSS, VmHWM), 0 when unavailable.
double
ProcStatusMiB(const char *field)
{
	std::ifstream in("/proc/self/status");
	std::string line;
	const std::size_t len = std::strlen(field);
	while (std::getline(in, line)) {
		if (line.compare(0, len, field) == 0 && line.size() > len && line[len] == ':')
			return std::strtod(line.c_str() + len + 1, nullptr) / 1024.0;
	}
	return 0;
}

// CPU time of the calling thread: unlike wall time, not inflated when other processes share
// the cores, so it still compares settings on a busy machine.
double
CpuSeconds(clockid_t clock)
{
	timespec ts{};
	clock_gettime(clock, &ts);
	return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double
ThreadCpuSeconds()
{
	return CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
}

// All threads of the process: what a build costs whatever the number of cores it got.
double
ProcessCpuSeconds()
{
	return CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
}

double
Seconds(Clock::duration d)
{
	return std::chrono::duration<double>(d).count();
}

int
Usage(const char *argv0)
{
	std::fprintf(stderr,
	             "usage: %s DIR METRIC M EF_CONSTRUCTION THREADS EF_SEARCH...\n"
	             "  METRIC: l2 | ip | l1 | cosine | cosine-normalized\n"
	             "  HALF=1 in the environment builds on halves (HnswBuildParams::half)\n"
	             "  FILL=1 also times the base-level fill (BaseLayerFill, 8 second-hop sources) and prints a\n"
	             "  checksum of its lists (equal for equal graphs: a single-thread build is deterministic)\n",
	             argv0);
	return 2;
}

int
Run(int argc, char **argv)
{
	if (argc < 7)
		return Usage(argv[0]);
	const std::string dir = argv[1];
	const std::string metric_name = argv[2];
	const int m = std::atoi(argv[3]);
	const int ef_construction = std::atoi(argv[4]);
	const int threads = std::atoi(argv[5]);
	std::vector<std::size_t> efs;
	for (int i = 6; i < argc; i++)
		efs.push_back(static_cast<std::size_t>(std::atol(argv[i])));

	Metric metric;
	bool normalize = false;
	if (metric_name == "l2")
		metric = Metric::L2;
	else if (metric_name == "ip")
		metric = Metric::InnerProduct;
	else if (metric_name == "l1")
		metric = Metric::L1;
	else if (metric_name == "cosine")
		metric = Metric::Cosine;
	else if (metric_name == "cosine-normalized") {
		metric = Metric::InnerProduct;
		normalize = true;
	} else
		return Usage(argv[0]);

	bool ignored = false;
	const quiver::core::KernelLevel level = quiver::core::InitKernels(&ignored);

	Matrix<float> base = ReadVecs<float>(dir + "/base.fvecs");
	Matrix<float> queries = ReadVecs<float>(dir + "/query.fvecs");
	const Matrix<std::int32_t> gt = ReadVecs<std::int32_t>(dir + "/gt.ivecs");
	if (queries.dim != base.dim || gt.rows != queries.rows || gt.dim < kRecallK)
		throw std::runtime_error("base, query and gt files do not match");
	if (normalize) {
		Normalize(base);
		Normalize(queries);
	}
	std::printf("dataset %s: %zu base x %zu dims, %zu queries; metric %s (%s); kernels %s%s\n", dir.c_str(), base.rows,
	            base.dim, queries.rows, metric_name.c_str(), quiver::core::MetricName(metric),
	            quiver::core::KernelLevelName(level), ignored ? " (QUIVER_KERNEL_LEVEL ignored)" : "");

	HnswBuildParams params{static_cast<int>(base.dim), m, ef_construction, metric, base.rows};
	// HALF=1 in the environment: the graph keeps its vectors as scaled halves (HnswBuildParams).
	if (const char *half = std::getenv("HALF"); half != nullptr && std::string(half) == "1") {
		float max_abs = 0;
		for (float v : base.values)
			max_abs = std::max(max_abs, std::fabs(v));
		params.half = true;
		params.half_scale = quiver::core::HalfScaleFor(max_abs);
		std::printf("vectors kept as halves, scaled by %g\n", static_cast<double>(params.half_scale));
	}
	const double estimate_mib = static_cast<double>(HnswBuilder::EstimateMemory(params, threads)) / (1024.0 * 1024.0);
	const double malloc_before = MallocInUseMiB();
	const double rss_before = ProcStatusMiB("VmRSS");

	const double build_cpu_start = ProcessCpuSeconds();
	const Clock::time_point build_start = Clock::now();
	HnswBuilder builder(params);
	{
		ParallelInserter ins(builder, base.values.data(), base.dim, base.rows, threads);
		ins.Start();
		while (!ins.WaitFor(5000))
			std::fprintf(stderr, "  ... %zu / %zu inserted\n", ins.Done(), ins.Total());
		ins.Join();
	}
	const double build_seconds = Seconds(Clock::now() - build_start);
	const double build_cpu = ProcessCpuSeconds() - build_cpu_start;
	const double malloc_after = MallocInUseMiB();
	const double rss_after = ProcStatusMiB("VmRSS");

	std::size_t degree_sum = 0;
	for (std::uint32_t id = 0; id < builder.Size(); id++)
		degree_sum += builder.Neighbors(id, 0).count;

	std::printf("build: m=%d ef_construction=%d threads=%d: %.2f s (%.0f vectors/s), %.2f s of CPU\n", m,
	            ef_construction, threads, build_seconds, static_cast<double>(base.rows) / build_seconds, build_cpu);
	std::printf("memory: EstimateMemory %.1f MiB; malloc in use +%.1f MiB; RSS +%.1f MiB (VmHWM %.1f MiB, "
	            "input vectors %.1f MiB)\n",
	            estimate_mib, malloc_after - malloc_before, rss_after - rss_before, ProcStatusMiB("VmHWM"),
	            static_cast<double>(base.values.size() * sizeof(float)) / (1024.0 * 1024.0));
	std::printf("graph: %zu elements, max level %d, mean level-0 degree %.1f\n", builder.Size(), builder.MaxLevel(),
	            static_cast<double>(degree_sum) / static_cast<double>(builder.Size()));

	// FILL=1: the server build's next phase, on the same threads; the checksum lets a change to
	// the fill be checked for equal output (build with THREADS=1 for a deterministic graph).
	if (const char *fill_env = std::getenv("FILL"); fill_env != nullptr && std::string(fill_env) == "1") {
		const Clock::time_point fill_start = Clock::now();
		quiver::core::BaseLayerFill fill(builder, 8);
		fill.Prepare();
		const double prepare_seconds = Seconds(Clock::now() - fill_start);
		constexpr std::size_t kChunk = 256;
		const std::size_t n = builder.Size();
		quiver::core::ParallelFor job((n + kChunk - 1) / kChunk, threads, [&fill, n](std::size_t chunk) {
			fill.FillRange(chunk * kChunk, std::min(n, (chunk + 1) * kChunk));
		});
		job.Start();
		job.Join();
		const double fill_seconds = Seconds(Clock::now() - fill_start);
		std::uint64_t checksum = 1469598103934665603ULL;
		std::size_t extras = 0;
		for (std::uint32_t id = 0; id < n; id++) {
			for (std::uint32_t e : fill.Extra(id)) {
				checksum = (checksum ^ (static_cast<std::uint64_t>(id) << 32 | e)) * 1099511628211ULL;
				extras++;
			}
		}
		std::printf("fill: %.2f s (prepare %.2f s), %zu extra edges (%.1f per node), checksum %016llx\n",
		            fill_seconds, prepare_seconds, extras, static_cast<double>(extras) / static_cast<double>(n),
		            static_cast<unsigned long long>(checksum));
	}

	std::printf("%9s %10s %10s %9s %9s %9s\n", "ef_search", "recall@10", "QPS", "p50 us", "p99 us", "cpu us");
	std::vector<double> latencies(queries.rows);
	std::vector<std::vector<std::pair<float, std::uint32_t>>> results(queries.rows);
	for (std::size_t ef : efs) {
		// One untimed pass warms caches and the visited-list pool, as a server's steady state would.
		for (std::size_t q = 0; q < queries.rows; q++)
			(void)builder.Search(queries.Row(q), kRecallK, ef);

		const double cpu_start = ThreadCpuSeconds();
		const Clock::time_point pass_start = Clock::now();
		for (std::size_t q = 0; q < queries.rows; q++) {
			const Clock::time_point t0 = Clock::now();
			results[q] = builder.Search(queries.Row(q), kRecallK, ef);
			latencies[q] = Seconds(Clock::now() - t0) * 1e6;
		}
		const double pass_seconds = Seconds(Clock::now() - pass_start);
		const double cpu_us = (ThreadCpuSeconds() - cpu_start) * 1e6 / static_cast<double>(queries.rows);
		std::size_t hits = 0;
		for (std::size_t q = 0; q < queries.rows; q++) {
			std::set<std::int32_t> truth(gt.Row(q), gt.Row(q) + kRecallK);
			for (const auto &hit : results[q])
				hits += truth.count(static_cast<std::int32_t>(hit.second));
		}
		std::sort(latencies.begin(), latencies.end());
		const auto pct = [&](double p) {
			return latencies[std::min(latencies.size() - 1,
			                          static_cast<std::size_t>(p * static_cast<double>(latencies.size())))];
		};
		std::printf("%9zu %10.4f %10.0f %9.1f %9.1f %9.1f\n", ef,
		            static_cast<double>(hits) / static_cast<double>(queries.rows * kRecallK),
		            static_cast<double>(queries.rows) / pass_seconds, pct(0.50), pct(0.99), cpu_us);
	}
	return 0;
}

} // namespace

int
main(int argc, char **argv)
{
	try {
		return Run(argc, argv);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "bench_hnsw_core: %s\n", e.what());
		return 1;
	}
}
