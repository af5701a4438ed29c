// The one translation unit that includes hnswlib (see include/quiver/hnsw_builder.hpp).
//
// Debian's hnswlib 0.6.2 defines functions and variables at namespace scope without `inline`
// or `static` (cpuid, xgetbv, AVXCapable, L2SqrSIMD16Ext, ...): a second including TU would
// break the link. Everything hnswlib-specific therefore lives in this file.
#include "quiver/hnsw_builder.hpp"
#include "quiver/bits.hpp"
#include "quiver/half.hpp"
#include "quiver/sparse.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

#include <sys/mman.h>
#include <unistd.h>

// hnswlib 0.6.2's prefetch hints in searchBaseLayer read the id after the last one of a link
// list (nmslib/hnswlib#107, #578). For a full upper-level list that is 3 bytes past what it
// malloc'd: inside glibc's usable chunk, so it cannot fault, and the value only feeds a prefetch,
// but AddressSanitizer rightly reports it. Sanitized builds therefore compile hnswlib without its
// "manual vectorization", which here means only those prefetches: we never use its distances.
#if defined(__SANITIZE_ADDRESS__) && !defined(NO_MANUAL_VECTORIZATION)
#define NO_MANUAL_VECTORIZATION
#endif

// hnswlib is a system header (found through a SYSTEM include directory); the pragmas also keep
// its warnings out should it ever be found through an ordinary -I.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wtype-limits"
#include <hnswlib/hnswlib.h>
#pragma GCC diagnostic pop

#include "quiver/error.hpp"
#include "quiver/kernels.hpp"

