// quiver_ivfflat_stats(regclass): what an ivfflat index holds, list by list, read from its pages;
// quiver_ivfflat_check(regclass): what is wrong with one.
#include <algorithm>

#include "ivf.hpp"
#include "../index/check.hpp"

extern "C" {
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "utils/relcache.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
}

using namespace quiver::pg::ivf;
using namespace quiver::pg;

QUIVER_FUNCTION(quiver_ivfflat_stats)
{
	Oid relid = PG_GETARG_OID(0);
	TupleDesc tupdesc;
	if (get_call_result_type(fcinfo, nullptr, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	Relation index = OpenIndexToInspect(relid, "ivfflat", AccessShareLock);
	IvfContext ctx;
	IvfInitContext(&ctx, index);
	IvfMetaData meta = IvfLoadMeta(&ctx);

	// Each list's chain, from its centre tuple (copied out: no lock is held across pages).
	int64 entries = 0, min_entries = -1, max_entries = 0, free_bytes = 0;
	int empty = 0;
	for (int list = 0; list < ctx.lists; list++) {
		BlockNumber center_blkno = ListBlock(&ctx, list);
		Buffer buf = ReadBuffer(index, center_blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		BlockNumber blkno =
		    IvfListAt(index, BufferGetPage(buf), center_blkno, ListOffset(&ctx, list), ctx.vector_bytes)
		        ->start_blkno;
		UnlockReleaseBuffer(buf);
		int64 count = 0;
		while (blkno != InvalidBlockNumber) {
			CHECK_FOR_INTERRUPTS();
			buf = ReadBuffer(index, blkno);
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			Page page = BufferGetPage(buf);
			IvfCheckPage(index, page, blkno);
			count += IvfEntryCount(&ctx, page, blkno);
			free_bytes += static_cast<int64>(IvfFreeBytes(&ctx, page));
			blkno = PageOpaque(page)->next_blkno;
			UnlockReleaseBuffer(buf);
		}
		entries += count;
		empty += count == 0 ? 1 : 0;
		min_entries = min_entries < 0 ? count : std::min(min_entries, count);
		max_entries = std::max(max_entries, count);
	}
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	relation_close(index, AccessShareLock);

	Datum values[12];
	bool nulls[12] = {false};
	values[0] = Int32GetDatum(ctx.lists);
	values[1] = Int32GetDatum(empty);
	values[2] = Int64GetDatum(entries);
	values[3] = Int64GetDatum(min_entries < 0 ? 0 : min_entries);
	values[4] = Int64GetDatum(max_entries);
	values[5] = Float8GetDatum(ctx.lists > 0 ? static_cast<double>(entries) / ctx.lists : 0.0);
	values[6] = Int64GetDatum(nblocks);
	values[7] = Int64GetDatum(static_cast<int64>(nblocks) * BLCKSZ);
	values[8] = Int64GetDatum(free_bytes);
	values[9] = Int32GetDatum(static_cast<int32>(meta.dims));
	quiver::core::Metric metric;
	values[10] = CStringGetTextDatum(quiver::core::MetricFromByte(meta.metric, &metric) ? quiver::core::MetricName(metric)
	                                                                                     : "unknown");
	values[11] = CStringGetTextDatum(ctx.quantizer == kIvfQuantizerSq8 ? "sq8"
	                                 : ctx.quantizer == kIvfQuantizerPq ? "pq"
	                                                                    : "none");
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

// quiver_ivfflat_check(regclass): verifies an ivfflat index against its pages and its table and
// returns one row per problem (none for a sound index). Pages are read defensively (nothing on
// a page is trusted before it is checked), so a damaged page is reported, not followed. It
// takes ShareLock on the index, so inserts and VACUUM wait while it runs.
namespace {

int
CompareTids(const void *a, const void *b)
{
	return ItemPointerCompare(const_cast<ItemPointer>(static_cast<const ItemPointerData *>(a)),
	                          const_cast<ItemPointer>(static_cast<const ItemPointerData *>(b)));
}

// An initialized ivfflat page with sane bounds.
bool
SoundPage(Page page)
{
	auto *header = reinterpret_cast<PageHeader>(page);
	return !PageIsNew(page) && header->pd_lower >= SizeOfPageHeaderData && header->pd_lower <= header->pd_upper &&
	       header->pd_upper <= header->pd_special && header->pd_special == BLCKSZ - MAXALIGN(sizeof(IndexPageOpaque)) &&
	       PageOpaque(page)->page_id == kIvfPageId;
}

// Whether item `off` is a normal item of `length` bytes inside the page's item area.
bool
SoundItem(Page page, OffsetNumber off, std::size_t length)
{
	auto *header = reinterpret_cast<PageHeader>(page);
	if (off > PageGetMaxOffsetNumber(page))
		return false;
	ItemId item = PageGetItemId(page, off);
	return ItemIdIsNormal(item) && ItemIdGetLength(item) == length && ItemIdGetOffset(item) >= header->pd_upper &&
	       ItemIdGetOffset(item) + length <= header->pd_special;
}

struct IndexedTids {
	ItemPointerData *tids; // sorted once collected
	std::size_t n;
	std::size_t missing; // live heap rows not among them
	IndexCheckReport *check;
	const IvfContext *ctx;
	void *stored;          // vector_bytes, for one row at a time
	MemoryContext row_ctx; // reset after each row: reading a value may detoast a copy
};

// The table's rows as an index build sees them: every live one with an indexable value must be
// among the index's TIDs.
void
CheckHeapRow(Relation, ItemPointer tid, Datum *values, bool *isnull, bool alive, void *state)
{
	auto *s = static_cast<IndexedTids *>(state);
	if (!alive || !HeapValueIndexable(s->ctx, values[0], isnull[0], s->stored, s->row_ctx) ||
	    bsearch(tid, s->tids, s->n, sizeof(ItemPointerData), CompareTids) != nullptr)
		return;
	if (s->missing++ < 5)
		s->check->Report("heap row (%u,%u) is in no list", ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid));
}

void
CheckIndex(Relation heap, Relation index, IndexCheckReport &check)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	if (nblocks == 0) {
		check.Report("the index has no metapage");
		return;
	}
	IvfMetaData meta;
	bool meta_page;
	{
		Buffer buf = ReadBuffer(index, kIvfMetaBlock);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		meta_page = SoundPage(BufferGetPage(buf));
		memcpy(&meta, PageGetContents(BufferGetPage(buf)), sizeof meta);
		UnlockReleaseBuffer(buf);
	}
	if (!meta_page || meta.magic != kIvfMagic || !IvfLayoutReadable(meta)) {
		check.Report("metapage: not a readable ivfflat metapage (magic %08x, layout version %u)", meta.magic,
		             meta.version);
		return;
	}
	IvfContext ctx;
	IvfInitContext(&ctx, index);
	if (meta.dims != static_cast<std::uint32_t>(ctx.dims) || meta.lists < 1 || meta.lists > kIvfMaxLists ||
	    meta.quantizer > kIvfQuantizerPq ||
	    (meta.quantizer == kIvfQuantizerPq && (meta.pq_m < 1 || meta.pq_m > meta.dims))) {
		check.Report("metapage: %u dimensions (the column has %d), %u lists, quantizer %u, %u pq sub-vectors",
		             meta.dims, ctx.dims, meta.lists, meta.quantizer, meta.pq_m);
		return;
	}
	IvfSetMetaFields(&ctx, meta);
	std::size_t per_quantizer_page = IvfQuantizerFloatsPerPage();
	auto quantizer_pages = static_cast<BlockNumber>((ctx.quantizer_floats + per_quantizer_page - 1) / per_quantizer_page);
	auto center_pages = static_cast<BlockNumber>((ctx.lists + ctx.per_page - 1) / ctx.per_page);
	BlockNumber first_entry_block = 1 + quantizer_pages + center_pages;
	if (meta.quantizer_pages != quantizer_pages || meta.center_blkno != 1 + quantizer_pages ||
	    meta.center_pages != center_pages || first_entry_block > nblocks) {
		check.Report("metapage: %u quantizer pages and %u centre pages from block %u in %u blocks, expected %u and %u",
		             meta.quantizer_pages, meta.center_pages, meta.center_blkno, nblocks, quantizer_pages,
		             center_pages);
		return;
	}

	// Quantizer pages: one item each, the parameters in order.
	std::size_t left = ctx.quantizer_floats;
	for (BlockNumber blkno = 1; blkno < ctx.center_blkno; blkno++) {
		std::size_t chunk = std::min(per_quantizer_page, left);
		Buffer buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		if (!SoundPage(page) || !SoundItem(page, FirstOffsetNumber, chunk * sizeof(float)))
			check.Report("block %u: not a quantizer page of %zu floats", blkno, chunk);
		UnlockReleaseBuffer(buf);
		left -= chunk;
	}

	// Centre pages: each list's first and insert blocks.
	auto *start = static_cast<BlockNumber *>(palloc(sizeof(BlockNumber) * static_cast<std::size_t>(ctx.lists)));
	auto *insert = static_cast<BlockNumber *>(palloc(sizeof(BlockNumber) * static_cast<std::size_t>(ctx.lists)));
	for (int list = 0; list < ctx.lists; list++) {
		BlockNumber blkno = ListBlock(&ctx, list);
		Buffer buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		start[list] = insert[list] = InvalidBlockNumber;
		if (SoundPage(page) && SoundItem(page, ListOffset(&ctx, list), ListTupleSize(ctx.vector_bytes))) {
			auto *t = reinterpret_cast<IvfListTuple *>(PageGetItem(page, PageGetItemId(page, ListOffset(&ctx, list))));
			start[list] = t->start_blkno;
			insert[list] = t->insert_blkno;
		} else {
			check.Report("block %u: list %d has no sound centre tuple", blkno, list);
		}
		UnlockReleaseBuffer(buf);
	}

	// Each list's chain: every page once, in one list only, each holding whole entries.
	auto *owner = static_cast<int *>(palloc(sizeof(int) * nblocks));
	for (BlockNumber b = 0; b < nblocks; b++)
		owner[b] = -1;
	std::size_t cap = 1024, n = 0;
	auto *tids = static_cast<ItemPointerData *>(palloc(sizeof(ItemPointerData) * cap));
	BlockNumber heap_blocks = RelationGetNumberOfBlocks(heap);
	for (int list = 0; list < ctx.lists; list++) {
		bool insert_seen = insert[list] == start[list];
		for (BlockNumber blkno = start[list]; blkno != InvalidBlockNumber;) {
			CHECK_FOR_INTERRUPTS();
			if (blkno < first_entry_block || blkno >= nblocks) {
				check.Report("list %d: its chain leads to block %u, not an entry page", list, blkno);
				break;
			}
			if (owner[blkno] >= 0) {
				check.Report("list %d: block %u is already in list %d", list, blkno, owner[blkno]);
				break;
			}
			owner[blkno] = list;
			insert_seen = insert_seen || blkno == insert[list];
			Buffer buf = ReadBuffer(index, blkno);
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			Page page = BufferGetPage(buf);
			BlockNumber next = InvalidBlockNumber;
			if (!SoundPage(page)) {
				check.Report("list %d: block %u is not a valid ivfflat page", list, blkno);
			} else {
				next = PageOpaque(page)->next_blkno;
				int count = -1;
				auto *header = reinterpret_cast<PageHeader>(page);
				if (ctx.packed) {
					if ((header->pd_lower - SizeOfPageHeaderData) % ctx.slot_bytes == 0)
						count = static_cast<int>((header->pd_lower - SizeOfPageHeaderData) / ctx.slot_bytes);
				} else {
					count = PageGetMaxOffsetNumber(page);
					for (OffsetNumber off = FirstOffsetNumber; off <= count; off++)
						if (!SoundItem(page, off, EntryTupleSize(ctx.entry_bytes)))
							count = -1;
				}
				if (count < 0)
					check.Report("list %d: block %u does not hold whole entries", list, blkno);
				for (int i = 0; i < count; i++) {
					ItemPointerData tid = IvfEntryAt(&ctx, page, i).heap_tid;
					if (!ItemPointerIsValid(&tid) || ItemPointerGetBlockNumber(&tid) >= heap_blocks)
						check.Report("list %d: block %u entry %d points to heap row (%u,%u), outside the table", list,
						             blkno, i, ItemPointerGetBlockNumber(&tid), ItemPointerGetOffsetNumber(&tid));
					if (n == cap) {
						cap *= 2;
						tids = static_cast<ItemPointerData *>(repalloc_huge(tids, sizeof(ItemPointerData) * cap));
					}
					tids[n++] = tid;
				}
			}
			UnlockReleaseBuffer(buf);
			blkno = next;
		}
		if (!insert_seen)
			check.Report("list %d: its insert block %u is not in its chain", list, insert[list]);
	}
	for (BlockNumber blkno = first_entry_block; blkno < nblocks; blkno++) {
		if (owner[blkno] >= 0)
			continue;
		Buffer buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		// A page extended by an insert that failed before writing it is harmless.
		if (!PageIsNew(BufferGetPage(buf)))
			check.Report("block %u belongs to no list", blkno);
		UnlockReleaseBuffer(buf);
	}

	// Every heap row once, and every live row in some list.
	qsort(tids, n, sizeof(ItemPointerData), CompareTids);
	for (std::size_t i = 1; i < n; i++)
		if (ItemPointerEquals(&tids[i - 1], &tids[i]))
			check.Report("heap row (%u,%u) is indexed twice", ItemPointerGetBlockNumber(&tids[i]),
			             ItemPointerGetOffsetNumber(&tids[i]));
	IndexedTids state{tids, n, 0, &check, &ctx, palloc(ctx.vector_bytes),
	                  AllocSetContextCreate(CurrentMemoryContext, "ivfflat check row", ALLOCSET_DEFAULT_SIZES)};
	table_index_build_scan(heap, index, BuildIndexInfo(index), false, false, CheckHeapRow, &state, nullptr);
	if (state.missing > 5)
		check.Report("%zu live heap rows in all are in no list", state.missing);
}

} // namespace

QUIVER_FUNCTION(quiver_ivfflat_check)
{
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	IndexCheckReport check{rsinfo->setResult, rsinfo->setDesc};
	Relation index, heap;
	OpenIndexAndTableToCheck(PG_GETARG_OID(0), "ivfflat", &index, &heap);
	CheckIndex(heap, index, check);
	check.Finish();
	CloseIndexAndTableToCheck(index, heap);
	return static_cast<Datum>(0);
}
