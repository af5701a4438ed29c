// Exact re-ranking for indexes that store vectors inexactly (ivfflat's sq8 and pq lists, hnsw's
// half quantizer): the indexed column's value of a heap row, read with the scan's snapshot, and
// its exact distance to the query.
#pragma once

#include "values.hpp"

extern "C" {
#include "postgres.h"
#include "access/genam.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
}

namespace quiver::pg {

struct HeapValueReader {
	IndexFetchTableData *fetch; // null until first used
	TupleTableSlot *slot;
	MemoryContext row_ctx; // reset after each row: reading a value may detoast a copy
};

// The exact distance between query (a stored vector of `exact`, the column's own format, not
// prepared) and the value of the heap row at tid, as IndexOperatorDistance computes it: the
// order of ORDER BY, in IndexDistance's units. False when the scan's snapshot
// cannot see the row (the executor would drop it) or its value is NULL. The reader's objects
// are created on first use in `owner` (a context that lives as long as the scan).
bool HeapRowDistance(HeapValueReader *reader, IndexScanDesc scan, MemoryContext owner, const IndexValues *exact,
                     const void *query, ItemPointer tid, float *distance);

// Releases what HeapRowDistance created (nothing if it never ran).
void HeapValueReaderEnd(HeapValueReader *reader);

} // namespace quiver::pg