namespace quiver::core {

namespace {

using Index = hnswlib::HierarchicalNSW<float>;

// The read-out hands out hnswlib's link arrays as uint32 views without copying.
static_assert(sizeof(hnswlib::tableint) == sizeof(std::uint32_t));
static_assert(sizeof(hnswlib::linklistsizeint) == sizeof(std::uint32_t));

// What hnswlib passes as the third argument of every distance call. It starts with the
// dimension, the convention of hnswlib's own spaces, and carries the kernels chosen when the
// builder was made: a DISTFUNC is a plain function pointer and has no other place for state.
struct KernelParam {
	std::size_t dim;
	DistanceFn l2_squared;
	DistanceFn dot;
	DistanceFn l1;
	CosineSumsFn cosine_sums;
	HammingFn hamming;
	JaccardFn jaccard;
	HalfDistanceFn half_l2_squared;
	HalfDistanceFn half_dot;
	HalfDistanceFn half_l1;
	HalfCosineSumsFn half_cosine_sums;
	bool dense_links; // HnswBuildParams::dense_links, for the linking below
};
static_assert(offsetof(KernelParam, dim) == 0);

// NaN breaks the strict weak ordering of hnswlib's priority queues; +infinity just ranks last.
inline float
NotNaN(float d)
{
	return d == d ? d : std::numeric_limits<float>::infinity();
}

// A distance from one kernel of KernelParam, on floats or (HnswBuildParams::half) halves;
// inner product negated ("smaller is closer").
template <class T, auto kernel, bool negate = false>
float
KernelDistance(const void *a, const void *b, const void *param)
{
	const auto *p = static_cast<const KernelParam *>(param);
	float d = (p->*kernel)(static_cast<const T *>(a), static_cast<const T *>(b), p->dim);
	return NotNaN(negate ? -d : d);
}

// Bit strings packed into the floats' bytes (see metric.hpp).
float
HammingDistance(const void *a, const void *b, const void *param)
{
	const auto *p = static_cast<const KernelParam *>(param);
	return static_cast<float>(
	    p->hamming(static_cast<const std::uint8_t *>(a), static_cast<const std::uint8_t *>(b), p->dim * sizeof(float)));
}

float
JaccardDistanceOf(const void *a, const void *b, const void *param)
{
	const auto *p = static_cast<const KernelParam *>(param);
	return static_cast<float>(JaccardDistance(
	    p->jaccard(static_cast<const std::uint8_t *>(a), static_cast<const std::uint8_t *>(b), p->dim * sizeof(float))));
}

template <class T, auto sums>
float
CosineDistance(const void *a, const void *b, const void *param)
{
	const auto *p = static_cast<const KernelParam *>(param);
	CosineSums s = (p->*sums)(static_cast<const T *>(a), static_cast<const T *>(b), p->dim);
	// A zero vector has no direction; 1 keeps it "orthogonal to everything" and finite. The
	// negated test also catches NaN norms.
	if (!(s.norm_a > 0.0f) || !(s.norm_b > 0.0f))
		return 1.0f;
	// Double for the product of the norms: two float32 squared norms near 1e30 would overflow.
	double similarity = static_cast<double>(s.dot) / std::sqrt(static_cast<double>(s.norm_a) * s.norm_b);
	if (!(similarity == similarity))
		return 1.0f;
	// Rounding can push |similarity| a little past 1; a negative distance would rank a vector
	// closer than itself.
	return static_cast<float>(1.0 - std::clamp(similarity, -1.0, 1.0));
}

// Sparse vectors: the element's bytes are a pointer to the packed vector (see HnswBuildParams).
SparseView
SparseAt(const void *element)
{
	const void *packed;
	std::memcpy(&packed, element, sizeof packed);
	return PackedSparseView(packed);
}

float
SparseL2Distance(const void *a, const void *b, const void *)
{
	return NotNaN(SparseL2Squared(SparseAt(a), SparseAt(b)));
}

float
SparseInnerProductDistance(const void *a, const void *b, const void *)
{
	return NotNaN(-SparseInnerProduct(SparseAt(a), SparseAt(b)));
}

float
SparseL1Distance(const void *a, const void *b, const void *)
{
	return NotNaN(SparseL1(SparseAt(a), SparseAt(b)));
}

float
SparseCosineDistance(const void *a, const void *b, const void *)
{
	SparseView x = SparseAt(a), y = SparseAt(b);
	double na = SparseNormSquaredDouble(x), nb = SparseNormSquaredDouble(y);
	if (!(na > 0) || !(nb > 0))
		return 1.0f; // no direction: as the dense cosine, "orthogonal to everything"
	double similarity = static_cast<double>(SparseInnerProduct(x, y)) / std::sqrt(na * nb);
	if (!(similarity == similarity))
		return 1.0f;
	similarity = std::clamp(similarity, -1.0, 1.0);
	return static_cast<float>(1.0 - similarity);
}

// The distance functions of one representation of vectors, for the metrics all of them have.
struct DistanceFunctions {
	hnswlib::DISTFUNC<float> l2;
	hnswlib::DISTFUNC<float> inner_product;
	hnswlib::DISTFUNC<float> cosine;
	hnswlib::DISTFUNC<float> l1;
};

constexpr DistanceFunctions kFloatDistances{
    &KernelDistance<float, &KernelParam::l2_squared>, &KernelDistance<float, &KernelParam::dot, true>,
    &CosineDistance<float, &KernelParam::cosine_sums>, &KernelDistance<float, &KernelParam::l1>};
constexpr DistanceFunctions kHalfDistances{
    &KernelDistance<Half, &KernelParam::half_l2_squared>, &KernelDistance<Half, &KernelParam::half_dot, true>,
    &CosineDistance<Half, &KernelParam::half_cosine_sums>, &KernelDistance<Half, &KernelParam::half_l1>};
constexpr DistanceFunctions kSparseDistances{&SparseL2Distance, &SparseInnerProductDistance, &SparseCosineDistance,
                                             &SparseL1Distance};

hnswlib::DISTFUNC<float>
Pick(const DistanceFunctions &f, Metric metric)
{
	switch (metric) {
	case Metric::InnerProduct:
		return f.inner_product;
	case Metric::Cosine:
		return f.cosine;
	case Metric::L1:
		return f.l1;
	default:
		return f.l2;
	}
}

class KernelSpace final : public hnswlib::SpaceInterface<float> {
  public:
	KernelSpace(Metric metric, std::size_t dim, bool sparse, bool half, bool dense_links)
	    : half_(half)
	{
		const F32Kernels &k = ActiveKernels();
		const BitKernels &bits = ActiveBitKernels();
		const F16Kernels &h = ActiveHalfKernels();
		param_ = KernelParam{dim,       k.l2_squared, k.dot,           k.l1,         k.cosine_sums, bits.hamming,
		                     bits.jaccard, h.l2_squared, h.dot, h.l1, h.cosine_sums, dense_links};
		if (metric == Metric::Hamming)
			func_ = &HammingDistance;
		else if (metric == Metric::Jaccard)
			func_ = &JaccardDistanceOf;
		else // Validate refuses bit metrics on halves and sparse vectors
			func_ = half ? Pick(kHalfDistances, metric) : sparse ? Pick(kSparseDistances, metric) : Pick(kFloatDistances, metric);
	}

	std::size_t
	get_data_size() override
	{
		return param_.dim * (half_ ? sizeof(Half) : sizeof(float));
	}
	hnswlib::DISTFUNC<float>
	get_dist_func() override
	{
		return func_;
	}
	void *
	get_dist_func_param() override
	{
		return &param_;
	}

	float
	Distance(const float *a, const float *b) const noexcept
	{
		return func_(a, b, &param_);
	}

