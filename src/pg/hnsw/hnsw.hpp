// The `hnsw` index access method: on-disk layout, locking rules and the functions shared by
// its phases (handler/options/cost in hnsw_handler.cpp, page and graph helpers in
// hnsw_graph.cpp, build, insert, scan, vacuum in their own files).
//
// Layout
// ------
// Block 0 is the metapage (HnswMetaData after the page header). Every other block is a data
// page holding two kinds of items:
//   - an element tuple per graph node: a small header (with quantizer = 'half', the bound of
//     the node's rounding error), the vector itself (in the column's format: float32 for
//     vector, binary16 for halfvec and for vector with quantizer = 'half'; placed first so the
//     distance kernels read it straight from the buffer, 8-byte aligned), up to
//     kHnswHeapTids heap TIDs (equal vectors share one node instead of piling up duplicates
//     in the graph), and the TID of the node's neighbour tuple;
//   - a neighbour tuple per node: (level + 2) * m TIDs of other element tuples, 2m for level
//     0 followed by m per upper level; an invalid TID is an empty slot.
// A node's element and neighbour tuples share a page whenever both fit, so expanding a node
// whose vector was just read touches a page that is already in shared buffers.
//
// Locks (who protects what)
// -------------------------
//   - Graph structure: a heavyweight page lock on kHnswUpdateLockBlock. Inserts take it in
//     ShareLock mode and run side by side; an insert whose node becomes the new top level
//     (entry point) takes ExclusiveLock instead, as does vacuum while it repairs lists and
//     frees nodes, so no insert ever reads a node that is being freed. Scans never take it.
//   - Each page: its buffer content lock. Readers (scans, searches inside an insert) hold a
//     share lock only while reading one item and copy what they need; writers change a page
//     only under an exclusive lock and through Generic WAL. No code waits for a content lock
//     while holding another, except an insert placing its new node: its data page(s), then
//     the metapage (and nobody holding the metapage lock waits for a data page).
//   - A neighbour list that two inserts extend at once: a free slot is taken under the
//     exclusive content lock; a full list is pruned with no lock held and written back only
//     if it has not changed meanwhile, else pruned again (HnswLinkBack).
//   - Metapage fields: the metapage buffer lock (share to read the entry point, exclusive to
//     move it or the insert page).
//   - Order of writes in an insert: the new node's tuples first, then the neighbours' lists,
//     then the entry point, so a concurrent scan only ever follows TIDs of complete tuples.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../index/values.hpp"
#include "../index/am.hpp"

extern "C" {
#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/reloptions.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "storage/itemptr.h"
#include "utils/rel.h"
#include "utils/relcache.h"
}

