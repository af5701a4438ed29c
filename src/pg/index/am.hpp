// What the hnsw and ivfflat access methods share beyond their vectors: the page special
// space, new pages, the IndexAmRoutine of an ORDER BY-only index, the planner's answer when
// there is no ORDER BY, and scan key copies.
#pragma once

#include <cstdint>

extern "C" {
#include "postgres.h"
#include "access/amapi.h"
#include "access/relscan.h"
#include "nodes/pathnodes.h"
#include "storage/lockdefs.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "utils/relcache.h"
}

namespace quiver::pg {

// The special space of every page of a Quiver index.
struct IndexPageOpaque {
	BlockNumber next_blkno; // the next page of a chain (InvalidBlockNumber: none)
	std::uint16_t flags;
	std::uint16_t page_id; // the access method's page id, for pg_filedump and sanity checks
};
static_assert(sizeof(IndexPageOpaque) == 8);

inline IndexPageOpaque *
PageOpaque(Page page)
{
	return reinterpret_cast<IndexPageOpaque *>(PageGetSpecialPointer(page));
}

void InitIndexPage(Page page, std::uint16_t page_id);

// A new page at the end of the fork, returned pinned and exclusively locked.
Buffer NewIndexBuffer(Relation index, ForkNumber fork);

// The IndexAmRoutine fields of an index that only answers ORDER BY <op> (no keys, no
// uniqueness, one column, no bitmap scans); the caller sets its callbacks and amsupport.
IndexAmRoutine *MakeOrderByOnlyAmRoutine();

// The cost of a path without ORDER BY: infinite, since such an index answers nothing else.
// True when it applied (the caller returns).
bool CostWithoutOrderBy(IndexPath *path, Cost *startup_cost, Cost *total_cost, Selectivity *selectivity,
                        double *correlation, double *pages);

// Opens an index for the inspection functions (quiver_hnsw_stats, quiver_ivfflat_stats, ...):
// ERROR unless it is an index of Quiver's access method am_name, or when the user may not read
// its table (the pages reveal the table's vectors). Close with relation_close(index, lockmode).
Relation OpenIndexToInspect(Oid relid, const char *am_name, LOCKMODE lockmode);

// For the checkers: the index and its table, both under ShareLock (the table scan reads with
// SnapshotAny, which needs writers kept out, as amcheck's parent check does). Privileges are
// checked before anything is locked, so a role without SELECT cannot block the table.
void OpenIndexAndTableToCheck(Oid relid, const char *am_name, Relation *index, Relation *heap);
void CloseIndexAndTableToCheck(Relation index, Relation heap);

// amrescan's copy of the new scan keys into the scan descriptor.
void CopyScanKeys(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);

} // namespace quiver::pg