  private:
	KernelParam param_{};
	hnswlib::DISTFUNC<float> func_ = &KernelDistance<float, &KernelParam::l2_squared>;
	bool half_;
};

// hnswlib reports failed mallocs as runtime_error("Not enough memory..."); they are out-of-memory
// conditions like any bad_alloc, not bugs, and the glue maps bad_alloc to its own SQLSTATE.
[[noreturn]] void
ThrowFromHnswlib(const char *doing, const std::runtime_error &e)
{
	static constexpr char kNoMemory[] = "Not enough memory";
	if (std::strncmp(e.what(), kNoMemory, sizeof(kNoMemory) - 1) == 0)
		throw std::bad_alloc();
	throw Error(ErrorCode::Internal, std::string("hnswlib failed while ") + doing + ": " + e.what());
}

// Runs f, converting hnswlib's exceptions; our own Error and std::bad_alloc pass unchanged.
template <class F>
decltype(auto)
CallHnswlib(const char *doing, F &&f)
{
	try {
		return f();
	} catch (const Error &) {
		throw;
	} catch (const std::runtime_error &e) {
		ThrowFromHnswlib(doing, e);
	}
}

// vec scaled by params.half_scale and rounded to halves, in `out`.
const Half *
ToHalves(const float *vec, const HnswBuildParams &params, std::vector<Half> &out)
{
	std::size_t dim = static_cast<std::size_t>(params.dim);
	out.resize(dim);
	if (params.half_scale == 1.0f) {
		FloatToHalfArray(vec, out.data(), dim);
		return out.data();
	}
	thread_local std::vector<float> scaled;
	scaled.resize(dim);
	for (std::size_t i = 0; i < dim; i++)
		scaled[i] = vec[i] * params.half_scale;
	FloatToHalfArray(scaled.data(), out.data(), dim);
	return out.data();
}

// Asks the kernel to back [data, data + bytes) with transparent huge pages (where the system
// leaves THP to madvise, as Debian does). An insertion visits a few hundred elements spread over
// the whole level-0 block, so with 4 kB pages nearly every one of them also misses the TLB.
// Called before the memory is first touched, so the pages are huge from their first fault. Only
// a hint: failure (no THP, an old kernel) leaves ordinary pages.
void
AdviseHugePages(void *data, std::size_t bytes) noexcept
{
#ifdef MADV_HUGEPAGE
	const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
	const auto begin = reinterpret_cast<std::uintptr_t>(data);
	const std::uintptr_t first = (begin + page - 1) & ~(page - 1);
	const std::uintptr_t last = (begin + bytes) & ~(page - 1);
	if (data != nullptr && last > first)
		(void)madvise(reinterpret_cast<void *>(first), last - first, MADV_HUGEPAGE);
#else
	(void)data;
	(void)bytes;
#endif
}

// glibc's malloc: 8 bytes of header, 16-byte granularity, 32-byte minimum chunk.
constexpr std::size_t
MallocChunk(std::size_t request)
{
	std::size_t chunk = (request + 8 + 15) & ~std::size_t{15};
	return chunk < 32 ? 32 : chunk;
}

// Candidates ranked nearest first, and which of them a neighbour list keeps.
using Ranked = std::vector<std::pair<float, hnswlib::tableint>>;

// The HNSW paper's diversity rule over `ranked` (nearest first): a candidate is kept unless it
// is closer to a kept one than to the list's owner, at most `limit` in all. With `keep_pruned`,
// free slots then take the nearest pruned candidates. `chosen` gets indexes into ranked, the
// diverse ones first, both parts nearest first; returns how many are diverse (all, when the
// candidates are fewer than the limit and keep_pruned is off).
std::size_t
SelectNeighbors(const Index &graph, const Ranked &ranked, std::size_t limit, bool keep_pruned,
                std::vector<std::size_t> &chosen, std::vector<std::size_t> &pruned)
{
	chosen.clear();
	pruned.clear();
	// hnswlib's rule: fewer candidates than the limit are all kept, unpruned (the first
	// elements of a graph, the sparse top levels).
	if (!keep_pruned && ranked.size() < limit) {
		for (std::size_t i = 0; i < ranked.size(); i++)
			chosen.push_back(i);
		return chosen.size();
	}
	for (std::size_t i = 0; i < ranked.size() && chosen.size() < limit; i++) {
		const char *candidate = graph.getDataByInternalId(ranked[i].second);
		bool diverse = true;
		for (std::size_t c : chosen) {
			if (graph.fstdistfunc_(graph.getDataByInternalId(ranked[c].second), candidate, graph.dist_func_param_) <
			    ranked[i].first) {
				diverse = false;
				break;
			}
		}
		if (diverse)
			chosen.push_back(i);
		else if (keep_pruned)
			pruned.push_back(i);
	}
	std::size_t diverse = chosen.size();
	for (std::size_t i = 0; i < pruned.size() && chosen.size() < limit; i++)
		chosen.push_back(pruned[i]);
	return diverse;
}

// What one insertion found on the level it just linked, for its search one level down. The
// paper starts each level's search from all of the level above's candidates; hnswlib starts
// from the nearest one alone, which on small lists (m 4 to 8) often strands the search in a
// poor region (glove, m 4, ef_construction 8: recall@10 at ef_search 40 0.08, 0.14 with this).
// Per thread: an insertion runs on one thread from start to end.
struct LevelCarry {
	const void *graph = nullptr; // the index inserted into
	const void *point = nullptr; // the vector being inserted (the caller may reuse the buffer)
	int level = -1;              // the level they were found on
	Ranked found;                // with their distances to the vector, which stay valid
	std::uint64_t searches_seeded = 0; // HnswBuilder::SeededSearchesOnThisThread
};
thread_local LevelCarry level_carry;

} // namespace
} // namespace quiver::core