namespace quiver::pg::hnsw {

inline constexpr std::uint32_t kHnswMagic = 0x51484E57; // "QHNW"
inline constexpr std::uint32_t kHnswLayoutVersion = 2; // 2: element tuples carry value_size (halfvec)
// Page id in the special space, for pg_filedump and sanity checks. Distinct from pgvector
// (0xFF90 hnsw, 0xFF84 ivfflat) and contrib/bloom (0xFF83).
inline constexpr std::uint16_t kHnswPageId = 0xFF71;
inline constexpr BlockNumber kHnswMetaBlock = 0;
inline constexpr BlockNumber kHnswUpdateLockBlock = 0;

inline constexpr int kHnswHeapTids = 10;
inline constexpr int kHnswMaxSeeds = 32;
// sparsevec: a stored sparse vector must fit one page with its element tuple (as in pgvector);
// with quantizer = 'truncate', rows with more keep their kHnswMaxSparseNnz largest entries.
inline constexpr int kHnswMaxSparseNnz = 1000;
// HnswElementTuple::value_size of a stored sparsevec (see StoredSparse).
inline constexpr int kHnswSparseValueSize = kSparseValueSize;
inline constexpr int kHnswMinM = 2;
inline constexpr int kHnswMaxM = 100;
inline constexpr int kHnswDefaultM = 16;
inline constexpr int kHnswMinEfConstruction = 4;
inline constexpr int kHnswMaxEfConstruction = 1000;
inline constexpr int kHnswDefaultEfConstruction = 64;
inline constexpr int kHnswDefaultEfSearch = 40;
inline constexpr int kHnswMaxEfSearch = 1000;

using HnswPageOpaque = IndexPageOpaque; // next_blkno unused (InvalidBlockNumber)

struct HnswMetaData {
	std::uint32_t magic;
	std::uint32_t version;
	std::uint32_t dims;
	std::uint16_t m;
	std::uint16_t ef_construction;
	std::uint8_t metric; // core::Metric
	std::uint8_t quantizer; // HnswQuantizer; 0 in indexes written before it existed
	std::uint8_t pad[2];
	BlockNumber entry_blkno; // InvalidBlockNumber while the graph is empty
	OffsetNumber entry_offno;
	std::int16_t entry_level;
	BlockNumber insert_blkno; // the page new nodes go to first (the last one)
	std::uint64_t inserted;   // nodes ever added (statistics only)
	// Inner-product graphs linked in the augmented space (hnsw_build.cpp): the live nodes of
	// largest norm, where searches start besides the entry point (see HnswOfferSeed). Indexes
	// written before these fields existed read 0 here and keep none.
	std::uint16_t max_seeds; // 0: none kept
	std::uint16_t n_seeds;
	float seed_norms[kHnswMaxSeeds];
	ItemPointerData seeds[kHnswMaxSeeds];
};

enum : std::uint8_t { kHnswElementType = 1, kHnswNeighborType = 2 };

// How elements store a vector column's values (the `quantizer` option, kept in the metapage:
// the option can be altered, the pages cannot). Never renumber.
enum HnswQuantizer : std::uint8_t {
	kHnswQuantizerNone = 0, // the column's own format
	kHnswQuantizerHalf = 1, // vector (float32) columns at half precision, re-ranked exactly
	kHnswQuantizerSq8 = 2,  // vector (float32) columns as per-vector 8-bit codes, re-ranked exactly
	kHnswQuantizerTruncate = 3, // sparsevec rows beyond kHnswMaxSparseNnz non-zeros cut, re-ranked exactly
	kHnswQuantizerSq4 = 4,  // vector (float32) columns as per-vector 4-bit codes, re-ranked exactly
	kHnswQuantizerLast = kHnswQuantizerSq4,
};

// The storage a quantizer stands for.
// Whether a quantizer stores vector (float32) columns as rounded or coded values.
inline bool
QuantizesFloats(HnswQuantizer q)
{
	return q == kHnswQuantizerHalf || q == kHnswQuantizerSq8 || q == kHnswQuantizerSq4;
}

// Whether a quantizer stores a column of this value format (IndexValues::value_size as the
// column has it): a metapage naming another is damaged.
inline bool
QuantizerFitsColumn(std::uint8_t q, int value_size)
{
	if (q == kHnswQuantizerNone)
		return true;
	if (q == kHnswQuantizerTruncate)
		return value_size == kHnswSparseValueSize;
	return q <= kHnswQuantizerLast && QuantizesFloats(static_cast<HnswQuantizer>(q)) && value_size == 4;
}

inline IndexStorage
QuantizerStorage(HnswQuantizer q)
{
	switch (q) {
	case kHnswQuantizerHalf:
		return IndexStorage::Half;
	case kHnswQuantizerSq8:
		return IndexStorage::Sq8;
	case kHnswQuantizerTruncate:
		return IndexStorage::SparseTop;
	case kHnswQuantizerSq4:
		return IndexStorage::Sq4;
	default:
		return IndexStorage::Exact;
	}
}

// The option's name of a quantizer.
inline const char *
QuantizerName(HnswQuantizer q)
{
	switch (q) {
	case kHnswQuantizerHalf:
		return "half";
	case kHnswQuantizerSq8:
		return "sq8";
	case kHnswQuantizerTruncate:
		return "truncate";
	case kHnswQuantizerSq4:
		return "sq4";
	default:
		return "none";
	}
}

struct HnswElementTuple {
	std::uint8_t type; // kHnswElementType
	std::uint8_t level;
	std::uint8_t deleted;    // 1 once vacuum removed the last heap TID
	std::uint8_t value_size; // bytes per value: 4 (vector, float32), 2 (halfvec, binary16), 0 (bit),
	                         // kHnswSparseValueSize (sparsevec: an HnswStoredSparse), or
	                         // kSq8ValueSize or kSq4ValueSize (vector as 8- or 4-bit codes after a
	                         // core::Sq8VectorHeader)
	std::uint16_t dims;      // 0 for sparsevec (dimensions are in the stored vector)
	// quantizer = 'half' or 'sq8': binary16, rounded up, an upper bound of the distance between
	// each of the node's rows and the stored vector (IndexQuantizationError; the largest, when
	// rows share the node). 0 otherwise.
	std::uint16_t rounding_error;
	// followed by: values[dims] in the column's own format; ItemPointerData heaptids[kHnswHeapTids];
	//              ItemPointerData neighbor_tid;
};
static_assert(sizeof(HnswElementTuple) == 8, "values must start 8-byte aligned");

struct HnswNeighborTuple {
	std::uint8_t type; // kHnswNeighborType
	std::uint8_t pad;
	std::uint16_t count; // number of slots, (level + 2) * m
	// followed by: ItemPointerData slots[count];
};
static_assert(sizeof(HnswNeighborTuple) == 4);

using HnswStoredSparse = StoredSparse;

// The stored vector, in the index's value format (see HnswContext::value_size).
inline char *
ElementValues(HnswElementTuple *e)
{
	return reinterpret_cast<char *>(e + 1);
}

// Bytes of an element's stored vector (read from it for sparsevec, which varies per element).
inline std::size_t
ElementValueBytes(HnswElementTuple *e)
{
	if (e->value_size == kHnswSparseValueSize) {
		// The count steers every later read of the element: a damaged one must not.
		std::int32_t nnz = reinterpret_cast<const HnswStoredSparse *>(ElementValues(e))->nnz;
		if (nnz < 0 || nnz > kHnswMaxSparseNnz)
			ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED), errmsg("hnsw element holds a sparse vector of %d elements", nnz)));
		return StoredSparseBytes(nnz);
	}
	return StoredVectorBytes(e->value_size, e->dims);
}

