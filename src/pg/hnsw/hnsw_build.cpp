// CREATE INDEX for hnsw.
//
// Phase 1 (loading tuples): the table's vectors are copied into one array, as long as they and
// the graph that will be built from them fit in maintenance_work_mem.
// Phase 2 (building graph): hnswlib builds the graph in memory from several threads (core code
// only; this backend's main thread waits in 100 ms slices, reports progress and notices a
// cancel, which stops and joins the threads before the error is raised).
// Phase 3 (writing pages): node positions are computed first, so that every neighbour TID is
// known when a page is written; each page is then written once, in order.
// If the vectors stop fitting in memory, the graph of those loaded so far is written out and
// every later tuple goes through the page-level insert path (slower, but memory-bounded).
// The graph's pages are built in private memory, logged as full-page images 32 to a record
// (log_newpages) and appended with smgrextend, not through shared buffers (see FlushGraph);
// the metapage, and anything the page-level inserts or repair changed, are logged once the
// build is complete with log_newpage_range.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <thread>

#include "quiver/graph_fill.hpp"
#include "quiver/half.hpp"
#include "quiver/hnsw_builder.hpp"
#include "quiver/parallel_for.hpp"
#include "quiver/parallel_insert.hpp"
#include "hnsw_search.hpp"
#include "../index/build_job.hpp"

extern "C" {
#include "access/parallel.h"
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/rel.h"
}

