// quiver_ivfflat_stats(regclass): what an ivfflat index holds, list by list, read from its pages.
#include <algorithm>

#include "ivf.hpp"

extern "C" {
#include "access/relation.h"
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