inline ItemPointerData *
ElementHeapTids(HnswElementTuple *e)
{
	return reinterpret_cast<ItemPointerData *>(ElementValues(e) + ElementValueBytes(e));
}

inline ItemPointerData *
ElementNeighborTid(HnswElementTuple *e)
{
	return ElementHeapTids(e) + kHnswHeapTids;
}

inline std::size_t
ElementTupleSize(std::size_t vector_bytes)
{
	return sizeof(HnswElementTuple) + vector_bytes + sizeof(ItemPointerData) * (kHnswHeapTids + 1);
}

inline ItemPointerData *
NeighborSlots(HnswNeighborTuple *n)
{
	return reinterpret_cast<ItemPointerData *>(n + 1);
}

inline int
NeighborSlotCount(int level, int m)
{
	return (level + 2) * m;
}

inline std::size_t
NeighborTupleSize(int level, int m)
{
	return sizeof(HnswNeighborTuple) + sizeof(ItemPointerData) * static_cast<std::size_t>(NeighborSlotCount(level, m));
}

// Slots of one level inside a neighbour tuple: level 0 has 2m, each upper level m.
inline int
LevelSlotStart(int level, int m)
{
	return level == 0 ? 0 : 2 * m + (level - 1) * m;
}

inline int
LevelSlotCount(int level, int m)
{
	return level == 0 ? 2 * m : m;
}