namespace quiver::pg::hnsw {

int hnsw_build_threads = -1;

namespace {

// Owns the core objects of a build. Freed by a reset callback on the build's memory
// context, so that an ERROR or a cancel anywhere frees hnswlib's malloc'd graph as well.
struct CoreObjects {
	core::HnswBuilder *builder;
	core::ParallelInserter *inserter;
	core::BaseLayerFill *fill;
	core::ParallelFor *fill_job;
};

void
FreeCoreObjects(void *arg)
{
	auto *objs = static_cast<CoreObjects *>(arg);
	// Jobs first: their destructors stop and join the threads that use the other objects.
	delete objs->fill_job;
	objs->fill_job = nullptr;
	delete objs->inserter;
	objs->inserter = nullptr;
	delete objs->fill;
	objs->fill = nullptr;
	delete objs->builder;
	objs->builder = nullptr;
}

struct BuildState {
	HnswContext ctx;
	MemoryContext build_ctx; // vectors, TIDs and the core objects; deleted after the flush
	MemoryContext tmp_ctx;   // per tuple
	float *vectors;          // loaded vectors, `stride` floats apart (dims, plus one for inner product)
	std::size_t stride;
	ItemPointerData *tids;
	float *errors; // quantizer = 'half' or 'sq8': each node's error bound (else null)
	std::size_t loaded;
	std::size_t capacity;
	// Equal vectors share one node (up to kHnswHeapTids rows), as in the insert path: a table
	// from vector hash to node, and the extra rows of each node.
	std::uint32_t *dup_table; // node index + 1; 0 = empty
	std::size_t dup_mask;
	std::uint8_t *dup_counts; // extra rows per node
	std::uint32_t *extra_nodes;
	ItemPointerData *extra_tids;
	std::size_t n_extra;
	std::size_t cap_extra;
	double memory_limit;  // bytes
	double per_vector;    // bytes of memory one more vector costs (copy + graph)
	double graph_fixed;   // bytes the graph costs regardless of size
	bool in_memory;       // false once the graph was flushed: later tuples go to the pages
	bool augment_sparse;  // the graph of sparse inner product is built in the augmented space
	bool inserted_on_pages; // some tuples went through the page insert path (repair at the end)
	// Blocks FlushGraph wrote and WAL-logged itself ([first, end); end 0: none).
	BlockNumber logged_first;
	BlockNumber logged_end;
	bool left_unreached;    // the in-memory repair left nodes unreachable (repair at the end)
	double sparse_bytes;    // packed sparse vectors kept for the in-memory build
	double index_tuples;
	int threads;
	CoreObjects *objs;
	// Seconds per phase, for the DEBUG1 line that ends a build (what a faster build must cut).
	double seconds_graph;
	double seconds_fill;
	double seconds_link;
	double seconds_pages;
};

// What a multi-threaded build sets aside per thread (up to a quarter of maintenance_work_mem),
// outside the builder's estimate: glibc gives each thread its own malloc arena, where hnswlib
// allocates the upper-level lists of the elements that thread inserts and its search heaps, and
// freed chunks stay there. Also what makes 1,000 rows in 3 MB of maintenance_work_mem go to the
// pages from the first row, as in pgvector's parallel build (its TAP test 045).
constexpr double kThreadReserveBytes = 1024.0 * 1024.0;

double
Seconds()
{
	return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void
CheckBuildOptions(Relation index, const HnswContext *ctx)
{
	int m = HnswGetM(index);
	int ef_construction = HnswGetEfConstruction(index);
	if (ef_construction < 2 * m)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("ef_construction must be greater than or equal to 2 * m")));
	CheckIndexDimensions(ctx);
}

// Inner product is not a metric. hnswlib's neighbour selection, which treats it as one, keeps
// the few largest-norm nodes in nearly every list (hubs that lead searches to the best answers)
// and prunes the other large-norm nodes, some of which end up with no incoming edge; the
// repair after the build links those back (5,328 of glove's 200,000 rows).
//
// On vectors of few dimensions the graph is instead built in a space where inner-product order
// is L2 order: each vector gets one more component, sqrt(R^2 - |x|^2) with R the largest norm,
// and a query gets 0 there, so |q - x'|^2 = |q|^2 + R^2 - 2 q.x. The augmented distance between
// two rows, 2R^2 - 2 (x.y + a_x a_y), is shaped by directions only where x.y varies more than
// the norm terms, which holds for few dense dimensions. Pages store the original vectors and
// searches use inner product either way. Recall of <#> at ef_search 40, augmented against plain:
//   - 3 dimensions (pgvector's TAP 012/028 data, products of uniforms), recall@20:
//     0.994-1.0 against 0.93-0.99 (as sparsevec; the test asks 0.97);
//   - 10 dimensions (TAP 024's), recall@20 over five seeds: 0.93-0.995 against 0.97-0.99
//     before the repair, which had half the rows to link and left 0.89;
//   - 20 dimensions (sql/sparsevec.sql's rows, one of 6 times the others' norm): the augmented
//     graph misses that row, every query's best answer; the plain one finds it;
//   - 64 dimensions, norms varying fivefold (test/pgtap/04), recall@10: 0.84-0.88 against 0.99;
//   - 100 dimensions (glove 200k), recall@10 over 100 of its rows: 0.647 against 0.891 after
//     the repair (at ef_search 100, 0.723 against 0.932);
//   - sparse rows sharing few terms (SPLADE-like, 1,000 dimensions, 20 non-zeros), recall@10:
//     0.46 against 0.98.
constexpr int kAugmentMaxDims = 16;
// A sparse vector counts as dense when on average at least three quarters of its dimensions
// are non-zero.
constexpr double kSparseAugmentMinDensity = 0.75;

bool
AugmentsForInnerProduct(const HnswContext *ctx)
{
	return ctx->metric == core::Metric::InnerProduct && ctx->value_size != kHnswSparseValueSize &&
	       ctx->dims <= kAugmentMaxDims;
}

bool
SparseRowsAreDense(const BuildState *bs)
{
	if (bs->ctx.metric != core::Metric::InnerProduct || bs->ctx.value_size != kHnswSparseValueSize || bs->loaded == 0 ||
	    bs->ctx.dims > kAugmentMaxDims)
		return false;
	double density = 0;
	for (std::size_t i = 0; i < bs->loaded; i++) {
		const void *packed;
		memcpy(&packed, bs->vectors + i * bs->stride, sizeof packed);
		core::SparseView v = core::PackedSparseView(packed);
		density += v.dim > 0 ? static_cast<double>(v.nnz) / v.dim : 0;
	}
	return density / static_cast<double>(bs->loaded) >= kSparseAugmentMinDensity;
}

// The base-layer fill takes neighbours' neighbours through the first 8 of a node's neighbours
// only (list order, not nearest first: see graph_fill.cpp). Measured on glove 200k (cosine) and
// fashion-mnist 30k (L2): against all 32 this cut the fill from ~7 s to ~3 s of a 20 s glove
// build with recall@10 unchanged within run-to-run noise
// (glove ef 40/120: 0.879/0.950 against 0.881/0.952; fashion ef 10/20/40: 0.974/0.991/0.997
// against 0.973/0.991/0.997); 4 lost a little at fashion ef 10 (0.971). Augmented inner-product
// graphs keep the full fill: they are the hardest to search, and have few dimensions anyway.
constexpr std::size_t kFillSecondHopSources = 8;

// 0 (all neighbours) for inner product, as said above, and for vectors of few dimensions,
// where distances cost little and the graph's connectivity matters most: on test/t/002's 8-d
// structured data, rows that find themselves after deletes and VACUUM fell from 415-428 of 429
// (all neighbours) to 396-429 (8) over a dozen runs.
std::size_t
FillSecondHopSources(const HnswContext *ctx, bool augment_sparse)
{
	// build_dim says nothing about a sparse vector (its float form is a pointer).
	if (AugmentsForInnerProduct(ctx) || augment_sparse ||
	    (ctx->build_dim < 32 && ctx->value_size != kHnswSparseValueSize))
		return 0;
	return kFillSecondHopSources;
}

// Dense vectors of at least this many dimensions build their graph on halves
// (HnswBuildParams::half): on fashion-mnist (784) the graph took 1.7 to 1.9 s instead of 2.6
// to 2.8 s (bench_hnsw_core, 2 threads) at equal recall, where distances stream 3 kB vectors
// from memory; on glove (100) nothing changed, a search step there waits on one miss's latency,
// not on bytes.
constexpr int kHalfGraphMinDims = 256;

// Graphs of m up to this link densely (HnswBuildParams::dense_links). Glove 200k, recall@10 at
// ef_search 40 / 120 and build seconds, hnswlib's linking against dense (pgvector 0.8.6), one
// build each, both with the level carry (hnsw_builder.cpp):
//   m 4 (ef_construction 8):   0.14 / 0.23, 1.9 s against 0.20 / 0.33, 2.4 s (0.18 / 0.30, 4.0 s)
//   m 8 (32):                  0.72 / 0.83, 5.3 s against 0.76 / 0.87, 8.4 s (0.75 / 0.86, 13.9 s)
//   m 12 (48):                 0.83 / 0.92, 8.5 s against 0.84 / 0.93, 17.1 s (0.85 / 0.93, 24.9 s)
// From m 12 the faster build wins: a slightly higher ef_search costs less than twice the build
// (at m 16, dense linking tripled it for no recall).
constexpr int kDenseLinksMaxM = 8;

core::HnswBuildParams
BuilderParams(const HnswContext *ctx, std::size_t n, bool augment_sparse = false, float half_scale = 1.0f)
{
	core::HnswBuildParams p;
	bool augment = AugmentsForInnerProduct(ctx);
	p.dim = ctx->build_dim + (augment ? 1 : 0);
	p.m = ctx->m;
	p.ef_construction = ctx->ef_construction;
	p.metric = augment || augment_sparse ? core::Metric::L2 : ctx->metric;
	// Cosine vectors reach the builder normalized (IndexPrepareVector), so 1 - cos is 1 - dot:
	// the builder's inner-product distance (-dot, the same order and, on the unit sphere, half
	// the squared L2 distance less 1, so the neighbour heuristic sees a metric) computes one sum
	// per element instead of the three of a full cosine, which was half of a glove build's time.
	// It is also exactly the distance searches use on the stored vectors.
	if (ctx->metric == core::Metric::Cosine)
		p.metric = core::Metric::InnerProduct;
	p.max_elements = n;
	p.seed = 42;
	p.sparse = ctx->value_size == kHnswSparseValueSize;
	p.half = !p.sparse && p.metric != core::Metric::Hamming && p.metric != core::Metric::Jaccard &&
	         p.dim >= kHalfGraphMinDims;
	p.half_scale = half_scale;
	p.dense_links = p.m <= kDenseLinksMaxM;
	return p;
}

// Builds the in-memory graph of the loaded vectors with the worker threads.
void
BuildGraph(BuildState *bs)
{
	std::size_t n = bs->loaded;
	if (AugmentsForInnerProduct(&bs->ctx)) {
		std::size_t d = static_cast<std::size_t>(bs->ctx.dims);
		double max_norm2 = 0;
		for (std::size_t i = 0; i < n; i++) {
			const float *x = bs->vectors + i * bs->stride;
			double norm2 = 0;
			for (std::size_t k = 0; k < d; k++)
				norm2 += static_cast<double>(x[k]) * x[k];
			bs->vectors[i * bs->stride + d] = static_cast<float>(norm2); // kept until R is known
			if (norm2 > max_norm2)
				max_norm2 = norm2;
		}
		for (std::size_t i = 0; i < n; i++) {
			float &extra = bs->vectors[i * bs->stride + d];
			double rest = max_norm2 - static_cast<double>(extra);
			extra = static_cast<float>(rest > 0 ? std::sqrt(rest) : 0.0);
		}
	}
	// The builder's slots: the loaded ones, or for sparse inner product pointers to augmented
	// copies (the loaded vectors stay as they are, for the pages).
	const float *slots = bs->vectors;
	bs->augment_sparse = SparseRowsAreDense(bs);
	if (bs->augment_sparse) {
		auto view_at = [&](std::size_t i) {
			const void *packed;
			memcpy(&packed, bs->vectors + i * bs->stride, sizeof packed);
			return core::PackedSparseView(packed);
		};
		double max_norm2 = 0;
		for (std::size_t i = 0; i < n; i++)
			max_norm2 = std::max(max_norm2, core::SparseNormSquaredDouble(view_at(i)));
		auto *augmented = static_cast<float *>(MemoryContextAllocHuge(bs->build_ctx, sizeof(float) * bs->stride * n));
		for (std::size_t i = 0; i < n; i++) {
			if ((i & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
			core::SparseView v = view_at(i);
			double rest = max_norm2 - core::SparseNormSquaredDouble(v);
			auto *h = static_cast<std::int32_t *>(MemoryContextAllocHuge(bs->build_ctx, core::PackedSparseBytes(v.nnz + 1)));
			h[0] = v.dim + 1;
			h[1] = v.nnz + 1;
			std::int32_t *indices = h + 2;
			auto *values = reinterpret_cast<float *>(indices + v.nnz + 1);
			memcpy(indices, v.indices, sizeof(std::int32_t) * static_cast<std::size_t>(v.nnz));
			memcpy(values, v.values, sizeof(float) * static_cast<std::size_t>(v.nnz));
			indices[v.nnz] = v.dim;
			values[v.nnz] = static_cast<float>(rest > 0 ? std::sqrt(rest) : 0.0);
			const void *packed = h;
			memcpy(augmented + i * bs->stride, &packed, sizeof packed);
		}
		slots = augmented;
	}
	core::HnswBuildParams params = BuilderParams(&bs->ctx, n, bs->augment_sparse);
	if (params.half) {
		// A pass over every value (2,000 million for a million rows of 2,000 dimensions): a cancel
		// must still stop it within about a second.
		float max_abs = 0;
		for (std::size_t i = 0; i < n; i++) {
			if ((i & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
			const float *x = bs->vectors + i * bs->stride;
			for (std::size_t k = 0; k < bs->stride; k++)
				max_abs = std::max(max_abs, std::fabs(x[k]));
		}
		params.half_scale = core::HalfScaleFor(max_abs);
	}
	bs->objs->builder = new core::HnswBuilder(params);
	bs->objs->inserter = new core::ParallelInserter(*bs->objs->builder, slots, bs->stride, n, bs->threads);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, 3);
	double start = Seconds();
	RunBuildJob(*bs->objs->inserter, "hnsw");
	bs->seconds_graph += Seconds() - start;
}

struct NodePosition {
	ItemPointerData element;
	ItemPointerData neighbors;
	int level;
};

// A page's pd_lower/pd_upper, simulated, to place tuples before writing anything.
struct PageModel {
	std::size_t lower;
	std::size_t upper;
	OffsetNumber next_off;

	void
	Reset()
	{
		lower = SizeOfPageHeaderData;
		upper = BLCKSZ - MAXALIGN(sizeof(HnswPageOpaque));
		next_off = FirstOffsetNumber;
	}

	bool
	Fits(std::size_t a, std::size_t b) const
	{
		std::size_t need = MAXALIGN(a) + (b > 0 ? MAXALIGN(b) : 0);
		std::size_t pointers = sizeof(ItemIdData) * (b > 0 ? 2 : 1);
		return lower + pointers + need <= upper;
	}

	OffsetNumber
	Add(std::size_t size)
	{
		lower += sizeof(ItemIdData);
		upper -= MAXALIGN(size);
		return next_off++;
	}
};

// Writes the in-memory graph to pages 1.. of the index and points the metapage at it.
void
FlushGraph(BuildState *bs)
{
	const core::HnswBuilder &g = *bs->objs->builder;
	const HnswContext *ctx = &bs->ctx;
	std::size_t n = g.Size();
	if (n != bs->loaded)
		elog(ERROR, "hnsw: the graph holds %zu of %zu vectors", n, bs->loaded);
	int level_cap = MaxLevelForM(ctx->m);
	if (level_cap > 255)
		level_cap = 255;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, 4);

	auto *pos = static_cast<NodePosition *>(
	    MemoryContextAllocHuge(bs->build_ctx, sizeof(NodePosition) * (n > 0 ? n : 1)));
	// Sparse elements differ in size: each is its packed vector's.
	auto element_size_of = [&](std::size_t id) {
		if (ctx->value_size != kHnswSparseValueSize)
			return ElementTupleSize(ctx->vector_bytes);
		const void *packed;
		memcpy(&packed, bs->vectors + static_cast<std::size_t>(g.Label(static_cast<std::uint32_t>(id))) * bs->stride,
		       sizeof packed);
		return ElementTupleSize(core::PackedSparseBytes(core::PackedSparseView(packed).nnz));
	};

	// Placement: node after node, a node's two tuples on one page when they fit together.
	BlockNumber blkno = RelationGetNumberOfBlocks(ctx->index);
	PageModel page;
	page.Reset();
	bool page_used = false;
	for (std::size_t id = 0; id < n; id++) {
		int level = g.Level(static_cast<std::uint32_t>(id));
		if (level > level_cap)
			level = level_cap;
		std::size_t neighbor_size = NeighborTupleSize(level, ctx->m);
		std::size_t element_size = element_size_of(id);
		pos[id].level = level;
		if (!page.Fits(element_size, neighbor_size)) {
			if (page_used) {
				blkno++;
				page.Reset();
			}
			if (!page.Fits(element_size, neighbor_size)) {
				// Too big to share a page: the element alone, its neighbours on the next page.
				OffsetNumber eoff = page.Add(element_size);
				ItemPointerSet(&pos[id].element, blkno, eoff);
				blkno++;
				page.Reset();
				OffsetNumber noff = page.Add(neighbor_size);
				ItemPointerSet(&pos[id].neighbors, blkno, noff);
				page_used = true;
				continue;
			}
		}
		OffsetNumber noff = page.Add(neighbor_size);
		OffsetNumber eoff = page.Add(element_size);
		ItemPointerSet(&pos[id].neighbors, blkno, noff);
		ItemPointerSet(&pos[id].element, blkno, eoff);
		page_used = true;
	}

	// Extra rows of equal vectors, grouped by node (counting sort on the node index).
	std::size_t loaded = bs->loaded;
	auto *extra_start = static_cast<std::size_t *>(MemoryContextAllocHuge(bs->build_ctx, sizeof(std::size_t) * (loaded + 1)));
	auto *extra_sorted = static_cast<ItemPointerData *>(
	    MemoryContextAllocHuge(bs->build_ctx, sizeof(ItemPointerData) * (bs->n_extra > 0 ? bs->n_extra : 1)));
	extra_start[0] = 0;
	for (std::size_t i = 0; i < loaded; i++)
		extra_start[i + 1] = extra_start[i] + bs->dup_counts[i];
	{
		auto *fill = static_cast<std::size_t *>(MemoryContextAllocHuge(bs->build_ctx, sizeof(std::size_t) * (loaded + 1)));
		memcpy(fill, extra_start, sizeof(std::size_t) * (loaded + 1));
		for (std::size_t i = 0; i < bs->n_extra; i++)
			extra_sorted[fill[bs->extra_nodes[i]]++] = bs->extra_tids[i];
		pfree(fill);
	}

	// Fill the base-level lists hnswlib left short (see quiver/graph_fill.hpp), in parallel.
	double fill_start = Seconds();
	bs->objs->fill = new core::BaseLayerFill(*bs->objs->builder, FillSecondHopSources(&bs->ctx, bs->augment_sparse));
	bs->objs->fill->Prepare();
	constexpr std::size_t kFillChunk = 256;
	core::BaseLayerFill *fill = bs->objs->fill;
	bs->objs->fill_job = new core::ParallelFor((n + kFillChunk - 1) / kFillChunk, bs->threads, [fill, n](std::size_t chunk) {
		std::size_t begin = chunk * kFillChunk;
		fill->FillRange(begin, begin + kFillChunk < n ? begin + kFillChunk : n);
	});
	RunBuildJob(*bs->objs->fill_job, "hnsw");
	double link_start = Seconds();
	bs->seconds_fill += link_start - fill_start;
	if (g.EntryPoint() >= 0) {
		std::size_t linked = 0;
		Guarded([&] {
			linked = fill->LinkUnreachable(static_cast<std::uint32_t>(g.EntryPoint()));
			return 0;
		});
		bs->left_unreached = fill->Unreached() > 0;
		if (linked > 0 || bs->left_unreached)
			elog(DEBUG1, "hnsw build linked %zu unreachable nodes, left %zu", linked, fill->Unreached());
	}

	double pages_start = Seconds();
	bs->seconds_link += pages_start - link_start;
	// Writing: every page once, its tuples in the order placed.
	auto *element = static_cast<HnswElementTuple *>(palloc0(ElementTupleSize(ctx->vector_bytes)));
	auto *neighbor = static_cast<HnswNeighborTuple *>(palloc0(NeighborTupleSize(level_cap, ctx->m)));
	// Pages are built in private memory, WAL-logged from there 32 to a record, and appended
	// with smgrextend: through shared buffers (P_NEW, then log_newpage_range reading every page
	// back) most of the time of writing went to getting a buffer per page. Durability as
	// PostgreSQL 17's bulk writes: if no checkpoint began while the pages were logged and
	// written, the sync requests they registered make the next checkpoint flush them; if one
	// did, its redo point may lie past their WAL records, so they are synced before going on.
	// A relation without WAL is synced at commit (wal_level minimal) or needs no durability
	// (unlogged: reset after a crash; temporary). Nobody else reads or extends the index before
	// the build ends, and no buffer can hold a block past its end.
	constexpr int kBatch = XLR_MAX_BLOCK_ID;
	bool log_pages = RelationNeedsWAL(ctx->index);
	XLogRecPtr redo_at_start = GetRedoRecPtr();
	auto *images = static_cast<PGAlignedBlock *>(palloc(sizeof(PGAlignedBlock) * kBatch));
	BlockNumber batch_blknos[kBatch];
	Page batch_pages[kBatch];
	int batched = 0;
	BlockNumber current = InvalidBlockNumber;
	BlockNumber first_written = InvalidBlockNumber;
	auto write_batch = [&](bool last) {
		if (batched == 0)
			return;
		if (log_pages)
			log_newpages(&ctx->index->rd_node, MAIN_FORKNUM, batched, batch_blknos, batch_pages, true);
		for (int i = 0; i < batched; i++) {
			PageSetChecksumInplace(batch_pages[i], batch_blknos[i]);
			// A segment's sync request goes with its last block, and with the last block of all.
			bool ends_segment = batch_blknos[i] % RELSEG_SIZE == RELSEG_SIZE - 1 || (last && i == batched - 1);
			smgrextend(RelationGetSmgr(ctx->index), MAIN_FORKNUM, batch_blknos[i], batch_pages[i], !ends_segment);
		}
		batched = 0;
	};
	auto page_for = [&](BlockNumber target) -> Page {
		if (target != current) {
			if (batched == kBatch)
				write_batch(false);
			BlockNumber expected = first_written == InvalidBlockNumber
			                           ? smgrnblocks(RelationGetSmgr(ctx->index), MAIN_FORKNUM)
			                           : current + 1;
			if (target != expected)
				elog(ERROR, "hnsw: build expected to append block %u, not %u", expected, target);
			if (first_written == InvalidBlockNumber)
				first_written = target;
			Page page = images[batched].data;
			InitIndexPage(page, kHnswPageId);
			batch_blknos[batched] = target;
			batch_pages[batched] = page;
			batched++;
			current = target;
		}
		return batch_pages[batched - 1];
	};
	// Augmented inner-product graphs: the largest-norm nodes, for the metapage (HnswOfferSeed).
	HnswMetaData seeds;
	memset(&seeds, 0, sizeof seeds);
	seeds.max_seeds = AugmentsForInnerProduct(ctx) || bs->augment_sparse ? kHnswMaxSeeds : 0;
	auto add = [&](Page p, const void *item, std::size_t size, ItemPointer expected) {
		OffsetNumber off = PageAddItem(p, reinterpret_cast<Item>(const_cast<void *>(item)), size,
		                               InvalidOffsetNumber, false, false);
		if (off != ItemPointerGetOffsetNumber(expected))
			elog(ERROR, "hnsw: build placed an item at offset %u instead of %u", off,
			     ItemPointerGetOffsetNumber(expected));
	};

	for (std::size_t id = 0; id < n; id++) {
		if ((id & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		std::uint32_t label = g.Label(static_cast<std::uint32_t>(id));
		int level = pos[id].level;

		std::size_t element_size = element_size_of(id);
		memset(element, 0, element_size);
		element->type = kHnswElementType;
		element->level = static_cast<std::uint8_t>(level);
		element->value_size = static_cast<std::uint8_t>(ctx->value_size);
		element->dims = ctx->value_size == kHnswSparseValueSize ? 0 : static_cast<std::uint16_t>(ctx->dims);
		IndexNarrowVector(ctx, bs->vectors + static_cast<std::size_t>(label) * bs->stride, ElementValues(element));
		if (seeds.max_seeds > 0)
			HnswOfferSeed(&seeds, &pos[id].element, HnswSeedNorm(ctx, ElementValues(element)));
		for (int i = 0; i < kHnswHeapTids; i++)
			ItemPointerSetInvalid(&ElementHeapTids(element)[i]);
		ElementHeapTids(element)[0] = bs->tids[label];
		if (bs->errors != nullptr)
			element->rounding_error = core::FloatToHalfUp(bs->errors[label]);
		for (std::size_t i = extra_start[label]; i < extra_start[label + 1]; i++)
			ElementHeapTids(element)[1 + (i - extra_start[label])] = extra_sorted[i];
		*ElementNeighborTid(element) = pos[id].neighbors;

		std::size_t neighbor_size = NeighborTupleSize(level, ctx->m);
		memset(neighbor, 0, neighbor_size);
		neighbor->type = kHnswNeighborType;
		neighbor->count = static_cast<std::uint16_t>(NeighborSlotCount(level, ctx->m));
		for (int i = 0; i < neighbor->count; i++)
			ItemPointerSetInvalid(&NeighborSlots(neighbor)[i]);
		for (int lc = 0; lc <= level; lc++) {
			core::NeighborList list = g.Neighbors(static_cast<std::uint32_t>(id), lc);
			ItemPointerData *slots = NeighborSlots(neighbor) + LevelSlotStart(lc, ctx->m);
			std::size_t limit = static_cast<std::size_t>(LevelSlotCount(lc, ctx->m));
			std::size_t used = 0;
			for (; used < list.count && used < limit; used++)
				slots[used] = pos[list.ids[used]].element;

			if (lc == 0) {
				for (std::uint32_t extra_id : fill->Extra(static_cast<std::uint32_t>(id))) {
					if (used >= limit)
						break;
					slots[used++] = pos[extra_id].element;
				}
			}
		}

		if (ItemPointerGetBlockNumber(&pos[id].neighbors) == ItemPointerGetBlockNumber(&pos[id].element)) {
			Page p = page_for(ItemPointerGetBlockNumber(&pos[id].element));
			add(p, neighbor, neighbor_size, &pos[id].neighbors);
			add(p, element, element_size, &pos[id].element);
		} else {
			add(page_for(ItemPointerGetBlockNumber(&pos[id].element)), element, element_size, &pos[id].element);
			add(page_for(ItemPointerGetBlockNumber(&pos[id].neighbors)), neighbor, neighbor_size, &pos[id].neighbors);
		}
	}
	write_batch(true);
	pfree(images);
	if (log_pages && first_written != InvalidBlockNumber) {
		if (GetRedoRecPtr() != redo_at_start)
			smgrimmedsync(RelationGetSmgr(ctx->index), MAIN_FORKNUM);
		bs->logged_first = first_written;
		bs->logged_end = current + 1;
	}

	// The metapage: entry point, insert page, and seeds.
	Buffer mbuf = ReadBuffer(ctx->index, kHnswMetaBlock);
	LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
	auto *meta = reinterpret_cast<HnswMetaData *>(PageGetContents(BufferGetPage(mbuf)));
	if (seeds.max_seeds > 0) {
		meta->max_seeds = seeds.max_seeds;
		meta->n_seeds = seeds.n_seeds;
		memcpy(meta->seed_norms, seeds.seed_norms, sizeof seeds.seed_norms);
		memcpy(meta->seeds, seeds.seeds, sizeof seeds.seeds);
	}
	std::int64_t entry = g.EntryPoint();
	if (entry >= 0) {
		meta->entry_blkno = ItemPointerGetBlockNumber(&pos[entry].element);
		meta->entry_offno = ItemPointerGetOffsetNumber(&pos[entry].element);
		meta->entry_level = static_cast<std::int16_t>(pos[entry].level);
	}
	if (current != InvalidBlockNumber)
		meta->insert_blkno = current;
	meta->inserted = n;
	MarkBufferDirty(mbuf);
	bs->seconds_pages += Seconds() - pages_start;
	UnlockReleaseBuffer(mbuf);
}

// Builds and writes the graph of what was loaded, then frees the memory.
void
FlushLoaded(BuildState *bs)
{
	if (bs->loaded > 0) {
		BuildGraph(bs);
		FlushGraph(bs);
	}
	bs->in_memory = false;
	MemoryContextDelete(bs->build_ctx); // runs FreeCoreObjects
	bs->build_ctx = nullptr;
	bs->vectors = nullptr;
	bs->tids = nullptr;
	bs->errors = nullptr;
}

// The bytes that make a loaded vector what it is: its floats, or the packed sparse vector its
// slot points to.
struct VectorKey {
	const void *data;
	std::size_t size;
};

VectorKey
KeyOf(const BuildState *bs, const float *v)
{
	if (bs->ctx.value_size == kHnswSparseValueSize) {
		const void *packed;
		memcpy(&packed, v, sizeof packed);
		return VectorKey{packed, core::PackedSparseBytes(core::PackedSparseView(packed).nnz)};
	}
	return VectorKey{v, sizeof(float) * static_cast<std::size_t>(bs->ctx.build_dim)};
}

std::uint64_t
Mix(std::uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

// Equal vectors (bit for bit) hash equally, which is all the table needs. Four independent
// lanes of 8 bytes each: FNV-1a's byte-at-a-time chain of multiplies cost 4.4% of a
// fashion-mnist build (3,136-byte vectors, hashed on every load and every table growth).
std::uint64_t
HashVector(VectorKey key)
{
	constexpr std::uint64_t kMul = 0x9e3779b97f4a7c15ull;
	std::uint64_t lane[4] = {key.size, kMul, ~key.size, 0x2545f4914f6cdd1dull};
	const auto *p = static_cast<const unsigned char *>(key.data);
	std::size_t i = 0;
	for (; i + 32 <= key.size; i += 32) {
		for (int k = 0; k < 4; k++) {
			std::uint64_t w;
			memcpy(&w, p + i + 8 * k, sizeof w);
			lane[k] = (lane[k] ^ w) * kMul;
			lane[k] ^= lane[k] >> 29;
		}
	}
	std::uint64_t tail = 0;
	for (int shift = 0; i < key.size; i++, shift = (shift + 8) % 64)
		tail ^= static_cast<std::uint64_t>(p[i]) << shift;
	return Mix(Mix(lane[0] ^ tail) ^ Mix(lane[1]) * 3 ^ Mix(lane[2]) * 5 ^ Mix(lane[3]) * 7);
}

void
DupTableInsert(BuildState *bs, std::size_t node)
{
	std::size_t slot = HashVector(KeyOf(bs, bs->vectors + node * bs->stride)) & bs->dup_mask;
	while (bs->dup_table[slot] != 0)
		slot = (slot + 1) & bs->dup_mask;
	bs->dup_table[slot] = static_cast<std::uint32_t>(node + 1);
}

// The node holding a vector equal to v, or -1.
std::int64_t
DupTableFind(const BuildState *bs, const float *v)
{
	VectorKey key = KeyOf(bs, v);
	std::size_t slot = HashVector(key) & bs->dup_mask;
	while (bs->dup_table[slot] != 0) {
		std::size_t node = bs->dup_table[slot] - 1;
		VectorKey other = KeyOf(bs, bs->vectors + node * bs->stride);
		if (other.size == key.size && memcmp(other.data, key.data, key.size) == 0)
			return static_cast<std::int64_t>(node);
		slot = (slot + 1) & bs->dup_mask;
	}
	return -1;
}

void
GrowArrays(BuildState *bs)
{
	std::size_t cap = bs->capacity == 0 ? 1024 : bs->capacity * 2;
	std::size_t vbytes = sizeof(float) * bs->stride * cap;
	std::size_t tbytes = sizeof(ItemPointerData) * cap;
	if (bs->vectors == nullptr) {
		bs->vectors = static_cast<float *>(MemoryContextAllocHuge(bs->build_ctx, vbytes));
		bs->tids = static_cast<ItemPointerData *>(MemoryContextAllocHuge(bs->build_ctx, tbytes));
	} else {
		bs->vectors = static_cast<float *>(repalloc_huge(bs->vectors, vbytes));
		bs->tids = static_cast<ItemPointerData *>(repalloc_huge(bs->tids, tbytes));
	}
	bs->capacity = cap;
	if (IndexQuantized(&bs->ctx)) {
		std::size_t ebytes = sizeof(float) * cap;
		bs->errors = static_cast<float *>(bs->errors == nullptr ? MemoryContextAllocHuge(bs->build_ctx, ebytes)
		                                                        : repalloc_huge(bs->errors, ebytes));
	}

	if (bs->dup_counts == nullptr)
		bs->dup_counts = static_cast<std::uint8_t *>(MemoryContextAllocHuge(bs->build_ctx, cap));
	else
		bs->dup_counts = static_cast<std::uint8_t *>(repalloc_huge(bs->dup_counts, cap));
	// The hash table stays at most half full; rebuilt at each doubling.
	if (bs->dup_table != nullptr)
		pfree(bs->dup_table);
	bs->dup_mask = cap * 2 - 1;
	bs->dup_table = static_cast<std::uint32_t *>(
	    MemoryContextAllocExtended(bs->build_ctx, sizeof(std::uint32_t) * cap * 2, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO));
	for (std::size_t i = 0; i < bs->loaded; i++)
		DupTableInsert(bs, i);
}

void
AddExtraTid(BuildState *bs, std::size_t node, ItemPointer tid, float rounding_error)
{
	// Rows rounded to the same halves share the node: its bound must cover each of them.
	if (bs->errors != nullptr && rounding_error > bs->errors[node])
		bs->errors[node] = rounding_error;
	if (bs->n_extra == bs->cap_extra) {
		bs->cap_extra = bs->cap_extra == 0 ? 256 : bs->cap_extra * 2;
		if (bs->extra_nodes == nullptr) {
			bs->extra_nodes = static_cast<std::uint32_t *>(MemoryContextAllocHuge(bs->build_ctx, sizeof(std::uint32_t) * bs->cap_extra));
			bs->extra_tids = static_cast<ItemPointerData *>(MemoryContextAllocHuge(bs->build_ctx, sizeof(ItemPointerData) * bs->cap_extra));
		} else {
			bs->extra_nodes = static_cast<std::uint32_t *>(repalloc_huge(bs->extra_nodes, sizeof(std::uint32_t) * bs->cap_extra));
			bs->extra_tids = static_cast<ItemPointerData *>(repalloc_huge(bs->extra_tids, sizeof(ItemPointerData) * bs->cap_extra));
		}
	}
	bs->extra_nodes[bs->n_extra] = static_cast<std::uint32_t>(node);
	bs->extra_tids[bs->n_extra] = *tid;
	bs->n_extra++;
	bs->dup_counts[node]++;
}

void
BuildCallback(Relation, ItemPointer tid, Datum *values, bool *isnull, bool, void *state_ptr)
{
	auto *bs = static_cast<BuildState *>(state_ptr);
	if (isnull[0])
		return;

	MemoryContext old = MemoryContextSwitchTo(bs->tmp_ctx);
	void *stored = palloc(bs->ctx.vector_bytes);
	float rounding_error;
	IndexDatumValues(&bs->ctx, values[0], stored, &rounding_error);
	bool indexable = IndexPrepareVector(&bs->ctx, stored);
	// The in-memory graph works on float32: exact for halves, narrowed back when written; for
	// Sq8 the row's own floats (normalized as IndexDatumValues normalized them before coding),
	// coded when written into the same codes, so the graph is built on exact distances (Sq4 too).
	float *copy = nullptr;
	if (bs->in_memory) {
		copy = static_cast<float *>(palloc(sizeof(float) * static_cast<std::size_t>(bs->ctx.build_dim)));
		if (bs->ctx.storage == IndexStorage::Sq8 || bs->ctx.storage == IndexStorage::Sq4) {
			IndexValues exact = IndexExactValues(&bs->ctx);
			IndexDatumValues(&exact, values[0], copy);
			IndexPrepareVector(&exact, copy);
		} else {
			IndexWidenVector(&bs->ctx, stored, copy);
		}
	}
	MemoryContextSwitchTo(old);

	if (indexable && bs->in_memory &&
	    bs->graph_fixed + bs->per_vector * static_cast<double>(bs->loaded + 1) + bs->sparse_bytes > bs->memory_limit) {
		ereport(NOTICE, (errmsg("hnsw graph no longer fits into maintenance_work_mem after %zu tuples", bs->loaded),
		                 errdetail("Building will take significantly more time."),
		                 errhint("Increase maintenance_work_mem to speed up builds.")));
		// This callback runs inside the table scan's C frames: no C++ exception may pass them.
		Guarded([&] {
			FlushLoaded(bs);
			return 0;
		});
	}

	if (indexable) {
		if (bs->in_memory) {
			std::int64_t same = bs->dup_table != nullptr ? DupTableFind(bs, copy) : -1;
			if (same >= 0 && bs->dup_counts[same] < kHnswHeapTids - 1) {
				AddExtraTid(bs, static_cast<std::size_t>(same), tid, rounding_error);
			} else {
				if (bs->loaded == bs->capacity)
					GrowArrays(bs);
				if (bs->ctx.value_size == kHnswSparseValueSize) {
					// The slot points into this tuple's memory: keep a copy for the build.
					std::size_t bytes = IndexStoredBytes(&bs->ctx, stored);
					void *kept = MemoryContextAlloc(bs->build_ctx, bytes);
					memcpy(kept, stored, bytes);
					memcpy(copy, &kept, sizeof kept);
					bs->sparse_bytes += static_cast<double>(bytes) + 16; // with the chunk header
					if (bs->ctx.metric == core::Metric::InnerProduct) // an augmented copy and slot, maybe
						bs->sparse_bytes += static_cast<double>(bytes) + 8 + 16 + sizeof(float) * bs->stride;
				}
				memcpy(bs->vectors + bs->loaded * bs->stride, copy,
				       sizeof(float) * static_cast<std::size_t>(bs->ctx.build_dim));
				bs->tids[bs->loaded] = *tid;
				if (bs->errors != nullptr)
					bs->errors[bs->loaded] = rounding_error;
				bs->dup_counts[bs->loaded] = 0;
				// A full node stays findable until a newer equal one replaces it in the table
				// (the newer one sits later in the probe sequence only if we remove the old).
				if (same >= 0) {
					std::size_t slot = HashVector(KeyOf(bs, copy)) & bs->dup_mask;
					while (bs->dup_table[slot] != static_cast<std::uint32_t>(same + 1))
						slot = (slot + 1) & bs->dup_mask;
					bs->dup_table[slot] = static_cast<std::uint32_t>(bs->loaded + 1);
				} else {
					DupTableInsert(bs, bs->loaded);
				}
				bs->loaded++;
			}
		} else {
			bs->inserted_on_pages = true;
			old = MemoryContextSwitchTo(bs->tmp_ctx);
			HnswInsertVector(&bs->ctx, stored, tid, rounding_error);
			MemoryContextSwitchTo(old);
		}
		bs->index_tuples += 1;
		if (static_cast<std::int64_t>(bs->index_tuples) % 1000 == 0)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, static_cast<int64>(bs->index_tuples));
	}
	MemoryContextReset(bs->tmp_ctx);
}

IndexBuildResult *
BuildIndex(Relation heap, Relation index, IndexInfo *index_info)
{
	BuildState bs;
	memset(&bs, 0, sizeof bs);
	HnswInitContext(&bs.ctx, index, true);
	CheckBuildOptions(index, &bs.ctx);
	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	bs.threads = BuildThreads(hnsw_build_threads);
	bs.in_memory = true;
	bs.stride = static_cast<std::size_t>(bs.ctx.build_dim) + (AugmentsForInnerProduct(&bs.ctx) ? 1 : 0);
	bs.tmp_ctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build tuple", ALLOCSET_DEFAULT_SIZES);
	bs.build_ctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build graph", ALLOCSET_DEFAULT_SIZES);
	bs.objs = static_cast<CoreObjects *>(MemoryContextAllocZero(bs.build_ctx, sizeof(CoreObjects)));
	auto *cb = static_cast<MemoryContextCallback *>(MemoryContextAlloc(bs.build_ctx, sizeof(MemoryContextCallback)));
	cb->func = FreeCoreObjects;
	cb->arg = bs.objs;
	MemoryContextRegisterResetCallback(bs.build_ctx, cb);

	// Memory per loaded vector: its copy and TID (arrays grow by doubling, so count twice) plus
	// the graph's share, from the builder's own estimate at two sizes.
	if (bs.in_memory) {
		std::size_t big = 1 << 20;
		double graph_big = static_cast<double>(core::HnswBuilder::EstimateMemory(BuilderParams(&bs.ctx, big), bs.threads));
		double graph_one = static_cast<double>(core::HnswBuilder::EstimateMemory(BuilderParams(&bs.ctx, 1), bs.threads));
		bs.per_vector = (graph_big - graph_one) / static_cast<double>(big - 1) +
		                2.0 * (sizeof(float) * static_cast<double>(bs.ctx.build_dim) + sizeof(ItemPointerData) + 1 +
		                       2 * sizeof(std::uint32_t) + (IndexQuantized(&bs.ctx) ? sizeof(float) : 0)) +
		                sizeof(NodePosition) +
		                static_cast<double>(core::BaseLayerFill::EstimateMemory(big, bs.ctx.m)) / static_cast<double>(big);
		bs.graph_fixed = graph_one;
	}
	bs.memory_limit = static_cast<double>(maintenance_work_mem) * 1024.0;
	// At most a quarter of the budget, so that many threads on a small maintenance_work_mem
	// cannot leave none for the graph.
	if (bs.threads > 1)
		bs.memory_limit -= std::min(kThreadReserveBytes * bs.threads, bs.memory_limit / 4);

	// Seeds kept from the start for dense rows, for rows that reach the pages by inserts
	// (sparse rows are judged once loaded: FlushGraph).
	HnswWriteMetaPage(index, MAIN_FORKNUM, &bs.ctx, AugmentsForInnerProduct(&bs.ctx) ? kHnswMaxSeeds : 0);

	// Worded as PostgreSQL's parallel builds are, and said before the scan as they say it, so
	// that tools and tests watching for it see the parallelism; the detail says what the
	// workers are.
	if (bs.threads > 1)
		ereport(DEBUG1, (errmsg("using %d parallel workers", bs.threads),
		                 errdetail("hnsw builds the in-memory part of its graph with %d threads inside this backend.",
		                           bs.threads)));
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, 2);
	double start = Seconds();
	// The scan's own count, not the callback's: for a partial index the callback sees only the
	// matching rows, and this number becomes the table's reltuples.
	double heap_tuples = table_index_build_scan(heap, index, index_info, true, true, BuildCallback, &bs, nullptr);
	if (bs.in_memory)
		FlushLoaded(&bs);
	MemoryContextDelete(bs.tmp_ctx);
	// Rows inserted one by one can be left unreachable, and so can a few nodes the in-memory
	// repair found no host for.
	double repair_start = Seconds();
	bool walk = bs.inserted_on_pages || bs.left_unreached;
	if (walk && !HnswWalkFits(&bs.ctx, bs.index_tuples)) {
		// The walk holds the whole base layer; VACUUM runs it later where it fits.
		ereport(NOTICE, (errmsg("hnsw index \"%s\": reachability not checked after the build", RelationGetRelationName(index)),
		                 errdetail("The check needs more than maintenance_work_mem."),
		                 errhint("VACUUM the table with a larger maintenance_work_mem to link back any rows no search reaches.")));
	} else if (walk) {
		int linked = HnswLinkUnreachable(&bs.ctx, true);
		if (linked > 0)
			elog(DEBUG1, "hnsw: linked %d unreachable elements of index \"%s\"", linked, RelationGetRelationName(index));
	}

	double wal_start = Seconds();
	if (RelationNeedsWAL(index)) {
		BlockNumber nblocks = RelationGetNumberOfBlocks(index);
		// What FlushGraph logged is logged again only if something changed it later (rows
		// inserted on the pages, or the repair on the pages): rare, and then simplest whole.
		if (bs.logged_end > 0 && !walk) {
			log_newpage_range(index, MAIN_FORKNUM, 0, bs.logged_first, true);
			log_newpage_range(index, MAIN_FORKNUM, bs.logged_end, nblocks, true);
		} else
			log_newpage_range(index, MAIN_FORKNUM, 0, nblocks, true);
	}
	double end = Seconds();
	double in_memory = bs.seconds_graph + bs.seconds_fill + bs.seconds_link + bs.seconds_pages;
	elog(DEBUG1,
	     "hnsw build of \"%s\": %.2f s: table scan and page inserts %.2f, graph %.2f, list fill %.2f, "
	     "in-memory repair %.2f, page writes %.2f, page repair %.2f, WAL %.2f",
	     RelationGetRelationName(index), end - start, repair_start - start - in_memory, bs.seconds_graph,
	     bs.seconds_fill, bs.seconds_link, bs.seconds_pages, wal_start - repair_start, end - wal_start);

	auto *result = static_cast<IndexBuildResult *>(palloc(sizeof(IndexBuildResult)));
	result->heap_tuples = heap_tuples;
	result->index_tuples = bs.index_tuples;
	return result;
}

} // namespace

} // namespace quiver::pg::hnsw

using namespace quiver::pg::hnsw;

extern "C" IndexBuildResult *
hnswbuild(Relation heap, Relation index, IndexInfo *index_info)
{
	return quiver::pg::Guarded([&] { return BuildIndex(heap, index, index_info); });
}

extern "C" void
hnswbuildempty(Relation index)
{
	quiver::pg::Guarded([&] {
		HnswContext ctx;
		HnswInitContext(&ctx, index, true);
		HnswWriteMetaPage(index, INIT_FORKNUM, &ctx, AugmentsForInnerProduct(&ctx) ? kHnswMaxSeeds : 0);
		// An unlogged index's init fork must reach the WAL even though its main fork never
		// does: crash recovery and standbys recreate the empty index from it.
		log_newpage_range(index, INIT_FORKNUM, 0, RelationGetNumberOfBlocksInFork(index, INIT_FORKNUM), true);
	});
}
