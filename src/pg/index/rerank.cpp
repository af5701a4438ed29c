#include "rerank.hpp"

extern "C" {
#include "utils/memutils.h"
#include "utils/rel.h"
}

namespace quiver::pg {

bool
HeapRowDistance(HeapValueReader *reader, IndexScanDesc scan, MemoryContext owner, const IndexValues *exact,
                const void *query, ItemPointer tid, float *distance)
{
	if (reader->fetch == nullptr) {
		MemoryContext old = MemoryContextSwitchTo(owner);
		reader->fetch = table_index_fetch_begin(scan->heapRelation);
		reader->slot = table_slot_create(scan->heapRelation, nullptr);
		reader->row_ctx = AllocSetContextCreate(owner, "quiver rerank row", ALLOCSET_DEFAULT_SIZES);
		MemoryContextSwitchTo(old);
	}
	ItemPointerData fetched = *tid; // a HOT chain moves it to the visible member
	bool call_again = false, all_dead = false;
	if (!table_index_fetch_tuple(reader->fetch, &fetched, scan->xs_snapshot, reader->slot, &call_again, &all_dead))
		return false;
	bool isnull;
	Datum datum = slot_getattr(reader->slot, scan->indexRelation->rd_index->indkey.values[0], &isnull);
	if (!isnull) {
		MemoryContext old = MemoryContextSwitchTo(reader->row_ctx);
		void *values = IndexQueryValues(exact, datum); // no limit on a sparse row's non-zeros
		*distance = IndexOperatorDistance(exact, query, values);
		MemoryContextSwitchTo(old);
		MemoryContextReset(reader->row_ctx);
	}
	ExecClearTuple(reader->slot);
	return !isnull;
}

void
HeapValueReaderEnd(HeapValueReader *reader)
{
	if (reader->fetch == nullptr)
		return;
	table_index_fetch_end(reader->fetch);
	ExecDropSingleTupleTableSlot(reader->slot);
	MemoryContextDelete(reader->row_ctx);
	reader->fetch = nullptr;
}

} // namespace quiver::pg
