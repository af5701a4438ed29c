// quiver_hnsw_stats(regclass): what an hnsw index holds, read from its pages.
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "quiver/half.hpp"
#include "hnsw.hpp"
#include "../index/check.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"
}

using namespace quiver::pg::hnsw;
using namespace quiver::pg;

namespace {

} // namespace

QUIVER_FUNCTION(quiver_hnsw_stats)
{
	Oid relid = PG_GETARG_OID(0);
	TupleDesc tupdesc;
	if (get_call_result_type(fcinfo, nullptr, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	Relation index = OpenIndexToInspect(relid, "hnsw", AccessShareLock);

	HnswMetaData meta;
	HnswReadMeta(index, &meta);

	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	int64 elements = 0, deleted = 0, heap_tids = 0, edges = 0, free_bytes = 0;
	int64 per_level[32] = {0};
	int max_level = -1;
	for (BlockNumber blkno = kHnswMetaBlock + 1; blkno < nblocks; blkno++) {
		CHECK_FOR_INTERRUPTS();
		Buffer buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		free_bytes += static_cast<int64>(PageGetFreeSpace(page));
		ForEachItem(page, [&](OffsetNumber, std::uint8_t type, std::uint8_t *item) {
			if (type == kHnswElementType) {
				auto *e = reinterpret_cast<HnswElementTuple *>(item);
				elements++;
				if (e->deleted)
					deleted++;
				for (int i = 0; i < kHnswHeapTids; i++)
					heap_tids += ItemPointerIsValid(&ElementHeapTids(e)[i]) ? 1 : 0;
				per_level[e->level < 31 ? e->level : 31]++;
				if (e->level > max_level)
					max_level = e->level;
			} else if (type == kHnswNeighborType) {
				auto *n = reinterpret_cast<HnswNeighborTuple *>(item);
				for (int i = 0; i < n->count; i++)
					edges += ItemPointerIsValid(&NeighborSlots(n)[i]) ? 1 : 0;
			}
		});
		UnlockReleaseBuffer(buf);
	}
	relation_close(index, AccessShareLock);

	Datum levels[32];
	int nlevels = max_level + 1 > 32 ? 32 : max_level + 1;
	for (int i = 0; i < nlevels; i++)
		levels[i] = Int64GetDatum(per_level[i]);

	Datum values[15];
	bool nulls[15] = {false};
	values[0] = Int64GetDatum(elements - deleted);
	values[1] = Int64GetDatum(deleted);
	values[2] = Int64GetDatum(heap_tids);
	values[3] = Int32GetDatum(meta.entry_level);
	values[4] = PointerGetDatum(construct_array(levels, nlevels, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (meta.entry_blkno == InvalidBlockNumber) {
		nulls[5] = true;
	} else {
		ItemPointerData *ep = static_cast<ItemPointerData *>(palloc(sizeof(ItemPointerData)));
		ItemPointerSet(ep, meta.entry_blkno, meta.entry_offno);
		values[5] = PointerGetDatum(ep);
	}
	values[6] = Float8GetDatum(elements > 0 ? static_cast<double>(edges) / static_cast<double>(elements) : 0.0);
	values[7] = Int64GetDatum(nblocks);
	values[8] = Int64GetDatum(static_cast<int64>(nblocks) * BLCKSZ);
	values[9] = Int64GetDatum(free_bytes);
	values[10] = Int32GetDatum(meta.dims);
	values[11] = Int32GetDatum(meta.m);
	values[12] = Int32GetDatum(meta.ef_construction);
	quiver::core::Metric metric;
	values[13] = CStringGetTextDatum(quiver::core::MetricFromByte(meta.metric, &metric) ? quiver::core::MetricName(metric) : "unknown");
	values[14] = CStringGetTextDatum(meta.quantizer <= kHnswQuantizerLast ? QuantizerName(static_cast<HnswQuantizer>(meta.quantizer))
	                                                                       : "unknown");
	HeapTuple tuple = heap_form_tuple(tupdesc, values, nulls);
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}

// quiver_hnsw_check(regclass): verifies an index's pages and graph and returns one row per
// problem found (none for a sound index). It reads every page defensively (every offset and
// length checked against the page before use), so a damaged page is reported, not followed.
// It takes ShareLock on the index: inserts and VACUUM wait while it runs, so the graph it sees
// is consistent.
namespace {

struct CheckedElement {
	ItemPointerData tid;
	ItemPointerData neighbors;
	int level;
	bool deleted;
	float rounding_error; // quantizer = 'half': the element's bound
};

struct CheckedNeighbors {
	ItemPointerData tid;
	int count;
	std::size_t first_slot; // into the collected slots
};

int
CompareTid(const void *a, const void *b)
{
	return ItemPointerCompare(const_cast<ItemPointer>(static_cast<const ItemPointerData *>(a)),
	                          const_cast<ItemPointer>(static_cast<const ItemPointerData *>(b)));
}

// A heap TID and the element holding it.
struct IndexedHeapTid {
	ItemPointerData tid; // first: sorted and searched as a TID
	int element;
};

struct IndexedHeapTids {
	const IndexedHeapTid *tids; // sorted by TID
	std::size_t n;
	const bool *reachable; // by element
	std::size_t missing;   // live heap rows in no element
	std::size_t stranded;  // live heap rows in an element not reachable from the entry point
	std::size_t loose;     // live heap rows farther from their element's halves than its bound
	IndexCheckReport *check;
	const CheckedElement *elements;
	const HnswContext *ctx;
	void *stored;          // vector_bytes, for one row at a time
	MemoryContext row_ctx; // reset after each row: reading a value may detoast a copy
};

// The table's rows as a build sees them: every live one with an indexable value (not null, not
// a zero vector under cosine) must be some element's heap TID, and that element reachable from
// the entry point. (An unreachable element holding only dead or aborted rows, as a crash
// between an insert's writes leaves, costs space until VACUUM, not answers.)
void
CheckHeapRow(Relation, ItemPointer tid, Datum *values, bool *isnull, bool alive, void *state)
{
	auto *s = static_cast<IndexedHeapTids *>(state);
	float rounding_error;
	if (!alive || !HeapValueIndexable(s->ctx, values[0], isnull[0], s->stored, s->row_ctx, &rounding_error))
		return;
	auto *found = static_cast<const IndexedHeapTid *>(bsearch(tid, s->tids, s->n, sizeof(IndexedHeapTid), CompareTid));
	// A bound below a row's rounding error would let a scan hand rows out of order.
	if (found != nullptr && rounding_error > s->elements[found->element].rounding_error && s->loose++ < 5)
		s->check->Report("heap row (%u,%u) rounds to halves %g away, above the bound %g of its element (%u,%u)",
		                 ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid), rounding_error,
		                 s->elements[found->element].rounding_error,
		                 ItemPointerGetBlockNumber(&s->elements[found->element].tid),
		                 ItemPointerGetOffsetNumber(&s->elements[found->element].tid));
	if (found == nullptr) {
		if (s->missing++ < 5)
			s->check->Report("heap row (%u,%u) is in no element", ItemPointerGetBlockNumber(tid),
			                 ItemPointerGetOffsetNumber(tid));
	} else if (s->reachable != nullptr && !s->reachable[found->element]) {
		if (s->stranded++ < 5)
			s->check->Report("heap row (%u,%u) is in element (%u,%u), which is not reachable from the entry point",
			                 ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid),
			                 ItemPointerGetBlockNumber(&s->elements[found->element].tid),
			                 ItemPointerGetOffsetNumber(&s->elements[found->element].tid));
	}
}

} // namespace

QUIVER_FUNCTION(quiver_hnsw_check)
{
	Oid relid = PG_GETARG_OID(0);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	IndexCheckReport check{rsinfo->setResult, rsinfo->setDesc};

	Relation index, heap;
	OpenIndexAndTableToCheck(relid, "hnsw", &index, &heap);
	auto close = [&] { CloseIndexAndTableToCheck(index, heap); };

	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	if (nblocks == 0) {
		check.Report("the index has no metapage");
		close();
		return static_cast<Datum>(0);
	}
	HnswMetaData meta;
	{
		Buffer buf = ReadBuffer(index, kHnswMetaBlock);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		memcpy(&meta, PageGetContents(BufferGetPage(buf)), sizeof meta);
		UnlockReleaseBuffer(buf);
	}
	if (meta.magic != kHnswMagic || meta.version != kHnswLayoutVersion) {
		check.Report("metapage: magic %08x version %u, expected %08x version %u", meta.magic, meta.version, kHnswMagic,
		             kHnswLayoutVersion);
		close();
		return static_cast<Datum>(0);
	}
	int m = meta.m;

	// Pass 1: every page and item, collected.
	std::size_t cap_e = 1024, cap_n = 1024, cap_s = 16384, cap_h = 1024;
	int n_e = 0, n_n = 0;
	std::size_t n_s = 0, n_h = 0;
	auto *elements = static_cast<CheckedElement *>(palloc(sizeof(CheckedElement) * cap_e));
	auto *lists = static_cast<CheckedNeighbors *>(palloc(sizeof(CheckedNeighbors) * cap_n));
	auto *slots = static_cast<ItemPointerData *>(palloc(sizeof(ItemPointerData) * cap_s));
	auto *heap_tids = static_cast<IndexedHeapTid *>(palloc(sizeof(IndexedHeapTid) * cap_h));
	auto grow = [](auto *&array, std::size_t &cap, std::size_t need) {
		while (need > cap) {
			cap *= 2;
			array = static_cast<std::remove_reference_t<decltype(array)>>(
			    repalloc_huge(array, sizeof(*array) * cap));
		}
	};

	for (BlockNumber blkno = kHnswMetaBlock + 1; blkno < nblocks; blkno++) {
		CHECK_FOR_INTERRUPTS();
		Buffer buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		auto *header = reinterpret_cast<PageHeader>(page);
		if (PageIsNew(page)) {
			UnlockReleaseBuffer(buf);
			continue; // extended but never written (an insert that failed): harmless
		}
		if (header->pd_lower < SizeOfPageHeaderData || header->pd_lower > header->pd_upper ||
		    header->pd_upper > header->pd_special || header->pd_special != BLCKSZ - MAXALIGN(sizeof(HnswPageOpaque)) ||
		    reinterpret_cast<HnswPageOpaque *>(PageGetSpecialPointer(page))->page_id != kHnswPageId) {
			check.Report("block %u: not a valid hnsw page (lower %u, upper %u, special %u)", blkno, header->pd_lower,
			             header->pd_upper, header->pd_special);
			UnlockReleaseBuffer(buf);
			continue;
		}
		OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++) {
			ItemId item = PageGetItemId(page, off);
			if (!ItemIdIsNormal(item))
				continue;
			std::size_t at = ItemIdGetOffset(item), len = ItemIdGetLength(item);
			if (at < header->pd_upper || at + len > header->pd_special || len < 4) {
				check.Report("(%u,%u): item out of the page's bounds (offset %zu, length %zu)", blkno, off, at, len);
				continue;
			}
			auto *start = reinterpret_cast<std::uint8_t *>(page) + at;
			ItemPointerData tid;
			ItemPointerSet(&tid, blkno, off);
			if (start[0] == kHnswElementType) {
				auto *e = reinterpret_cast<HnswElementTuple *>(start);
				if (len >= sizeof(HnswElementTuple) + sizeof(HnswStoredSparse) && e->value_size == kHnswSparseValueSize) {
					// Read the count without trusting it (ElementValueBytes would raise an ERROR).
					HnswStoredSparse h;
					memcpy(&h, ElementValues(e), sizeof h);
					quiver::core::SparseView v{};
					bool sound = e->dims == 0 && h.dim == static_cast<std::int32_t>(meta.dims) && h.nnz >= 0 &&
					             h.nnz <= kHnswMaxSparseNnz && len == ElementTupleSize(StoredSparseBytes(h.nnz));
					if (sound) {
						v = StoredSparseView(ElementValues(e));
						for (int i = 0; i < v.nnz && sound; i++)
							sound = v.indices[i] >= 0 && v.indices[i] < v.dim && (i == 0 || v.indices[i - 1] < v.indices[i]);
					}
					if (!sound) {
						check.Report("(%u,%u): element tuple of length %zu holds a malformed sparse vector (%d of %d dimensions)",
						             blkno, off, len, h.nnz, h.dim);
						continue;
					}
				} else if (len < sizeof(HnswElementTuple) ||
				           (e->value_size != 0 && e->value_size != 2 && e->value_size != 4 && e->value_size != kSq8ValueSize &&
				            e->value_size != kSq4ValueSize) ||
				           e->dims != meta.dims ||
				           len != ElementTupleSize(StoredVectorBytes(e->value_size, e->dims))) {
					check.Report("(%u,%u): element tuple of length %zu does not match %u dimensions of %u bytes", blkno,
					             off, len, e->dims, e->value_size);
					continue;
				}
				if ((e->value_size == kSq8ValueSize || e->value_size == kSq4ValueSize) &&
				    !quiver::core::CodedVectorSound(CodeBits(e->value_size), ElementValues(e), e->dims)) {
					check.Report("(%u,%u): element tuple holds codes whose header does not match them", blkno, off);
					continue;
				}
				grow(elements, cap_e, static_cast<std::size_t>(n_e) + 1);
				elements[n_e++] = CheckedElement{tid, *ElementNeighborTid(e), e->level, e->deleted != 0,
				                                 quiver::core::HalfToFloat(e->rounding_error)};
				int live = 0;
				for (int i = 0; i < kHnswHeapTids; i++) {
					ItemPointerData *h = &ElementHeapTids(e)[i];
					if (!ItemPointerIsValid(h))
						continue;
					live++;
					grow(heap_tids, cap_h, n_h + 1);
					heap_tids[n_h++] = IndexedHeapTid{*h, n_e - 1};
				}
				if (e->deleted && live > 0)
					check.Report("(%u,%u): element marked deleted still holds %d heap TIDs", blkno, off, live);
				if (!e->deleted && live == 0)
					check.Report("(%u,%u): live element without heap TIDs", blkno, off);
			} else if (start[0] == kHnswNeighborType) {
				auto *nt = reinterpret_cast<HnswNeighborTuple *>(start);
				if (len != sizeof(HnswNeighborTuple) + sizeof(ItemPointerData) * nt->count) {
					check.Report("(%u,%u): neighbour tuple of length %zu for %u slots", blkno, off, len, nt->count);
					continue;
				}
				grow(lists, cap_n, static_cast<std::size_t>(n_n) + 1);
				grow(slots, cap_s, n_s + nt->count);
				lists[n_n++] = CheckedNeighbors{tid, nt->count, n_s};
				memcpy(slots + n_s, NeighborSlots(nt), sizeof(ItemPointerData) * nt->count);
				n_s += nt->count;
			} else {
				check.Report("(%u,%u): unknown item type %u", blkno, off, start[0]);
			}
		}
		UnlockReleaseBuffer(buf);
	}

	// Pass 2: references. Items were collected in TID order, so lookups are binary searches.
	auto *level0 = static_cast<int *>(palloc(sizeof(int) * static_cast<std::size_t>(n_e > 0 ? n_e : 1))); // list index
	auto *owners = static_cast<int *>(palloc0(sizeof(int) * static_cast<std::size_t>(n_n > 0 ? n_n : 1)));
	for (int i = 0; i < n_e; i++) {
		CHECK_FOR_INTERRUPTS();
		const CheckedElement &e = elements[i];
		level0[i] = -1;
		int li = FindByTid(lists, n_n, &e.neighbors);
		if (li >= 0)
			owners[li]++;
		if (li < 0) {
			check.Report("(%u,%u): neighbour tuple (%u,%u) is missing", ItemPointerGetBlockNumber(&e.tid),
			             ItemPointerGetOffsetNumber(&e.tid), ItemPointerGetBlockNumber(&e.neighbors),
			             ItemPointerGetOffsetNumber(&e.neighbors));
			continue;
		}
		if (lists[li].count != NeighborSlotCount(e.level, m)) {
			check.Report("(%u,%u): level %d needs %d neighbour slots, its tuple has %d", ItemPointerGetBlockNumber(&e.tid),
			             ItemPointerGetOffsetNumber(&e.tid), e.level, NeighborSlotCount(e.level, m), lists[li].count);
			continue;
		}
		level0[i] = li;
		for (int lc = 0; lc <= e.level; lc++) {
			const ItemPointerData *list = slots + lists[li].first_slot + LevelSlotStart(lc, m);
			int count = LevelSlotCount(lc, m);
			for (int s = 0; s < count; s++) {
				if (!ItemPointerIsValid(&list[s]))
					continue;
				int target = FindByTid(elements, n_e, &list[s]);
				const char *what = nullptr;
				if (ItemPointerEquals(const_cast<ItemPointer>(&list[s]), const_cast<ItemPointer>(&e.tid)))
					what = "points to itself";
				else if (target < 0)
					what = "points to no element";
				else if (elements[target].level < lc)
					what = "points to an element without that level";
				for (int t = 0; t < s && what == nullptr; t++)
					if (ItemPointerEquals(const_cast<ItemPointer>(&list[t]), const_cast<ItemPointer>(&list[s])))
						what = "repeats a neighbour";
				if (what != nullptr)
					check.Report("(%u,%u): level %d neighbour (%u,%u) %s", ItemPointerGetBlockNumber(&e.tid),
					             ItemPointerGetOffsetNumber(&e.tid), lc, ItemPointerGetBlockNumber(&list[s]),
					             ItemPointerGetOffsetNumber(&list[s]), what);
			}
		}
	}

	// Every list belongs to exactly one element (an insert writes both in one record, vacuum
	// frees both in one record).
	for (int li = 0; li < n_n; li++) {
		BlockNumber blkno = ItemPointerGetBlockNumber(&lists[li].tid);
		OffsetNumber off = ItemPointerGetOffsetNumber(&lists[li].tid);
		if (owners[li] == 0)
			check.Report("(%u,%u): neighbour tuple belongs to no element", blkno, off);
		else if (owners[li] > 1)
			check.Report("(%u,%u): neighbour tuple belongs to %d elements", blkno, off, owners[li]);
	}

	// Every heap row once.
	qsort(heap_tids, n_h, sizeof(IndexedHeapTid), CompareTid);
	for (std::size_t i = 1; i < n_h; i++)
		if (ItemPointerEquals(&heap_tids[i - 1].tid, &heap_tids[i].tid))
			check.Report("heap TID (%u,%u) is indexed twice", ItemPointerGetBlockNumber(&heap_tids[i].tid),
			             ItemPointerGetOffsetNumber(&heap_tids[i].tid));

	// The entry point, and which elements are reachable from it on level 0 (through deleted
	// ones too: a search passes through them).
	const bool *reachable = nullptr;
	ItemPointerData entry;
	ItemPointerSet(&entry, meta.entry_blkno, meta.entry_offno);
	int entry_index = meta.entry_blkno == InvalidBlockNumber ? -1 : FindByTid(elements, n_e, &entry);
	int live_elements = 0;
	for (int i = 0; i < n_e; i++)
		live_elements += elements[i].deleted ? 0 : 1;
	if (meta.entry_blkno == InvalidBlockNumber) {
		if (live_elements > 0)
			check.Report("no entry point, but %d live elements", live_elements);
	} else if (entry_index < 0) {
		check.Report("entry point (%u,%u) is not an element", meta.entry_blkno, meta.entry_offno);
	} else {
		if (elements[entry_index].level != meta.entry_level)
			check.Report("entry point level %d, the metapage says %d", elements[entry_index].level, meta.entry_level);
		auto *seen = static_cast<bool *>(palloc0(sizeof(bool) * static_cast<std::size_t>(n_e)));
		auto *queue = static_cast<int *>(palloc(sizeof(int) * static_cast<std::size_t>(n_e)));
		int head = 0, tail = 0;
		seen[entry_index] = true;
		queue[tail++] = entry_index;
		while (head < tail) {
			int i = queue[head++];
			if (level0[i] < 0)
				continue;
			const ItemPointerData *list = slots + lists[level0[i]].first_slot;
			for (int s = 0; s < LevelSlotCount(0, m); s++) {
				if (!ItemPointerIsValid(&list[s]))
					continue;
				int target = FindByTid(elements, n_e, &list[s]);
				if (target >= 0 && !seen[target]) {
					seen[target] = true;
					queue[tail++] = target;
				}
			}
		}
		reachable = seen;
	}

	// The seeds: elements (deleted ones included: vacuum drops them before freeing them).
	if (meta.n_seeds > meta.max_seeds || meta.max_seeds > kHnswMaxSeeds)
		check.Report("%u seeds of at most %u (at most %d)", meta.n_seeds, meta.max_seeds, kHnswMaxSeeds);
	for (int i = 0; i < Min(meta.n_seeds, kHnswMaxSeeds); i++)
		if (FindByTid(elements, n_e, &meta.seeds[i]) < 0)
			check.Report("seed (%u,%u) is not an element", ItemPointerGetBlockNumber(&meta.seeds[i]),
			             ItemPointerGetOffsetNumber(&meta.seeds[i]));

	// The table pass reads the metapage as every other user does, which refuses these.
	IndexValues column;
	DescribeIndexValues(index, "hnsw", kHnswMaxSparseNnz, &column);
	bool quantizer_fits = QuantizerFitsColumn(meta.quantizer, column.value_size);
	if (!quantizer_fits)
		check.Report("metapage: unknown quantizer %u", meta.quantizer);
	if (!quantizer_fits || meta.n_seeds > meta.max_seeds || meta.max_seeds > kHnswMaxSeeds) {
		check.Finish();
		close();
		return static_cast<Datum>(0);
	}

	// Every live row of the table in some element, reachable from the entry point.
	HnswContext ctx;
	HnswInitContext(&ctx, index, false);
	IndexedHeapTids state{heap_tids, n_h, reachable, 0, 0, 0, &check, elements, &ctx, palloc(ctx.vector_bytes),
	                      AllocSetContextCreate(CurrentMemoryContext, "hnsw check row", ALLOCSET_DEFAULT_SIZES)};
	table_index_build_scan(heap, index, BuildIndexInfo(index), false, false, CheckHeapRow, &state, nullptr);
	if (state.missing > 5)
		check.Report("%zu live heap rows in all are in no element", state.missing);
	if (state.stranded > 5)
		check.Report("%zu live heap rows in all are in elements not reachable from the entry point", state.stranded);
	if (state.loose > 5)
		check.Report("%zu live heap rows in all round with errors above their element's bound", state.loose);

	check.Finish();
	close();
	return static_cast<Datum>(0);
}