// Calls fn(offset, type, item) for every normal item of a locked data page; `type` is the
// tuple's first byte (kHnswElementType or kHnswNeighborType), `item` its start.
template <typename Fn>
inline void
ForEachItem(Page page, Fn fn)
{
	OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
	for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off = OffsetNumberNext(off)) {
		ItemId item = PageGetItemId(page, off);
		if (!ItemIdIsNormal(item))
			continue;
		auto *start = reinterpret_cast<std::uint8_t *>(PageGetItem(page, item));
		fn(off, *start, start);
	}
}

// Returns the item at tid on a locked page, or null when it is not (or no longer) an item of
// the expected kind: vacuum frees the tuples of deleted nodes, and a scan that copied a
// neighbour list just before may still follow a TID to one. A page that is not an hnsw page
// at all is corruption.
template <typename T>
inline T *
ItemAt(Relation index, Page page, ItemPointer tid, std::uint8_t type, std::size_t *length_out = nullptr)
{
	// Only the page header is checked here: the page id sits at the end of the page, and
	// reading it on every node visited costs a cache miss per node (measured: the largest
	// item of a search's profile). A damaged header or a foreign page still gives an ERROR.
	if (PageIsNew(page) || PageGetSpecialSize(page) != MAXALIGN(sizeof(HnswPageOpaque)))
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
		                errmsg("index \"%s\" block %u is not a valid hnsw page", RelationGetRelationName(index),
		                       ItemPointerGetBlockNumber(tid))));
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	if (off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page))
		return nullptr;
	ItemId item = PageGetItemId(page, off);
	if (!ItemIdIsNormal(item))
		return nullptr;
	// The line pointer is in hand already: checking that it stays inside the page costs
	// nothing, and keeps a damaged one from sending the reader elsewhere in memory.
	std::size_t start = ItemIdGetOffset(item), length = ItemIdGetLength(item);
	if (start < SizeOfPageHeaderData || length < sizeof(T) || start + length > BLCKSZ - MAXALIGN(sizeof(HnswPageOpaque)))
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
		                errmsg("index \"%s\" item (%u,%u) lies outside its page", RelationGetRelationName(index),
		                       ItemPointerGetBlockNumber(tid), off)));
	auto *t = reinterpret_cast<T *>(PageGetItem(page, item));
	if (t->type != type)
		return nullptr;
	if constexpr (std::is_same_v<T, HnswNeighborTuple>) {
		if (length != sizeof(HnswNeighborTuple) + sizeof(ItemPointerData) * t->count)
			ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
			                errmsg("index \"%s\" neighbour tuple (%u,%u) of %zu bytes holds %u slots",
			                       RelationGetRelationName(index), ItemPointerGetBlockNumber(tid), off, length, t->count)));
	}
	if (length_out != nullptr)
		*length_out = length;
	return t;
}

