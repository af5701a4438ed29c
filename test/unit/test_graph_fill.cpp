#include <algorithm>
#include <atomic>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "quiver/error.hpp"
#include "quiver/graph_fill.hpp"
#include "quiver/hnsw_builder.hpp"
#include "quiver/kernels.hpp"
#include "quiver/parallel_for.hpp"

using namespace quiver::core;

namespace {

std::vector<float>
RandomVectors(std::size_t n, int dim, unsigned seed)
{
	std::mt19937 rng(seed);
	std::uniform_real_distribution<float> u(0.0f, 1.0f);
	std::vector<float> v(n * static_cast<std::size_t>(dim));
	for (float &x : v)
		x = u(rng);
	return v;
}

TEST(ParallelFor, RunsEveryItemOnce)
{
	const std::size_t n = 10007;
	std::vector<std::atomic<int>> hits(n);
	ParallelFor job(n, 3, [&](std::size_t i) { hits[i].fetch_add(1); });
	job.Start();
	while (!job.WaitFor(10)) {
	}
	job.Join();
	EXPECT_EQ(job.Done(), n);
	for (std::size_t i = 0; i < n; i++)
		ASSERT_EQ(hits[i].load(), 1) << i;
}

TEST(ParallelFor, FirstErrorComesOutOfJoin)
{
	ParallelFor job(1000, 2, [](std::size_t i) {
		if (i == 500)
			throw Error(ErrorCode::Internal, "boom");
	});
	job.Start();
	while (!job.WaitFor(10)) {
	}
	EXPECT_THROW(job.Join(), Error);
	EXPECT_THROW(ParallelFor(1, 0, [](std::size_t) {}), Error);
}

TEST(BaseLayerFill, FillsShortListsWithNearestNewNeighbours)
{
	InitKernels(nullptr);
	const int dim = 4, m = 8;
	const std::size_t n = 3000;
	std::vector<float> data = RandomVectors(n, dim, 7);
	HnswBuilder g(HnswBuildParams{dim, m, 32, Metric::L2, n});
	for (std::size_t i = 0; i < n; i++)
		g.Add(data.data() + i * dim, static_cast<std::uint32_t>(i));

	BaseLayerFill fill(g);
	fill.Prepare();
	fill.FillRange(0, n / 2);
	fill.FillRange(n / 2, n);

	std::size_t short_before = 0, short_after = 0;
	for (std::uint32_t id = 0; id < n; id++) {
		NeighborList own = g.Neighbors(id, 0);
		NeighborList extra = fill.Extra(id);
		ASSERT_LE(own.count + extra.count, static_cast<std::size_t>(2 * m));
		std::set<std::uint32_t> all(own.begin(), own.end());
		const float *self = data.data() + static_cast<std::size_t>(g.Label(id)) * dim;
		float last = -1.0f;
		for (std::uint32_t e : extra) {
			ASSERT_NE(e, id);
			ASSERT_LT(e, n);
			ASSERT_TRUE(all.insert(e).second) << "duplicate neighbour";
			float d = g.Distance(self, data.data() + static_cast<std::size_t>(g.Label(e)) * dim);
			ASSERT_GE(d, last) << "extras must come nearest first";
			last = d;
		}
		short_before += own.count < static_cast<std::size_t>(2 * m);
		short_after += own.count + extra.count < static_cast<std::size_t>(2 * m);
	}
	// In 4 dimensions hnswlib leaves most base lists short; almost all get filled.
	EXPECT_GT(short_before, n / 2);
	EXPECT_LT(short_after, n / 20);
}


// Nodes of the base level that no path from the entry point reaches, through lists and extras.
std::size_t
CountUnreachable(const HnswBuilder &g, const BaseLayerFill &fill)
{
	std::size_t n = g.Size();
	std::vector<bool> seen(n, false);
	std::vector<std::uint32_t> queue{static_cast<std::uint32_t>(g.EntryPoint())};
	seen[queue[0]] = true;
	for (std::size_t head = 0; head < queue.size(); head++) {
		for (const NeighborList &list : {g.Neighbors(queue[head], 0), fill.Extra(queue[head])}) {
			for (std::uint32_t to : list) {
				if (!seen[to]) {
					seen[to] = true;
					queue.push_back(to);
				}
			}
		}
	}
	return n - queue.size();
}

// Many copies of one vector among random ones: hnswlib's heuristic keeps one copy in each list
// and leaves others without incoming edges, the case LinkUnreachable exists for.
TEST(BaseLayerFill, LinksUnreachableNodes)
{
	InitKernels(nullptr);
	const int dim = 4, m = 4;
	const std::size_t n = 1200;
	std::vector<float> data = RandomVectors(n, dim, 9);
	for (std::size_t i = n / 2; i < n; i++)
		std::copy(data.begin(), data.begin() + dim, data.begin() + static_cast<std::ptrdiff_t>(i * dim));
	HnswBuilder g(HnswBuildParams{dim, m, 16, Metric::L2, n});
	for (std::size_t i = 0; i < n; i++)
		g.Add(data.data() + i * dim, static_cast<std::uint32_t>(i));
	BaseLayerFill fill(g);
	fill.Prepare();
	fill.FillRange(0, n);
	std::size_t before = CountUnreachable(g, fill);
	ASSERT_GT(before, 0u) << "the data no longer produces unreachable nodes; the test needs other data";
	std::size_t linked = fill.LinkUnreachable(static_cast<std::uint32_t>(g.EntryPoint()));
	EXPECT_GT(linked, 0u); // (fewer than `before` can do: a linked node brings its own neighbours along)
	EXPECT_EQ(CountUnreachable(g, fill), 0u);
	for (std::uint32_t id = 0; id < n; id++) {
		ASSERT_LE(g.Neighbors(id, 0).count + fill.Extra(id).count, static_cast<std::size_t>(2 * m));
		// no list names a neighbour twice (a page list with repeats fails quiver_hnsw_check)
		std::vector<std::uint32_t> all(g.Neighbors(id, 0).begin(), g.Neighbors(id, 0).end());
		all.insert(all.end(), fill.Extra(id).begin(), fill.Extra(id).end());
		std::sort(all.begin(), all.end());
		ASSERT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "node " << id << " repeats a neighbour";
	}
}

} // namespace