// Two members of hnswlib's HierarchicalNSW<float> (the one instantiation this file makes) are
// replaced by explicit specializations, declared before HnswBuilder::Add instantiates addPoint,
// which calls them: hnswlib 0.6.2 offers no other hook into how it links an element. They keep
// its contracts (locks, list layout, return values) and change what is chosen:
// - searchBaseLayer: seeded with the candidates of the level above (LevelCarry). Without
//   hnswlib's checks of deleted marks, which the builder never sets.
// - mutuallyConnectNewElement: with HnswBuildParams::dense_links, linking as the page insert
//   path does (see there).
// A different hnswlib whose members differ fails to compile here rather than misbehave.
namespace hnswlib {

template <>
std::priority_queue<std::pair<float, tableint>, std::vector<std::pair<float, tableint>>,
                    HierarchicalNSW<float>::CompareByFirst>
HierarchicalNSW<float>::searchBaseLayer(tableint ep_id, const void *data_point, int layer)
{
	using Heap = std::priority_queue<std::pair<float, tableint>, std::vector<std::pair<float, tableint>>, CompareByFirst>;
	VisitedList *visited_list = visited_list_pool_->getFreeVisitedList();
	vl_type *visited = visited_list->mass;
	const vl_type tag = visited_list->curV;
	Heap nearest;  // the ef_construction nearest so far, farthest on top
	Heap frontier; // to expand, nearest on top (negated distances)
	auto seed = [&](tableint id, float d) {
		if (visited[id] == tag)
			return;
		visited[id] = tag;
		frontier.emplace(-d, id);
		nearest.emplace(d, id);
		if (nearest.size() > ef_construction_)
			nearest.pop();
	};
	seed(ep_id, fstdistfunc_(data_point, getDataByInternalId(ep_id), dist_func_param_));
	// Only from the same insertion's level above: a carry from another graph, another insertion
	// (the caller may reuse its buffer) or another level could name elements without a list on
	// this one. (An insertion ends on level 0, whose carry no search matches.)
	quiver::core::LevelCarry &carry = quiver::core::level_carry;
	if (carry.graph == this && carry.point == data_point && carry.level == layer + 1) {
		carry.searches_seeded++;
		for (const auto &[d, id] : carry.found)
			seed(id, d);
	}
	float bound = nearest.top().first;
	while (!frontier.empty()) {
		std::pair<float, tableint> next = frontier.top();
		if (-next.first > bound && nearest.size() == ef_construction_)
			break;
		frontier.pop();
		std::unique_lock<std::mutex> lock(link_list_locks_[next.second]);
		linklistsizeint *list = layer == 0 ? get_linklist0(next.second) : get_linklist(next.second, layer);
		const std::size_t count = getListCount(list);
		const tableint *ids = reinterpret_cast<const tableint *>(list + 1);
		for (std::size_t j = 0; j < count; j++) {
			tableint id = ids[j];
			if (j + 1 < count) {
				__builtin_prefetch(visited + ids[j + 1]);
				__builtin_prefetch(getDataByInternalId(ids[j + 1]));
			}
			if (visited[id] == tag)
				continue;
			visited[id] = tag;
			float d = fstdistfunc_(data_point, getDataByInternalId(id), dist_func_param_);
			if (nearest.size() < ef_construction_ || d < bound) {
				frontier.emplace(-d, id);
				nearest.emplace(d, id);
				if (nearest.size() > ef_construction_)
					nearest.pop();
				bound = nearest.top().first;
			}
		}
	}
	visited_list_pool_->releaseVisitedList(visited_list);
	return nearest;
}

// Links cur_c on `level` to candidates (the search's ef_construction nearest) and them back to it.
//
// hnswlib's own rule: the new element keeps the diverse ones, at most m (also on level 0, whose
// lists hold 2m); a full list that gets the new element keeps only the diverse ones of its
// neighbours plus the new one. Lists then grow and shrink during the build and end well short of
// full, and BaseLayerFill fills them afterwards. At m 16 that is cheap and loses nothing. At small
// m the build's own searches starve on the short lists (glove at m 8: recall@10 at ef_search 40
// 0.72 against pgvector's 0.75).
//
// dense_links links as the page insert path (hnsw_insert.cpp) and pgvector do: up to 2m on level
// 0; a full list keeps pruned candidates to stay full; and a neighbour a link-back drops, which
// may have had no other way in, is taken over by the new element, into a free slot or in place
// of its farthest neighbour kept only to fill the list.
//
// Locks: addPoint holds cur_c's list lock throughout, so cur_c's lists are ours to change; each
// neighbour's list is changed under its own lock, one at a time, as hnswlib does.
template <>
tableint
HierarchicalNSW<float>::mutuallyConnectNewElement(
    const void *data_point, tableint cur_c,
    std::priority_queue<std::pair<float, tableint>, std::vector<std::pair<float, tableint>>, CompareByFirst> &candidates,
    int level, bool)
{
	const bool dense = static_cast<const quiver::core::KernelParam *>(dist_func_param_)->dense_links;
	const std::size_t capacity = level ? maxM_ : maxM0_;

	quiver::core::Ranked ranked(candidates.size());
	for (std::size_t i = ranked.size(); i > 0; i--) {
		ranked[i - 1] = candidates.top();
		candidates.pop();
	}
	quiver::core::LevelCarry &carry = quiver::core::level_carry;
	carry.graph = this;
	carry.point = data_point;
	carry.level = level;
	carry.found = ranked;

	std::vector<std::size_t> chosen, pruned;
	const std::size_t diverse = quiver::core::SelectNeighbors(*this, ranked, dense ? capacity : M_, dense, chosen, pruned);
	if (chosen.empty())
		throw std::runtime_error("no neighbour to link a new element to");

	// hnswlib's order, farthest first (BaseLayerFill's second hops take the first few of a list;
	// nearest first made no difference on glove: recall@10 at ef_search 40 / 120 0.878 / 0.949
	// against 0.879 / 0.950, fill 1.0 s both, two builds each).
	linklistsizeint *own_list = level == 0 ? get_linklist0(cur_c) : get_linklist(cur_c, level);
	tableint *own = reinterpret_cast<tableint *>(own_list + 1);
	const std::size_t n_chosen = chosen.size();
	auto slot_of = [n_chosen](std::size_t k) { return n_chosen - 1 - k; }; // of chosen[k]
	for (std::size_t k = 0; k < n_chosen; k++)
		own[slot_of(k)] = ranked[chosen[k]].second;
	setListCount(own_list, static_cast<unsigned short>(n_chosen));
	// A hand-off takes the place of the farthest filler (chosen[diverse..]) not yet taken; only
	// hand-offs write those slots, and they go farthest first.
	std::size_t next_filler = n_chosen;

	quiver::core::Ranked listed;
	std::vector<std::size_t> kept, kept_pruned;
	std::vector<char> keeps;
	std::vector<tableint> dropped; // dense only: what the link-back's prune gave up
	for (std::size_t s = 0; s < n_chosen; s++) {
		const tableint other = ranked[chosen[s]].second;
		dropped.clear();
		{
			std::unique_lock<std::mutex> lock(link_list_locks_[other]);
			linklistsizeint *list = level == 0 ? get_linklist0(other) : get_linklist(other, level);
			const std::size_t count = getListCount(list);
			tableint *ids = reinterpret_cast<tableint *>(list + 1);
			if (count < capacity) {
				ids[count] = cur_c;
				setListCount(list, static_cast<unsigned short>(count + 1));
				continue;
			}
			const char *other_data = getDataByInternalId(other);
			listed.clear();
			listed.emplace_back(ranked[chosen[s]].first, cur_c);
			for (std::size_t j = 0; j < count; j++)
				listed.emplace_back(fstdistfunc_(getDataByInternalId(ids[j]), other_data, dist_func_param_), ids[j]);
			std::sort(listed.begin(), listed.end());
			quiver::core::SelectNeighbors(*this, listed, capacity, dense, kept, kept_pruned);
			for (std::size_t i = 0; i < kept.size(); i++)
				ids[i] = listed[kept[kept.size() - 1 - i]].second;
			setListCount(list, static_cast<unsigned short>(kept.size()));
			if (dense) {
				keeps.assign(listed.size(), 0);
				for (std::size_t k : kept)
					keeps[k] = 1;
				for (std::size_t i = 0; i < listed.size(); i++) {
					if (!keeps[i] && listed[i].second != cur_c)
						dropped.push_back(listed[i].second);
				}
			}
		}
		for (tableint gone : dropped) {
			std::size_t count = getListCount(own_list);
			if (std::find(own, own + count, gone) != own + count)
				continue;
			if (count < capacity) {
				own[count] = gone;
				setListCount(own_list, static_cast<unsigned short>(count + 1));
				continue;
			}
			if (next_filler > diverse)
				own[slot_of(--next_filler)] = gone;
		}
	}
	return ranked[chosen[0]].second;
}

} // namespace hnswlib