// The index of the item whose `tid` member equals tid in items sorted by TID, or -1 (pages
// are read in TID order, so collected items come sorted).
template <typename T>
inline int
FindByTid(const T *items, int n, const ItemPointerData *tid)
{
	int lo = 0, hi = n - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		int c = ItemPointerCompare(const_cast<ItemPointer>(&items[mid].tid), const_cast<ItemPointer>(tid));
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

// The largest item a data page can hold.
inline constexpr std::size_t kHnswMaxItemSize =
    BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - sizeof(ItemIdData) - MAXALIGN(sizeof(HnswPageOpaque));

// The highest level whose neighbour tuple still fits a page (levels are drawn at random and
// are not bounded otherwise).
int MaxLevelForM(int m);

// Relation options (WITH (m = ..., ef_construction = ...)).
struct HnswOptions {
	int32 vl_len_;
	int m;
	int ef_construction;
	int quantizer_offset; // string option: 'none' or 'half'
};

// GUCs
enum HnswIterativeScan { kHnswIterativeOff, kHnswIterativeRelaxed, kHnswIterativeStrict };
extern int hnsw_ef_search;
extern int hnsw_iterative_scan;
extern int hnsw_max_scan_tuples;
extern int hnsw_scan_mem_multiplier;
extern int hnsw_build_threads; // quiver.hnsw_build_threads; <= 0: max_parallel_maintenance_workers + 1

// ---- hnsw_handler.cpp ----
void HnswInit();
int HnswGetM(Relation index);
int HnswGetEfConstruction(Relation index);
HnswQuantizer HnswGetQuantizer(Relation index); // of the `quantizer` option, for a build

// ---- hnsw_graph.cpp ----

// What a search needs to know about the index, read once per operation.
//
// Vectors travel through the index code in the column's own format ("stored vectors",
// passed as void pointers): float32 for vector, binary16 for halfvec, packed bits for bit,
// vector_bytes in all. Only the in-memory build widens them to float32 for hnswlib (bit
// strings are copied into the floats' bytes as they are: the builder counts bits).
// The column's value format (IndexValues: metric, dims, value_size, vector_bytes; stored
// vectors, distances and conversions in ../index/values.hpp), and the graph's parameters.
struct HnswContext : IndexValues {
	Relation index;
	int build_dim; // floats per vector in the in-memory build
	int m;
	int ef_construction;
	HnswQuantizer quantizer;
	bool building; // pages are WAL-logged in bulk at the end of the build, not one by one
};

// With building, the quantizer comes from the index's option (and is checked against the
// column); otherwise from the metapage.
void HnswInitContext(HnswContext *ctx, Relation index, bool building);

// The element tuple at tid (nullptr as ItemAt), checked against the index's value format: its
// vector is read by the column's dimensions and copied into buffers of vector_bytes, so a
// damaged header must be an ERROR before anything reads by it.
inline HnswElementTuple *
ElementAt(const HnswContext *ctx, Page page, ItemPointer tid)
{
	std::size_t length = 0;
	auto *e = ItemAt<HnswElementTuple>(ctx->index, page, tid, kHnswElementType, &length);
	if (e == nullptr)
		return nullptr;
	bool sparse = ctx->value_size == kHnswSparseValueSize;
	bool sound = e->value_size == ctx->value_size && e->dims == (sparse ? 0 : ctx->dims) &&
	             (!sparse || length >= sizeof(HnswElementTuple) + sizeof(HnswStoredSparse)) &&
	             length == ElementTupleSize(ElementValueBytes(e));
	if (!sound)
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
		                errmsg("index \"%s\" element (%u,%u) does not match the index's vectors",
		                       RelationGetRelationName(ctx->index), ItemPointerGetBlockNumber(tid),
		                       ItemPointerGetOffsetNumber(tid))));
	return e;
}

// ReadBuffer for index blocks through backend-local hints of the buffer last seen holding the
// block (skips the shared mapping-table lookup when the hint is still right).
Buffer HnswReadBuffer(Relation index, BlockNumber blkno);
// The memory of the buffer hinted for blkno (null without a hint), with its descriptor
// prefetched. Neither pinned nor checked: only for prefetch addresses ahead of HnswReadBuffer.
const char *HnswHintedPage(Relation index, BlockNumber blkno);

void HnswWriteMetaPage(Relation index, ForkNumber fork, const HnswContext *ctx, int max_seeds);

struct HnswEntryPoint {
	ItemPointerData tid; // invalid when the graph is empty
	int level;
};
HnswEntryPoint HnswReadEntryPoint(Relation index);
void HnswReadMeta(Relation index, HnswMetaData *out);

