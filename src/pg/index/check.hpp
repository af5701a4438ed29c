// What the index checkers (quiver_hnsw_check, quiver_ivfflat_check) share: problems collected
// as rows of the function's result, at most 1,000 of them, then a count of the rest.
#pragma once

#include <cstdarg>
#include <cstdio>

extern "C" {
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"
}

#include "values.hpp"

namespace quiver::pg {

struct IndexCheckReport {
	Tuplestorestate *store;
	TupleDesc desc;
	int reported = 0;
	int suppressed = 0;

	void
	Report(const char *fmt, ...) pg_attribute_printf(2, 3)
	{
		if (reported >= 1000) {
			suppressed++;
			return;
		}
		char buf[512];
		va_list args;
		va_start(args, fmt);
		vsnprintf(buf, sizeof buf, fmt, args);
		va_end(args);
		Datum value = CStringGetTextDatum(buf);
		bool isnull = false;
		tuplestore_putvalues(store, desc, &value, &isnull);
		reported++;
	}

	// The last row: how many problems did not get one.
	void
	Finish()
	{
		if (suppressed == 0)
			return;
		int more = suppressed;
		reported = 0;
		suppressed = 0;
		Report("... and %d more problems", more);
	}
};

// Whether a table row's value is one the index holds, as a build decides (not null, not a zero
// vector under cosine), for the checkers' table scans; *rounding_error as IndexDatumValues. Reading the value may detoast a copy:
// that happens in row_ctx, reset before returning.
inline bool
HeapValueIndexable(const IndexValues *v, Datum value, bool isnull, void *stored, MemoryContext row_ctx,
                   float *rounding_error = nullptr)
{
	if (isnull)
		return false;
	MemoryContext old = MemoryContextSwitchTo(row_ctx);
	IndexDatumValues(v, value, stored, rounding_error);
	bool indexable = IndexPrepareVector(v, stored);
	MemoryContextSwitchTo(old);
	MemoryContextReset(row_ctx);
	return indexable;
}

} // namespace quiver::pg