namespace quiver::core {
namespace {

} // namespace

struct HnswBuilder::Impl {
	explicit Impl(const HnswBuildParams &p)
	    : params(p), space(p.metric, static_cast<std::size_t>(p.dim), p.sparse, p.half, p.dense_links),
	      index(&space, p.max_elements, static_cast<std::size_t>(p.m), static_cast<std::size_t>(p.ef_construction),
	            static_cast<std::size_t>(p.seed)),
	      added(new std::atomic<std::uint64_t>[(p.max_elements + 63) / 64]())
	{
		AdviseHugePages(index.data_level0_memory_, index.max_elements_ * index.size_data_per_element_);
	}

	HnswBuildParams params;
	KernelSpace space; // hnswlib keeps pointers into it: must outlive (be declared before) index
	Index index;
	// One bit per label: hnswlib would treat a repeated label as an update of that element,
	// which 0.6.2 cannot do safely alongside concurrent inserts.
	std::unique_ptr<std::atomic<std::uint64_t>[]> added;
};

void
HnswBuilder::Validate(const HnswBuildParams &p)
{
	if (p.dim < 1)
		throw Error(ErrorCode::DataException, "hnsw: dimension must be at least 1, got " + std::to_string(p.dim));
	if (p.dim > kHnswBuilderMaxDim)
		throw Error(ErrorCode::LimitExceeded, "hnsw: dimension " + std::to_string(p.dim) + " exceeds the maximum of " +
		                                          std::to_string(kHnswBuilderMaxDim));
	// m = 1 would make hnswlib's level multiplier 1/ln(1) infinite.
	if (p.m < kHnswBuilderMinM)
		throw Error(ErrorCode::DataException,
		            "hnsw: m must be at least " + std::to_string(kHnswBuilderMinM) + ", got " + std::to_string(p.m));
	if (p.m > kHnswBuilderMaxM)
		throw Error(ErrorCode::LimitExceeded,
		            "hnsw: m " + std::to_string(p.m) + " exceeds the maximum of " + std::to_string(kHnswBuilderMaxM));
	if (p.ef_construction < 1)
		throw Error(ErrorCode::DataException,
		            "hnsw: ef_construction must be at least 1, got " + std::to_string(p.ef_construction));
	if (!MetricFromByte(static_cast<std::uint8_t>(p.metric), nullptr))
		throw Error(ErrorCode::DataException,
		            "hnsw: unknown metric " + std::to_string(static_cast<unsigned>(p.metric)));
	if (p.sparse && (p.dim * sizeof(float) != sizeof(void *) || p.metric == Metric::Hamming || p.metric == Metric::Jaccard))
		throw Error(ErrorCode::DataException, "hnsw: sparse vectors need dim " + std::to_string(sizeof(void *) / sizeof(float)) +
		                                          " (a pointer) and an L2, inner product, cosine or L1 metric");
	if (p.half && (p.sparse || p.metric == Metric::Hamming || p.metric == Metric::Jaccard))
		throw Error(ErrorCode::DataException, "hnsw: halves are for dense L2, inner product, cosine or L1 vectors");
	if (p.half && !(p.half_scale > 0.0f && std::isfinite(p.half_scale)))
		throw Error(ErrorCode::DataException, "hnsw: half_scale must be positive and finite");
	if (p.max_elements < 1)
		throw Error(ErrorCode::DataException, "hnsw: max_elements must be at least 1");
	if (p.max_elements > kHnswBuilderMaxElements)
		throw Error(ErrorCode::LimitExceeded, "hnsw: " + std::to_string(p.max_elements) +
		                                          " elements exceed the maximum of " +
		                                          std::to_string(kHnswBuilderMaxElements));
}

// EstimateMemory, with N = max_elements, D = dim, M = m, T = threads, on 64-bit glibc:
//
//   N * (4 + 2M*4 + 4D + 8)       level-0 block: link count, 2M neighbour ids, the vector, the label
// + N * (40 + 4 + 8)              per element: a std::mutex, its level (int), its upper-list pointer
// + N * E[chunk(L*(4 + 4M) + 1)]  upper link lists, one malloc per element with level L >= 1;
//                                 P(L = l) = M^-l * (1 - 1/M) (levels are floor(-ln U / ln M)), so
//                                 E[L] = 1/(M-1) and about 5 bytes per element for M = 16
// + N * (32 + 2*8)                label map: one 32-byte unordered_map node per element, and at most
//                                 2N eight-byte buckets (libstdc++ doubles the bucket array)
// + 65536 * 40                    hnswlib's fixed table of update mutexes
// + T * N * 2                     one visited list (a uint16 epoch per element) per thread that
//                                 searches at the same time
// + N / 8                         our bitmap of labels already added
// + T * ef_construction * 32      per-thread candidate heaps (transient)
// + sizeof the index objects
//
// where chunk(s) is glibc's allocation for s bytes. The big arrays are single mallocs, so their
// overhead is negligible. The caller's input vectors are not included.
std::size_t
HnswBuilder::EstimateMemory(const HnswBuildParams &p, int threads)
{
	Validate(p);
	const std::size_t n = p.max_elements;
	const std::size_t dim = static_cast<std::size_t>(p.dim);
	const std::size_t m = static_cast<std::size_t>(p.m);
	const std::size_t t = threads < 1 ? 1 : static_cast<std::size_t>(threads);

	const std::size_t level0_record = sizeof(hnswlib::linklistsizeint) + 2 * m * sizeof(hnswlib::tableint) +
	                                  dim * (p.half ? sizeof(Half) : sizeof(float)) + sizeof(hnswlib::labeltype);
	const std::size_t per_element = sizeof(std::mutex) + sizeof(int) + sizeof(char *);
	const std::size_t upper_list = sizeof(hnswlib::linklistsizeint) + m * sizeof(hnswlib::tableint);

	// Expected upper-list allocation per element; the terms shrink by a factor M per level.
	double upper_expected = 0.0;
	const double md = static_cast<double>(m);
	double p_level = (1.0 / md) * (1.0 - 1.0 / md);
	for (std::size_t level = 1; level < 64 && p_level > 1e-12; level++, p_level /= md)
		upper_expected += p_level * static_cast<double>(MallocChunk(level * upper_list + 1));

	using LabelNode = std::pair<void *, std::pair<const hnswlib::labeltype, hnswlib::tableint>>;
	const std::size_t label_map = MallocChunk(sizeof(LabelNode)) + 2 * sizeof(void *);

	const std::size_t visited = t * (n * sizeof(hnswlib::vl_type) + MallocChunk(sizeof(hnswlib::VisitedList)));
	const std::size_t update_locks = Index::max_update_element_locks * sizeof(std::mutex);
	const std::size_t bitmap = (n + 63) / 64 * sizeof(std::uint64_t);
	const std::size_t scratch = t * static_cast<std::size_t>(p.ef_construction) * 32;

	return n * (level0_record + per_element + label_map) +
	       static_cast<std::size_t>(std::ceil(static_cast<double>(n) * upper_expected)) + visited + update_locks +
	       bitmap + scratch + sizeof(Impl);
}

HnswBuilder::HnswBuilder(const HnswBuildParams &params)
{
	Validate(params);
	// Should hnswlib's constructor run out of memory after its first malloc, 0.6.2 leaks that
	// block (it has no cleanup there); the bad_alloc still reaches the caller.
	impl_ = CallHnswlib("allocating the graph", [&] { return std::make_unique<Impl>(params); });
}

HnswBuilder::~HnswBuilder() = default;

const HnswBuildParams &
HnswBuilder::Params() const noexcept
{
	return impl_->params;
}

void
HnswBuilder::Add(const float *vec, std::uint32_t label)
{
	if (label >= impl_->params.max_elements)
		throw Error(ErrorCode::LimitExceeded, "hnsw: element " + std::to_string(label) + " is beyond the capacity of " +
		                                          std::to_string(impl_->params.max_elements) +
		                                          " elements the graph was sized for");
	const std::uint64_t bit = std::uint64_t{1} << (label % 64);
	if (impl_->added[label / 64].fetch_or(bit, std::memory_order_relaxed) & bit)
		throw Error(ErrorCode::Internal, "hnsw: element " + std::to_string(label) + " was added twice");
	const void *data = vec;
	thread_local std::vector<Half> halves;
	if (impl_->params.half) {
		data = ToHalves(vec, impl_->params, halves);
	}
	// An insertion that threw part-way leaves its carry behind; the next one on this thread, into
	// any builder, must not take it for its own (searchBaseLayer checks graph, vector and level,
	// and a new builder at a freed one's address with a reused buffer would pass all three).
	level_carry.level = -1;
	CallHnswlib("inserting an element", [&] { impl_->index.addPoint(data, label); });
}

std::uint64_t
HnswBuilder::SeededSearchesOnThisThread() noexcept
{
	return level_carry.searches_seeded;
}

float
HnswBuilder::Distance(const float *a, const float *b) const noexcept
{
	return impl_->space.Distance(a, b);
}

std::size_t
HnswBuilder::Size() const noexcept
{
	return impl_->index.cur_element_count;
}

std::int64_t
HnswBuilder::EntryPoint() const noexcept
{
	if (impl_->index.cur_element_count == 0)
		return -1;
	return static_cast<std::int64_t>(impl_->index.enterpoint_node_);
}

int
HnswBuilder::MaxLevel() const noexcept
{
	return impl_->index.cur_element_count == 0 ? -1 : impl_->index.maxlevel_;
}

int
HnswBuilder::Level(std::uint32_t id) const
{
	if (id >= impl_->index.cur_element_count)
		throw Error(ErrorCode::Internal, "hnsw: element id " + std::to_string(id) + " out of range");
	return impl_->index.element_levels_[id];
}

std::uint32_t
HnswBuilder::Label(std::uint32_t id) const
{
	if (id >= impl_->index.cur_element_count)
		throw Error(ErrorCode::Internal, "hnsw: element id " + std::to_string(id) + " out of range");
	// Below max_elements (checked in Add), hence below 2^31.
	return static_cast<std::uint32_t>(impl_->index.getExternalLabel(id));
}

const float *
HnswBuilder::Vector(std::uint32_t id) const noexcept
{
	return reinterpret_cast<const float *>(impl_->index.getDataByInternalId(id));
}

namespace {

void
PrefetchBytes(const char *data, std::size_t bytes) noexcept
{
	for (std::size_t at = 0; at < bytes; at += 64)
		__builtin_prefetch(data + at);
}

} // namespace

void
HnswBuilder::PrefetchVector(std::uint32_t id) const noexcept
{
	PrefetchBytes(impl_->index.getDataByInternalId(id), impl_->index.data_size_);
}

void
HnswBuilder::PrefetchBaseNeighbors(std::uint32_t id) const noexcept
{
	PrefetchBytes(reinterpret_cast<const char *>(impl_->index.get_linklist0(id)), impl_->index.size_links_level0_);
}

NeighborList
HnswBuilder::Neighbors(std::uint32_t id, int level) const
{
	const int top = Level(id);
	if (level < 0 || level > top)
		throw Error(ErrorCode::Internal, "hnsw: element " + std::to_string(id) + " has no level " +
		                                     std::to_string(level) + " (its top level is " + std::to_string(top) + ")");
	const Index &index = impl_->index;
	hnswlib::linklistsizeint *list = index.get_linklist_at_level(id, level);
	return NeighborList{reinterpret_cast<const std::uint32_t *>(list + 1), index.getListCount(list)};
}

void
HnswBuilder::ReplaceNeighbor(std::uint32_t id, std::size_t slot, std::uint32_t to)
{
	Index &index = impl_->index;
	if (id >= Size() || to >= Size() || to == id)
		throw Error(ErrorCode::Internal, "hnsw: no base-level edge from element " + std::to_string(id) + " to " +
		                                     std::to_string(to) + " can be made");
	hnswlib::linklistsizeint *list = index.get_linklist0(id);
	auto *ids = reinterpret_cast<std::uint32_t *>(list + 1);
	std::size_t count = index.getListCount(list);
	if (slot >= count || std::find(ids, ids + count, to) != ids + count)
		throw Error(ErrorCode::Internal, "hnsw: element " + std::to_string(id) + " has no slot " + std::to_string(slot) +
		                                     " to point to " + std::to_string(to));
	ids[slot] = to;
}

std::vector<std::pair<float, std::uint32_t>>
HnswBuilder::Search(const float *q, std::size_t k, std::size_t ef) const
{
	std::vector<std::pair<float, std::uint32_t>> out;
	if (k == 0 || impl_->index.cur_element_count == 0)
		return out;
	Index &index = impl_->index;
	std::vector<Half> halves;
	const void *data = impl_->params.half ? ToHalves(q, impl_->params, halves) : static_cast<const void *>(q);
	auto heap = CallHnswlib("searching", [&] {
		index.setEf(ef);
		return index.searchKnn(data, k);
	});
	// searchKnn's heap has the farthest on top.
	out.resize(heap.size());
	for (std::size_t i = out.size(); i-- > 0; heap.pop())
		out[i] = {heap.top().first, static_cast<std::uint32_t>(heap.top().second)};
	return out;
}

float
HalfScaleFor(float max_abs) noexcept
{
	if (!(max_abs > 0.0f) || !std::isfinite(max_abs))
		return 1.0f; // all zeros: exact as they are
	int exponent;
	std::frexp(max_abs, &exponent); // max_abs = f * 2^exponent, 0.5 <= f < 1
	// max_abs * 2^(14 - exponent) lies in [2^13, 2^14); the clamp keeps the scale a finite
	// float (values below 2^-112 then round to subnormal halves or zero).
	return std::ldexp(1.0f, std::clamp(14 - exponent, -126, 126));
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