// Inner-product graphs of few dimensions are linked in an augmented space where the rows of
// largest norm, often the best answers, sit apart from the rest and a search from the entry
// point can miss them; so the index keeps its max_seeds largest-norm live nodes and every
// search starts from them too. On pgvector's TAP 024 data (10-d products of uniforms),
// recall@20 at ef_search 40 went from 0.978 / 0.927 to 0.992 / 0.997 on two seeds where the
// test asks 0.98. Offers tid with its squared norm to a metapage being written: kept when there
// is room or it beats the smallest kept.
void HnswOfferSeed(HnswMetaData *meta, ItemPointer tid, float norm2);
// The squared norm of a stored vector, for seeds.
float HnswSeedNorm(const HnswContext *ctx, const void *values);

// A node met during a search.
struct HnswCandidate {
	float distance;
	ItemPointerData element;   // the element tuple
	ItemPointerData neighbors; // its neighbour tuple
	std::uint8_t level;
	bool deleted;
	std::uint16_t rounding_error; // the element's (quantizer = 'half' or 'sq8'), as read by the search
};

// Searches one layer from the given entries; returns up to ef nearest candidates sorted by
// ascending distance in *out (palloc'd) and their number. With live_only, nodes marked
// deleted are traversed but not returned, so ef live nodes come back even where most of the
// graph is deleted (vacuum's repair).
int HnswSearchLayer(const HnswContext *ctx, const void *query, const HnswCandidate *entries, int n_entries, int ef,
                    int level, HnswCandidate **out, bool live_only = false);

// Copies the valid neighbour TIDs of one level of a node into out (room for
// LevelSlotCount(level, m)); returns how many.
int HnswLoadNeighbors(const HnswContext *ctx, ItemPointer neighbor_tid, int level, ItemPointerData *out);

// Reads one element: its distance to query (when query is non-null) and its header fields.
// False when tid no longer holds an element (freed by vacuum after the caller read it).
bool HnswLoadCandidate(const HnswContext *ctx, ItemPointer tid, const void *query, HnswCandidate *out);

// Copies the live heap TIDs of a search result into out (kHnswHeapTids room); none when the
// element was deleted meanwhile, or freed by vacuum and its slot reused by an insert (then
// its distance to query no longer matches c.distance).
int HnswLoadHeapTids(const HnswContext *ctx, const HnswCandidate &c, const void *query, ItemPointerData *out);

// HnswLoadCandidate for several elements at once, with their memory reads overlapped. Writes
// the elements that still exist to out (room for n); returns how many.
int HnswLoadCandidates(const HnswContext *ctx, const ItemPointerData *tids, int n, const void *query, HnswCandidate *out);

// Copies an element's stored vector into values (vector_bytes); false as for HnswLoadCandidate.
bool HnswLoadVector(const HnswContext *ctx, ItemPointer tid, void *values);

// Descends from the entry point to `level` and sets *out to the single nearest node found
// there. False when the entry point vanished (vacuum moved it); the caller may re-read it.
bool HnswGreedyDescend(const HnswContext *ctx, const void *query, HnswEntryPoint entry, int level, HnswCandidate *out);

// Generic WAL (or plain dirtying during a build) for up to MAX_GENERIC_XLOG_PAGES buffers.
struct HnswPageEdit {
	GenericXLogState *state;
	bool building;
	int count;
	Buffer buffers[MAX_GENERIC_XLOG_PAGES];
};
void HnswEditStart(HnswPageEdit *edit, Relation index, bool building);
Page HnswEditRegister(HnswPageEdit *edit, Buffer buffer, bool new_page);
void HnswEditFinish(HnswPageEdit *edit);

// ---- hnsw_repair.cpp ----

