// The HNSW builder (hnswlib behind our kernels) and the parallel inserter that feeds it.
//
// Recall is measured against an exact search done here in double precision, independently of
// the kernels, so a wrong distance shows up as lost recall rather than agreeing with itself.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "quiver/error.hpp"
#include "quiver/bits.hpp"
#include "quiver/hnsw_builder.hpp"
#include "quiver/kernels.hpp"
#include "quiver/metric.hpp"
#include "quiver/parallel_insert.hpp"
#include "quiver/sparse.hpp"

namespace quiver::core {
namespace {

constexpr std::size_t kDim = 32;
constexpr std::size_t kN = 5000;
constexpr std::size_t kQueries = 200;
constexpr std::size_t kK = 10;
constexpr int kM = 16;
constexpr int kEfConstruction = 64;
constexpr std::size_t kEfSearch = 64;

// The builder takes ActiveKernels() when it is made; choose them as the extension does at load
// time, so QUIVER_KERNEL_LEVEL runs this suite at each level too.
class KernelEnvironment : public ::testing::Environment {
  public:
	void
	SetUp() override
	{
		bool ignored = false;
		KernelLevel level = InitKernels(&ignored);
		std::printf("kernel level: %s%s\n", KernelLevelName(level), ignored ? " (QUIVER_KERNEL_LEVEL ignored)" : "");
	}
};
[[maybe_unused]] ::testing::Environment *const kKernelEnvironment =
    ::testing::AddGlobalTestEnvironment(new KernelEnvironment);

HnswBuildParams
Params(Metric metric, std::size_t max_elements, std::size_t dim = kDim)
{
	HnswBuildParams p{static_cast<int>(dim), kM, kEfConstruction, metric, max_elements};
	return p;
}

// Uniform in [-1, 1]^dim: no cluster structure, the hard case for a graph of this size.
std::vector<float>
RandomVectors(std::size_t n, std::size_t dim, std::uint32_t seed)
{
	std::mt19937 rng(seed);
	std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
	std::vector<float> v(n * dim);
	for (float &x : v)
		x = uniform(rng);
	return v;
}

double
ReferenceDistance(Metric metric, const float *a, const float *b, std::size_t dim)
{
	double sum = 0, dot = 0, na = 0, nb = 0;
	for (std::size_t i = 0; i < dim; i++) {
		const double x = a[i], y = b[i];
		switch (metric) {
		case Metric::L2:
			sum += (x - y) * (x - y);
			break;
		case Metric::L1:
			sum += std::fabs(x - y);
			break;
		case Metric::InnerProduct:
		case Metric::Cosine:
			dot += x * y;
			na += x * x;
			nb += y * y;
			break;
		case Metric::Hamming:
		case Metric::Jaccard:
			break; // bit metrics are tested in BitMetricsBuildSearchableGraphs
		}
	}
	if (metric == Metric::InnerProduct)
		return -dot;
	if (metric == Metric::Cosine)
		return (na == 0 || nb == 0) ? 1.0 : 1.0 - dot / std::sqrt(na * nb);
	return sum;
}

std::vector<std::uint32_t>
ExactTopK(Metric metric, const std::vector<float> &data, std::size_t dim, const float *q, std::size_t k)
{
	const std::size_t n = data.size() / dim;
	std::vector<std::pair<double, std::uint32_t>> all(n);
	for (std::size_t i = 0; i < n; i++)
		all[i] = {ReferenceDistance(metric, data.data() + i * dim, q, dim), static_cast<std::uint32_t>(i)};
	std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end());
	std::vector<std::uint32_t> top(k);
	for (std::size_t i = 0; i < k; i++)
		top[i] = all[i].second;
	return top;
}

double
RecallAt10(const HnswBuilder &b, Metric metric, const std::vector<float> &data, const std::vector<float> &queries)
{
	std::size_t hits = 0;
	const std::size_t nq = queries.size() / kDim;
	for (std::size_t qi = 0; qi < nq; qi++) {
		const float *q = queries.data() + qi * kDim;
		std::vector<std::uint32_t> truth = ExactTopK(metric, data, kDim, q, kK);
		std::set<std::uint32_t> want(truth.begin(), truth.end());
		auto found = b.Search(q, kK, kEfSearch);
		EXPECT_EQ(found.size(), kK);
		for (std::size_t i = 1; i < found.size(); i++)
			EXPECT_LE(found[i - 1].first, found[i].first) << "results must come nearest first";
		for (const auto &hit : found)
			hits += want.count(hit.second);
	}
	return static_cast<double>(hits) / static_cast<double>(nq * kK);
}

void
AddAllSingleThreaded(HnswBuilder &b, const std::vector<float> &data, std::size_t dim)
{
	const std::size_t n = data.size() / dim;
	for (std::size_t i = 0; i < n; i++)
		b.Add(data.data() + i * dim, static_cast<std::uint32_t>(i));
}

void
AddAllParallel(HnswBuilder &b, const std::vector<float> &data, std::size_t dim, int threads)
{
	ParallelInserter ins(b, data.data(), dim, data.size() / dim, threads);
	ins.Start();
	std::size_t last_done = 0;
	while (!ins.WaitFor(5)) {
		EXPECT_GE(ins.Done(), last_done) << "progress never goes back";
		last_done = ins.Done();
	}
	ins.Join();
	EXPECT_EQ(ins.Done(), ins.Total());
}

// What a page writer relies on when it reads the graph out. Labels are distinct and below
// label_limit; with label_limit == n (the default) they cover 0..n-1 exactly once.
void
ExpectGraphInvariants(const HnswBuilder &b, std::size_t n, std::size_t label_limit = 0)
{
	if (label_limit == 0)
		label_limit = n;
	ASSERT_EQ(b.Size(), n);
	if (n == 0) {
		EXPECT_EQ(b.EntryPoint(), -1);
		EXPECT_EQ(b.MaxLevel(), -1);
		return;
	}
	const int m = b.Params().m;
	const int max_level = b.MaxLevel();
	ASSERT_GE(b.EntryPoint(), 0);
	ASSERT_LT(static_cast<std::size_t>(b.EntryPoint()), n);
	EXPECT_EQ(b.Level(static_cast<std::uint32_t>(b.EntryPoint())), max_level);

	std::vector<int> label_seen(label_limit, 0);
	std::size_t bad_level = 0, bad_id = 0, self_loops = 0, too_many = 0, dangling_level = 0, duplicates = 0,
	            isolated = 0;
	for (std::uint32_t id = 0; id < n; id++) {
		const std::uint32_t label = b.Label(id);
		ASSERT_LT(label, label_limit);
		label_seen[label]++;
		const int level = b.Level(id);
		if (level < 0 || level > max_level)
			bad_level++;
		for (int l = 0; l <= level; l++) {
			NeighborList list = b.Neighbors(id, l);
			if (list.count > static_cast<std::size_t>(l == 0 ? 2 * m : m))
				too_many++;
			if (l == 0 && n > 1 && list.count == 0)
				isolated++;
			std::set<std::uint32_t> distinct;
			for (std::uint32_t nb : list) {
				if (nb >= n) {
					bad_id++;
					continue;
				}
				if (nb == id)
					self_loops++;
				if (b.Level(nb) < l)
					dangling_level++;
				distinct.insert(nb);
			}
			if (distinct.size() != list.count)
				duplicates++;
		}
	}
	EXPECT_EQ(bad_level, 0u) << "levels within 0..MaxLevel";
	EXPECT_EQ(bad_id, 0u) << "neighbour ids below Size()";
	EXPECT_EQ(self_loops, 0u);
	EXPECT_EQ(too_many, 0u) << "at most 2m neighbours on level 0, m above";
	EXPECT_EQ(dangling_level, 0u) << "a level-l link points to an element that has level l";
	EXPECT_EQ(duplicates, 0u);
	EXPECT_EQ(isolated, 0u) << "every element has a level-0 neighbour";
	EXPECT_EQ(std::count(label_seen.begin(), label_seen.end(), 1), static_cast<std::ptrdiff_t>(n))
	    << "every label once";
}

template <class F>
void
ExpectError(ErrorCode code, F &&f)
{
	try {
		f();
		ADD_FAILURE() << "expected quiver::core::Error";
	} catch (const Error &e) {
		EXPECT_EQ(static_cast<int>(e.code()), static_cast<int>(code)) << e.what();
	}
}

// ---- recall and read-out, per metric, single- and multi-threaded ----

struct BuildCase {
	Metric metric;
	int threads; // 0: Add on the test thread, no inserter
};

std::string
BuildCaseLabel(const BuildCase &c)
{
	return std::string(MetricName(c.metric)) + "_" +
	       (c.threads == 0 ? std::string("single") : std::to_string(c.threads) + "threads");
}

void
PrintTo(const BuildCase &c, std::ostream *os)
{
	*os << BuildCaseLabel(c);
}

class HnswBuild : public ::testing::TestWithParam<BuildCase> {};

TEST_P(HnswBuild, RecallAndInvariants)
{
	const BuildCase c = GetParam();
	const std::vector<float> data = RandomVectors(kN, kDim, 1);
	const std::vector<float> queries = RandomVectors(kQueries, kDim, 2);

	HnswBuilder b(Params(c.metric, kN));
	if (c.threads == 0)
		AddAllSingleThreaded(b, data, kDim);
	else
		AddAllParallel(b, data, kDim, c.threads);

	ExpectGraphInvariants(b, kN);
	const double recall = RecallAt10(b, c.metric, data, queries);
	RecordProperty("recall_at_10", std::to_string(recall));
	std::printf("recall@10 %s: %.4f\n", BuildCaseLabel(c).c_str(), recall);
	EXPECT_GE(recall, 0.95) << MetricName(c.metric) << " with " << c.threads << " threads";
}

std::string
BuildCaseName(const ::testing::TestParamInfo<BuildCase> &info)
{
	return BuildCaseLabel(info.param);
}

INSTANTIATE_TEST_SUITE_P(Metrics, HnswBuild,
                         ::testing::Values(BuildCase{Metric::L2, 0}, BuildCase{Metric::InnerProduct, 0},
                                           BuildCase{Metric::Cosine, 0}, BuildCase{Metric::L1, 0},
                                           BuildCase{Metric::L2, 2}, BuildCase{Metric::InnerProduct, 3},
                                           BuildCase{Metric::Cosine, 4}, BuildCase{Metric::L1, 3}),
                         BuildCaseName);

// ---- dense linking (HnswBuildParams::dense_links) ----

// At small m, hnswlib's own linking leaves lists short during the build and its searches poor;
// dense linking keeps the base-level lists full and finds more of the true neighbours, on one
// thread (deterministic) and on several, with the same invariants (a hand-off into the new
// element's list must repeat no one).
TEST(HnswBuilder, DenseLinksFillListsAndFindMoreAtSmallM)
{
	const std::vector<float> data = RandomVectors(kN, kDim, 5);
	const std::vector<float> queries = RandomVectors(kQueries, kDim, 6);
	double recall[2] = {0, 0};
	std::size_t full[2] = {0, 0};
	for (int dense = 0; dense < 2; dense++) {
		for (int threads : {0, 2}) {
			HnswBuildParams p = Params(Metric::L2, kN);
			p.m = 4;
			p.ef_construction = 8;
			p.dense_links = dense == 1;
			HnswBuilder b(p);
			if (threads == 0)
				AddAllSingleThreaded(b, data, kDim);
			else
				AddAllParallel(b, data, kDim, threads);
			ExpectGraphInvariants(b, kN);
			const double r = RecallAt10(b, Metric::L2, data, queries);
			std::size_t n_full = 0;
			for (std::uint32_t id = 0; id < kN; id++)
				n_full += b.Neighbors(id, 0).count == 2 * static_cast<std::size_t>(p.m);
			std::printf("m 4, dense_links %d, %d threads: recall@10 %.4f, full base lists %zu of %zu\n", dense,
			            threads, r, n_full, kN);
			if (threads == 0) {
				recall[dense] = r;
				full[dense] = n_full;
			}
		}
	}
	EXPECT_GE(full[1], kN * 99 / 100) << "dense linking keeps base-level lists full";
	EXPECT_LT(full[0], kN / 2) << "hnswlib's own linking leaves them short (else this test shows nothing)";
	EXPECT_GE(recall[1], recall[0] + 0.05) << "dense linking finds more at m 4";
}

// Each level's search of an insertion starts from all the candidates of the level above: every
// element inserted below the top level, on each level it searches after its first, seeds from
// the carry (counted on the inserting thread, so a single-threaded build here).
TEST(HnswBuilder, SearchesStartFromTheLevelAbovesCandidates)
{
	const std::vector<float> data = RandomVectors(kN, kDim, 7);
	HnswBuildParams p = Params(Metric::L2, kN);
	p.m = 4;
	p.ef_construction = 8;
	HnswBuilder b(p);
	const std::uint64_t before = HnswBuilder::SeededSearchesOnThisThread();
	AddAllSingleThreaded(b, data, kDim);
	const std::uint64_t seeded = HnswBuilder::SeededSearchesOnThisThread() - before;
	// An element of level l searches levels min(l, top)..0, all but the first seeded; an element
	// that raised the top level searched none above the old top. Bounds: at least the elements
	// above level 0 less those that raised the top (at most MaxLevel of them).
	std::uint64_t upper = 0, level_sum = 0;
	for (std::uint32_t id = 0; id < kN; id++) {
		upper += b.Level(id) > 0;
		level_sum += static_cast<std::uint64_t>(b.Level(id));
	}
	std::printf("m 4: %llu seeded searches, %llu elements above level 0\n", static_cast<unsigned long long>(seeded),
	            static_cast<unsigned long long>(upper));
	EXPECT_GE(seeded, upper - static_cast<std::uint64_t>(b.MaxLevel()));
	EXPECT_LE(seeded, level_sum);
}

// ---- graphs on halves (HnswBuildParams::half) ----

// The same data at three scales: as it is, far beyond the half range (1e6: every value would
// round to infinity unscaled), and far below it (1e-6: mostly subnormal). With HalfScaleFor the
// graph finds the exact top 10 as a float32 graph does, for every metric the option allows.
TEST(HnswBuilder, HalfGraphsKeepRecallAtAnyScale)
{
	const std::vector<float> base = RandomVectors(kN, kDim, 11);
	const std::vector<float> base_queries = RandomVectors(kQueries, kDim, 12);
	for (Metric metric : {Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1}) {
		for (float factor : {1.0f, 1e6f, 1e-6f}) {
			std::vector<float> data = base, queries = base_queries;
			float max_abs = 0;
			for (float &x : data) {
				x *= factor;
				max_abs = std::max(max_abs, std::fabs(x));
			}
			for (float &x : queries)
				x *= factor;
			HnswBuildParams p = Params(metric, kN);
			p.half = true;
			p.half_scale = HalfScaleFor(max_abs);
			HnswBuilder b(p);
			AddAllParallel(b, data, kDim, 2);
			ExpectGraphInvariants(b, kN);
			const double recall = RecallAt10(b, metric, data, queries);
			EXPECT_GE(recall, 0.95) << MetricName(metric) << " at scale " << factor;
		}
	}
}

TEST(HnswBuilder, HalfScaleBringsTheLargestValueBelowTheHalfRange)
{
	for (float max_abs : {1.0f, 0.7f, 3.0f, 65504.0f, 1e6f, 3e38f, 1e-3f, 1e-20f}) {
		const float scale = HalfScaleFor(max_abs);
		int exponent;
		EXPECT_EQ(std::frexp(scale, &exponent), 0.5f) << "a power of two for " << max_abs;
		EXPECT_GE(max_abs * scale, 8192.0f) << max_abs;
		EXPECT_LT(max_abs * scale, 16384.0f) << max_abs;
	}
	EXPECT_EQ(HalfScaleFor(0.0f), 1.0f);
	EXPECT_EQ(HalfScaleFor(std::numeric_limits<float>::infinity()), 1.0f);
	EXPECT_EQ(HalfScaleFor(std::nanf("")), 1.0f);
	// The tiniest values cannot be brought up that far; the scale stays a finite float.
	EXPECT_EQ(HalfScaleFor(1e-44f), std::ldexp(1.0f, 126));
	// A vector's halves take half the bytes of its floats.
	HnswBuildParams p = Params(Metric::L2, 1 << 16, 512);
	HnswBuildParams h = p;
	h.half = true;
	EXPECT_LT(HnswBuilder::EstimateMemory(h), HnswBuilder::EstimateMemory(p) - (std::size_t{1} << 16) * 1000);
}

// ---- builder ----

TEST(HnswBuilder, SingleThreadedBuildIsDeterministic)
{
	const std::vector<float> data = RandomVectors(1000, kDim, 3);
	HnswBuilder a(Params(Metric::L2, 1000));
	HnswBuilder b(Params(Metric::L2, 1000));
	AddAllSingleThreaded(a, data, kDim);
	AddAllSingleThreaded(b, data, kDim);
	ASSERT_EQ(a.Size(), b.Size());
	EXPECT_EQ(a.EntryPoint(), b.EntryPoint());
	EXPECT_EQ(a.MaxLevel(), b.MaxLevel());
	std::size_t differences = 0;
	for (std::uint32_t id = 0; id < a.Size(); id++) {
		// Added in label order on one thread: internal id == label.
		EXPECT_EQ(a.Label(id), id);
		if (a.Level(id) != b.Level(id)) {
			differences++;
			continue;
		}
		for (int l = 0; l <= a.Level(id); l++) {
			NeighborList x = a.Neighbors(id, l), y = b.Neighbors(id, l);
			if (std::vector<std::uint32_t>(x.begin(), x.end()) != std::vector<std::uint32_t>(y.begin(), y.end()))
				differences++;
		}
	}
	EXPECT_EQ(differences, 0u);
}

TEST(HnswBuilder, DistanceFollowsTheMetricConventions)
{
	const std::vector<float> v = RandomVectors(2, kDim, 4);
	const float *a = v.data(), *b = v.data() + kDim;
	for (Metric metric : {Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1}) {
		HnswBuilder builder(Params(metric, 1));
		EXPECT_NEAR(builder.Distance(a, b), ReferenceDistance(metric, a, b, kDim), 1e-4) << MetricName(metric);
	}

	HnswBuilder cosine(Params(Metric::Cosine, 1, 3));
	const float x[3] = {1, 2, 3}, scaled[3] = {2, 4, 6}, opposite[3] = {-1, -2, -3}, zero[3] = {0, 0, 0};
	EXPECT_NEAR(cosine.Distance(x, scaled), 0.0f, 1e-6);
	EXPECT_GE(cosine.Distance(x, x), 0.0f) << "rounding must not give a negative distance";
	EXPECT_NEAR(cosine.Distance(x, opposite), 2.0f, 1e-6);
	EXPECT_EQ(cosine.Distance(x, zero), 1.0f);
	EXPECT_EQ(cosine.Distance(zero, zero), 1.0f);

	HnswBuilder ip(Params(Metric::InnerProduct, 1, 3));
	EXPECT_EQ(ip.Distance(x, scaled), -28.0f);

	// inf - inf inside the L2 sum would be NaN; the graph must see +infinity instead.
	HnswBuilder l2(Params(Metric::L2, 1, 1));
	const float huge[1] = {std::numeric_limits<float>::infinity()};
	EXPECT_EQ(l2.Distance(huge, huge), std::numeric_limits<float>::infinity());
}

TEST(HnswBuilder, CosineGraphToleratesZeroVectors)
{
	std::vector<float> data = RandomVectors(300, kDim, 5);
	std::fill(data.begin(), data.begin() + kDim, 0.0f);
	std::fill(data.begin() + 150 * kDim, data.begin() + 151 * kDim, 0.0f);
	HnswBuilder b(Params(Metric::Cosine, 300));
	AddAllSingleThreaded(b, data, kDim);
	ExpectGraphInvariants(b, 300);
	auto found = b.Search(data.data() + 7 * kDim, 1, 32);
	ASSERT_EQ(found.size(), 1u);
	EXPECT_EQ(found[0].second, 7u);
}

TEST(HnswBuilder, EmptyAndTinyGraphs)
{
	HnswBuilder b(Params(Metric::L2, 4));
	EXPECT_EQ(b.Size(), 0u);
	EXPECT_EQ(b.EntryPoint(), -1);
	EXPECT_EQ(b.MaxLevel(), -1);
	const std::vector<float> data = RandomVectors(2, kDim, 6);
	EXPECT_TRUE(b.Search(data.data(), 10, 10).empty());

	b.Add(data.data(), 3);
	ExpectGraphInvariants(b, 1, 4);
	EXPECT_EQ(b.Label(0), 3u);
	EXPECT_EQ(b.Neighbors(0, 0).count, 0u);
	auto found = b.Search(data.data() + kDim, 10, 10);
	ASSERT_EQ(found.size(), 1u);
	EXPECT_EQ(found[0].second, 3u);

	b.Add(data.data() + kDim, 0);
	ExpectGraphInvariants(b, 2, 4);
	EXPECT_TRUE(b.Search(data.data(), 0, 10).empty());
}

TEST(HnswBuilder, RejectsBadParams)
{
	const HnswBuildParams good = Params(Metric::L2, 10);
	auto with = [&](auto change) {
		HnswBuildParams p = good;
		change(p);
		return p;
	};
	const std::pair<HnswBuildParams, ErrorCode> cases[] = {
	    {with([](HnswBuildParams &p) { p.dim = 0; }), ErrorCode::DataException},
	    {with([](HnswBuildParams &p) { p.dim = -3; }), ErrorCode::DataException},
	    {with([](HnswBuildParams &p) { p.dim = kHnswBuilderMaxDim + 1; }), ErrorCode::LimitExceeded},
	    {with([](HnswBuildParams &p) { p.m = 1; }), ErrorCode::DataException},
	    {with([](HnswBuildParams &p) { p.m = kHnswBuilderMaxM + 1; }), ErrorCode::LimitExceeded},
	    {with([](HnswBuildParams &p) { p.ef_construction = 0; }), ErrorCode::DataException},
	    {with([](HnswBuildParams &p) { p.metric = static_cast<Metric>(6); }), ErrorCode::DataException},
	    {with([](HnswBuildParams &p) { p.max_elements = 0; }), ErrorCode::DataException},
	    {with([](HnswBuildParams &p) { p.half = true; p.metric = Metric::Hamming; }), ErrorCode::DataException},
	    {with([](HnswBuildParams &p) { p.half = true; p.dim = 2; p.sparse = true; }), ErrorCode::DataException},
	    {with([](HnswBuildParams &p) { p.half = true; p.half_scale = 0; }), ErrorCode::DataException},
	    {with([](HnswBuildParams &p) { p.half = true; p.half_scale = std::nanf(""); }), ErrorCode::DataException},
	    // Refused before anything is allocated.
	    {with([](HnswBuildParams &p) { p.max_elements = kHnswBuilderMaxElements + 1; }), ErrorCode::LimitExceeded},
	};
	for (const auto &[params, code] : cases) {
		ExpectError(code, [&] { HnswBuilder b(params); });
		ExpectError(code, [&] { (void)HnswBuilder::EstimateMemory(params); });
	}
}

// Sparse vectors go in as pointers to packed vectors; the graph must find them as well as a
// brute force over the same merge distances does.
TEST(HnswBuilder, SparseVectorsByPointer)
{
	constexpr int kSparseDim = 500, kRows = 1500, kSparseQueries = 30;
	std::mt19937 rng(5);
	auto make = [&](int nnz) {
		std::set<std::int32_t> idx;
		while (static_cast<int>(idx.size()) < nnz)
			idx.insert(static_cast<std::int32_t>(kSparseDim * std::pow(std::uniform_real_distribution<double>(0, 1)(rng), 2.0)));
		std::vector<std::int32_t> packed{kSparseDim, nnz};
		packed.insert(packed.end(), idx.begin(), idx.end());
		for (int i = 0; i < nnz; i++) {
			float v = std::uniform_real_distribution<float>(0.1f, 1.0f)(rng);
			std::int32_t bits;
			std::memcpy(&bits, &v, sizeof bits);
			packed.push_back(bits);
		}
		return packed;
	};
	std::vector<std::vector<std::int32_t>> rows, queries;
	for (int i = 0; i < kRows; i++)
		rows.push_back(make(15));
	for (int i = 0; i < kSparseQueries; i++)
		queries.push_back(make(8));
	auto pointer = [](const std::vector<std::int32_t> &packed) {
		float slot[2];
		const void *p = packed.data();
		std::memcpy(slot, &p, sizeof p);
		return std::vector<float>(slot, slot + 2);
	};
	for (Metric metric : {Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1}) {
		HnswBuildParams params{2, 16, 64, metric, kRows};
		params.sparse = true;
		HnswBuilder g(params);
		for (int i = 0; i < kRows; i++)
			g.Add(pointer(rows[i]).data(), static_cast<std::uint32_t>(i));
		int hits = 0;
		for (const auto &q : queries) {
			std::vector<float> qp = pointer(q);
			std::vector<std::pair<float, std::uint32_t>> exact;
			for (int i = 0; i < kRows; i++)
				exact.emplace_back(g.Distance(qp.data(), pointer(rows[i]).data()), static_cast<std::uint32_t>(i));
			std::sort(exact.begin(), exact.end());
			std::set<std::uint32_t> truth;
			for (int k = 0; k < 10; k++)
				truth.insert(exact[k].second);
			for (const auto &r : g.Search(qp.data(), 10, 100))
				hits += truth.count(r.second) > 0 ? 1 : 0;
		}
		EXPECT_GE(hits, kSparseQueries * 10 * 9 / 10) << MetricName(metric);
		// The distance is the merge kernels' own.
		SparseView a = PackedSparseView(rows[0].data()), b = PackedSparseView(rows[1].data());
		float expected = metric == Metric::L2 ? SparseL2Squared(a, b)
		                 : metric == Metric::InnerProduct ? -SparseInnerProduct(a, b)
		                 : metric == Metric::L1 ? SparseL1(a, b)
		                                        : g.Distance(pointer(rows[0]).data(), pointer(rows[1]).data());
		EXPECT_EQ(g.Distance(pointer(rows[0]).data(), pointer(rows[1]).data()), expected);
	}
	HnswBuildParams bad{3, 16, 64, Metric::L2, 10};
	bad.sparse = true;
	EXPECT_THROW(HnswBuilder::Validate(bad), Error);
	bad.dim = 2;
	bad.metric = Metric::Hamming;
	EXPECT_THROW(HnswBuilder::Validate(bad), Error);
}

TEST(HnswBuilder, RejectsBadLabels)
{
	const std::vector<float> data = RandomVectors(1, kDim, 7);
	HnswBuilder b(Params(Metric::L2, 5));
	ExpectError(ErrorCode::LimitExceeded, [&] { b.Add(data.data(), 5); });
	b.Add(data.data(), 2);
	ExpectError(ErrorCode::Internal, [&] { b.Add(data.data(), 2); });
	EXPECT_EQ(b.Size(), 1u);
	ExpectError(ErrorCode::Internal, [&] { (void)b.Level(1); });
	ExpectError(ErrorCode::Internal, [&] { (void)b.Label(1); });
	ExpectError(ErrorCode::Internal, [&] { (void)b.Neighbors(0, b.Level(0) + 1); });
	ExpectError(ErrorCode::Internal, [&] { (void)b.Neighbors(0, -1); });
}

TEST(HnswBuilder, ReplacesABaseLevelNeighbour)
{
	const std::vector<float> data = RandomVectors(50, kDim, 11);
	HnswBuilder b(Params(Metric::L2, 50));
	for (std::uint32_t i = 0; i < 50; i++)
		b.Add(data.data() + i * kDim, i);
	NeighborList list = b.Neighbors(0, 0);
	ASSERT_GT(list.count, 1u);
	std::uint32_t outsider = 1;
	while (outsider == 0 || std::find(list.begin(), list.end(), outsider) != list.end())
		outsider++;
	b.ReplaceNeighbor(0, 0, outsider);
	EXPECT_EQ(b.Neighbors(0, 0).ids[0], outsider);
	EXPECT_EQ(b.Neighbors(0, 0).count, list.count);
	ExpectError(ErrorCode::Internal, [&] { b.ReplaceNeighbor(0, 1, outsider); });     // already a neighbour
	ExpectError(ErrorCode::Internal, [&] { b.ReplaceNeighbor(0, 0, 0); });            // itself
	ExpectError(ErrorCode::Internal, [&] { b.ReplaceNeighbor(0, list.count, 49); });  // beyond the list
	ExpectError(ErrorCode::Internal, [&] { b.ReplaceNeighbor(50, 0, 1); });           // no such element
}

TEST(HnswBuilder, MemoryEstimateScales)
{
	const HnswBuildParams p = Params(Metric::L2, 100000, 100);
	const std::size_t one = HnswBuilder::EstimateMemory(p, 1);
	const std::size_t four = HnswBuilder::EstimateMemory(p, 4);
	// The level-0 records alone: 4 + 2*16*4 + 100*4 + 8 bytes each.
	EXPECT_GT(one, 100000u * 540u);
	EXPECT_LT(one, 100000u * 700u);
	// Each extra thread adds a visited list of 2 bytes per element and a little scratch.
	EXPECT_GE(four - one, 3u * 100000 * 2);
	EXPECT_LT(four - one, 3u * 100000 * 2 + 100000);
	HnswBuildParams twice = p;
	twice.max_elements *= 2;
	EXPECT_GT(HnswBuilder::EstimateMemory(twice), 2 * one - 3 * 1024 * 1024);
}

// ---- parallel inserter ----

TEST(ParallelInserter, NoItems)
{
	HnswBuilder b(Params(Metric::L2, 1));
	ParallelInserter ins(b, nullptr, kDim, 0, 4);
	EXPECT_TRUE(ins.WaitFor(0)) << "nothing runs before Start";
	ins.Start();
	EXPECT_EQ(ins.WorkerCount(), 0u);
	EXPECT_TRUE(ins.WaitFor(1000));
	ins.Join();
	EXPECT_EQ(ins.Done(), 0u);
	ExpectGraphInvariants(b, 0);
}

TEST(ParallelInserter, OneItem)
{
	const std::vector<float> data = RandomVectors(1, kDim, 8);
	HnswBuilder b(Params(Metric::Cosine, 1));
	AddAllParallel(b, data, kDim, 4);
	ExpectGraphInvariants(b, 1);
	EXPECT_EQ(b.EntryPoint(), 0);
}

TEST(ParallelInserter, MoreThreadsThanItems)
{
	for (std::size_t n : {2u, 5u, 7u, 130u}) {
		const std::vector<float> data = RandomVectors(n, kDim, 9);
		HnswBuilder b(Params(Metric::L2, n));
		ParallelInserter ins(b, data.data(), kDim, n, 8);
		ins.Start();
		EXPECT_EQ(ins.WorkerCount(), std::min<std::size_t>(n, 8));
		while (!ins.WaitFor(100)) {
		}
		ins.Join();
		EXPECT_EQ(ins.Done(), n);
		ExpectGraphInvariants(b, n);
	}
}

TEST(ParallelInserter, StopsEarlyOnRequest)
{
	const std::size_t n = 20000;
	const std::vector<float> data = RandomVectors(n, 16, 10);
	HnswBuilder b(Params(Metric::L2, n, 16));
	ParallelInserter ins(b, data.data(), 16, n, 2);
	ins.Start();
	while (ins.Done() < 200)
		ASSERT_FALSE(ins.WaitFor(1)) << "finished before it could be stopped";
	ins.RequestStop();
	EXPECT_TRUE(ins.WaitFor(10000));
	ins.Join();
	EXPECT_LT(ins.Done(), n);
	// Every item a worker started was finished; none was left half-inserted.
	EXPECT_EQ(b.Size(), ins.Done());
	// Workers claim chunks, so the labels present are not a prefix of 0..n-1.
	ExpectGraphInvariants(b, ins.Done(), n);
	ins.Join(); // again: nothing left to join, no error to rethrow
}

TEST(ParallelInserter, FirstErrorComesOutOfJoin)
{
	const std::size_t n = 300;
	const std::vector<float> data = RandomVectors(n, kDim, 11);
	HnswBuilder b(Params(Metric::L2, 100)); // room for labels 0..99 only
	ParallelInserter ins(b, data.data(), kDim, n, 3);
	ins.Start();
	EXPECT_TRUE(ins.WaitFor(10000)) << "an error stops every worker";
	ExpectError(ErrorCode::LimitExceeded, [&] { ins.Join(); });
	ExpectError(ErrorCode::LimitExceeded, [&] { ins.Join(); });
	EXPECT_LE(ins.Done(), 100u);
	EXPECT_EQ(b.Size(), ins.Done());
}

TEST(ParallelInserter, DestructorStopsAndNeverThrows)
{
	const std::size_t n = 20000;
	const std::vector<float> data = RandomVectors(n, 16, 12);
	HnswBuilder b(Params(Metric::L2, n, 16));
	{
		ParallelInserter ins(b, data.data(), 16, n, 2);
		ins.Start();
	}
	EXPECT_LT(b.Size(), n);

	HnswBuilder small(Params(Metric::L2, 10, 16));
	{
		ParallelInserter ins(small, data.data(), 16, 100, 2);
		ins.Start();
		while (!ins.WaitFor(100)) {
		}
		// The captured LimitExceeded is dropped, not thrown from the destructor.
	}
	EXPECT_LE(small.Size(), 10u);
}

TEST(ParallelInserter, RejectsMisuse)
{
	const std::vector<float> data = RandomVectors(4, kDim, 13);
	HnswBuilder b(Params(Metric::L2, 4));
	ExpectError(ErrorCode::DataException, [&] { ParallelInserter ins(b, data.data(), kDim, 4, 0); });
	ExpectError(ErrorCode::DataException, [&] { ParallelInserter ins(b, data.data(), kDim + 1, 4, 2); });
	ParallelInserter ins(b, data.data(), kDim, 4, 2);
	ins.Start();
	ExpectError(ErrorCode::Internal, [&] { ins.Start(); });
	ins.Join();
	EXPECT_EQ(b.Size(), 4u);
}


// Hamming and Jaccard graphs over packed bit strings (32 bits per float of storage): each
// point finds itself and the builder's distance equals the bit kernels'.
TEST(HnswBuilder, BitMetricsBuildSearchableGraphs)
{
	for (Metric metric : {Metric::Hamming, Metric::Jaccard}) {
		const std::size_t n = 600, words = 4; // 128 bits
		std::mt19937 rng(11);
		std::vector<float> data(n * words);
		for (std::size_t i = 0; i < n * words; i++) {
			auto bits = static_cast<std::uint32_t>(rng());
			std::memcpy(&data[i], &bits, sizeof bits);
		}
		HnswBuilder b(Params(metric, n, words));
		for (std::size_t i = 0; i < n; i++)
			b.Add(&data[i * words], static_cast<std::uint32_t>(i));
		const BitKernels &k = ActiveBitKernels();
		const auto *a0 = reinterpret_cast<const std::uint8_t *>(&data[0]);
		const auto *a1 = reinterpret_cast<const std::uint8_t *>(&data[words]);
		double want = metric == Metric::Hamming ? static_cast<double>(k.hamming(a0, a1, words * 4))
		                                        : JaccardDistance(k.jaccard(a0, a1, words * 4));
		EXPECT_FLOAT_EQ(b.Distance(&data[0], &data[words]), static_cast<float>(want)) << MetricName(metric);
		std::size_t found = 0;
		for (std::size_t i = 0; i < n; i++) {
			auto r = b.Search(&data[i * words], 1, 40);
			found += !r.empty() && r[0].second == i ? 1 : 0;
		}
		EXPECT_GE(found, n * 98 / 100) << MetricName(metric);
	}
}

} // namespace
} // namespace quiver::core