// Gives every live element the base layer cannot reach from the entry point an incoming edge
// from its nearest reached node with a free slot or, with `replace`, in place of a neighbour
// that keeps other incoming edges; returns how many were linked. For the end of a build (the
// caller has the index to itself). Replacing costs navigability, so it is for builds that
// inserted rows one by one, and for plain inner-product graphs (a few percent of the rows to
// link there; glove 200k kept its recall@10, 0.891 against 0.895): after an in-memory build whose own repair stopped short (2,400
// unreached of 10,000 on 1,000-dimension data with 30 non-zeros each, outliers no L2 query
// needed), replacing cut L2 recall@10 from 0.96 to 0.86, and free slots alone linked almost
// none (no host near them had room).
// With count_only, links nothing and returns how many live elements are unreachable (reading
// the pages only: no lock on the index needed).
int HnswLinkUnreachable(const HnswContext *ctx, bool replace, bool count_only = false);
// Whether HnswLinkUnreachable's walk over `nodes` nodes fits maintenance_work_mem (it holds the
// whole base layer: about 60 bytes plus 10 a slot per node, doubled while its arrays grow).
bool HnswWalkFits(const HnswContext *ctx, double nodes);

// ---- hnsw_insert.cpp ----

// The candidates' vectors, loaded once for the pairwise distances of the selection heuristic.
struct CandidateVectors {
	char *values;          // the stored vectors, back to back
	std::size_t *offsets;  // where each starts in values (i * vector_bytes unless sparse)
	int count;

	const char *
	At(int i) const
	{
		return values + offsets[i];
	}
};
// Sparse vectors are packed at their own sizes: a fixed stride of the largest one (8 kB) would
// make every selection allocate hundreds of kB.
CandidateVectors LoadCandidateVectors(const HnswContext *ctx, const HnswCandidate *cands, int n);
void FreeCandidateVectors(CandidateVectors *cv);

// Chooses up to max_count neighbours among candidates sorted by distance to the base node:
// a candidate is kept when it is closer to the base than to every neighbour kept before it
// (diversity), then the nearest of the rest fill any room left. Deleted nodes are never
// chosen. Writes indexes into cands to chosen, the diverse ones first (how many of them into
// *diverse_count when given); returns how many in all.
int SelectNeighbors(const HnswContext *ctx, const HnswCandidate *cands, const CandidateVectors &cv, int max_count,
                    int *chosen, int *diverse_count = nullptr);

// A neighbour a link-back made a list give up; `relied` when the added node points to it (its
// way in is that edge from now on).
struct HnswGivenUp {
	ItemPointerData tid;
	bool relied;
};

// Makes `node` (at `level`) point to `added`, which is at `added_distance` from it, pruning
// node's list with the selection heuristic when it is full; with `force`, `added` takes the place
// of a kept neighbour when the heuristic would drop it (one `added` points to if any, else the
// last). added_links: `added`'s own list at that level, if known (neighbours it leads to are the
// ones node gives up first); given_up (room for the list's slot count + 1) receives the live
// neighbours node gave up. True when the list holds `added` afterwards. Caller holds the update
// lock in either mode (safe against concurrent inserts changing the same list).
//
// vacated (VACUUM's repair): neighbours being deleted, whose slots count as free. Pruning would
// drop them, leaving a list that still awaits its repair looking repaired, with only its few
// live neighbours (pgvector TAP 014's data, 3 dimensions, m 4, three quarters deleted: recall@20
// at ef_search 20 after VACUUM 0.95 with, 0.99 without).
struct HnswVacated {
	bool (*holds)(const void *arg, ItemPointer tid);
	const void *arg;
};
bool HnswLinkBack(const HnswContext *ctx, const HnswCandidate &node, ItemPointer added, float added_distance, int level,
                  bool force = false, const ItemPointerData *added_links = nullptr, int n_added_links = 0,
                  HnswGivenUp *given_up = nullptr, int *n_given_up = nullptr, const HnswVacated *vacated = nullptr);

// Adds one heap tuple's vector to the graph on disk, taking the update lock itself (none during
// a build). values is modified (normalized). rounding_error: IndexDatumValues's bound (0 unless
// quantizer = 'half').
void HnswInsertVector(const HnswContext *ctx, void *values, ItemPointer heap_tid, float rounding_error);

} // namespace quiver::pg::hnsw
