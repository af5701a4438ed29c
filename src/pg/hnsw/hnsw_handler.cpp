// The hnsw access method's handler, relation options, settings and cost estimate.
#include <cmath>
#include <cstring>

#include "hnsw.hpp"

extern "C" {
#include "access/amapi.h"
#include "access/reloptions.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/selfuncs.h"
#include "utils/spccache.h"
}

namespace quiver::pg::hnsw {

int hnsw_ef_search = kHnswDefaultEfSearch;
int hnsw_iterative_scan = kHnswIterativeOff;
int hnsw_max_scan_tuples = 20000;
int hnsw_scan_mem_multiplier = 1;

namespace {

relopt_kind hnsw_relopt_kind;

int
ParseQuantizer(const char *value)
{
	if (value == nullptr || strcmp(value, "none") == 0)
		return kHnswQuantizerNone;
	if (strcmp(value, "half") == 0)
		return kHnswQuantizerHalf;
	if (strcmp(value, "sq8") == 0)
		return kHnswQuantizerSq8;
	if (strcmp(value, "truncate") == 0)
		return kHnswQuantizerTruncate;
	if (strcmp(value, "sq4") == 0)
		return kHnswQuantizerSq4;
	return -1;
}

void
ValidateQuantizer(const char *value)
{
	if (ParseQuantizer(value) < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("invalid value for quantizer: \"%s\"", value),
		                errdetail("Valid values are \"none\", \"half\", \"sq8\", \"sq4\" and \"truncate\".")));
}

const struct config_enum_entry iterative_scan_options[] = {
    {"off", kHnswIterativeOff, false},
    {"relaxed_order", kHnswIterativeRelaxed, false},
    {"strict_order", kHnswIterativeStrict, false},
    {nullptr, 0, false},
};

} // namespace

void
HnswInit()
{
	hnsw_relopt_kind = add_reloption_kind();
	add_int_reloption(hnsw_relopt_kind, "m", "Max number of connections", kHnswDefaultM, kHnswMinM, kHnswMaxM,
	                  AccessExclusiveLock);
	add_int_reloption(hnsw_relopt_kind, "ef_construction", "Size of the dynamic candidate list for construction",
	                  kHnswDefaultEfConstruction, kHnswMinEfConstruction, kHnswMaxEfConstruction, AccessExclusiveLock);
	add_string_reloption(hnsw_relopt_kind, "quantizer", "How elements store vectors: none, half, sq8, sq4 or truncate", "none",
	                     ValidateQuantizer, AccessExclusiveLock);

	DefineCustomIntVariable("hnsw.ef_search", "Sets the size of the dynamic candidate list for search",
	                        "Valid range is 1..1000.", &hnsw_ef_search, kHnswDefaultEfSearch, 1, kHnswMaxEfSearch,
	                        PGC_USERSET, 0, nullptr, nullptr, nullptr);
	DefineCustomEnumVariable("hnsw.iterative_scan", "Sets the mode for iterative scans", nullptr,
	                         &hnsw_iterative_scan, kHnswIterativeOff, iterative_scan_options, PGC_USERSET, 0, nullptr,
	                         nullptr, nullptr);
	// Counted in visited graph nodes, as in pgvector.
	DefineCustomIntVariable("hnsw.max_scan_tuples", "Sets the max number of tuples to visit for iterative scans",
	                        nullptr, &hnsw_max_scan_tuples, 20000, 1, INT_MAX, PGC_USERSET, 0, nullptr, nullptr,
	                        nullptr);
	DefineCustomIntVariable("hnsw.scan_mem_multiplier",
	                        "Sets the multiple of work_mem to use for iterative scans", nullptr,
	                        &hnsw_scan_mem_multiplier, 1, 1, 1000, PGC_USERSET, 0, nullptr, nullptr, nullptr);
	MarkGUCPrefixReserved("hnsw");

	DefineCustomIntVariable("quiver.hnsw_build_threads",
	                        "Sets the number of threads that build an hnsw graph in memory",
	                        "0 means max_parallel_maintenance_workers + 1, at most the number of cores.",
	                        &hnsw_build_threads, 0, 0, 64, PGC_USERSET, 0, nullptr, nullptr, nullptr);
}

int
HnswGetM(Relation index)
{
	auto *opts = reinterpret_cast<HnswOptions *>(index->rd_options);
	return opts != nullptr ? opts->m : kHnswDefaultM;
}

int
HnswGetEfConstruction(Relation index)
{
	auto *opts = reinterpret_cast<HnswOptions *>(index->rd_options);
	return opts != nullptr ? opts->ef_construction : kHnswDefaultEfConstruction;
}

HnswQuantizer
HnswGetQuantizer(Relation index)
{
	auto *opts = reinterpret_cast<HnswOptions *>(index->rd_options);
	if (opts == nullptr || opts->quantizer_offset == 0)
		return kHnswQuantizerNone;
	const char *value = reinterpret_cast<const char *>(opts) + opts->quantizer_offset;
	int quantizer = ParseQuantizer(value);
	if (quantizer < 0) // validated when set; this only guards the metapage against anything else
		ValidateQuantizer(value);
	return static_cast<HnswQuantizer>(quantizer);
}

int
MaxLevelForM(int m)
{
	std::size_t slots = (kHnswMaxItemSize - sizeof(HnswNeighborTuple)) / sizeof(ItemPointerData);
	return static_cast<int>(slots / static_cast<std::size_t>(m)) - 2;
}

} // namespace quiver::pg::hnsw

using namespace quiver::pg::hnsw;

extern "C" {
IndexBuildResult *hnswbuild(Relation heap, Relation index, IndexInfo *index_info);
void hnswbuildempty(Relation index);
bool hnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
                IndexUniqueCheck check_unique, bool index_unchanged, IndexInfo *index_info);
IndexBulkDeleteResult *hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
                                      IndexBulkDeleteCallback callback, void *callback_state);
IndexBulkDeleteResult *hnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);
IndexScanDesc hnswbeginscan(Relation index, int nkeys, int norderbys);
void hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
bool hnswgettuple(IndexScanDesc scan, ScanDirection dir);
void hnswendscan(IndexScanDesc scan);
}

namespace {

bytea *
hnswoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
	    {"m", RELOPT_TYPE_INT, offsetof(HnswOptions, m)},
	    {"ef_construction", RELOPT_TYPE_INT, offsetof(HnswOptions, ef_construction)},
	    {"quantizer", RELOPT_TYPE_STRING, offsetof(HnswOptions, quantizer_offset)},
	};
	return static_cast<bytea *>(
	    build_reloptions(reloptions, validate, hnsw_relopt_kind, sizeof(HnswOptions), tab, lengthof(tab)));
}

bool
hnswvalidate(Oid)
{
	return true;
}

char *
hnswbuildphasename(int64 phasenum)
{
	switch (phasenum) {
	case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
		return const_cast<char *>("initializing");
	case 2:
		return const_cast<char *>("loading tuples");
	case 3:
		return const_cast<char *>("building graph");
	case 4:
		return const_cast<char *>("writing pages");
	default:
		return nullptr;
	}
}

// An HNSW scan visits roughly (levels above 0) * m + (2m candidates per expansion) * ef nodes,
// whatever the table size; the planner gets that fraction of the index as its cost, and an
// infinite cost when there is no ORDER BY, since the index answers nothing else.
void
hnswcostestimate(PlannerInfo *root, IndexPath *path, double loop_count, Cost *startup_cost, Cost *total_cost,
                 Selectivity *selectivity, double *correlation, double *pages)
{
	if (quiver::pg::CostWithoutOrderBy(path, startup_cost, total_cost, selectivity, correlation, pages))
		return;

	GenericCosts costs;
	memset(&costs, 0, sizeof costs);
	genericcostestimate(root, path, loop_count, &costs);

	Relation index = index_open(path->indexinfo->indexoid, NoLock);
	int m = HnswGetM(index);
	index_close(index, NoLock);

	double tuples = path->indexinfo->tuples;
	double ratio = 1.0;
	if (tuples > 0) {
		double ml = 1.0 / std::log(static_cast<double>(m));
		// Whole levels above the base one (the planner's view matches pgvector's).
		int levels = static_cast<int>(std::log(tuples) * ml);
		double layer0 = 2.0 * m * hnsw_ef_search;
		// Most neighbours of an expanded node were already visited; this share shrinks as
		// the graph grows relative to the search width.
		double fresh = 0.55 * std::log(tuples) / (std::log(static_cast<double>(m)) * (1 + std::log(hnsw_ef_search)));
		ratio = (levels * m + layer0 * fresh) / tuples;
		if (ratio > 1)
			ratio = 1;
	}

	double seq_page_cost;
	get_tablespace_page_costs(path->indexinfo->reltablespace, nullptr, &seq_page_cost);

	// The whole result is computed before the first row comes back.
	costs.indexStartupCost = costs.indexTotalCost * ratio;
	double startup_pages = costs.numIndexPages * ratio;
	if (startup_pages > path->indexinfo->rel->pages && ratio < 0.5) {
		// A large index partly read costs no more than reading the table sequentially.
		costs.indexStartupCost -= startup_pages * (costs.spc_random_page_cost - seq_page_cost);
		costs.indexStartupCost -= (startup_pages - path->indexinfo->rel->pages) * seq_page_cost;
	}

	*startup_cost = costs.indexStartupCost;
	*total_cost = costs.indexTotalCost;
	*selectivity = costs.indexSelectivity;
	*correlation = costs.indexCorrelation;
	*pages = costs.numIndexPages;
}

} // namespace

QUIVER_FUNCTION(hnswhandler)
{
	IndexAmRoutine *am = quiver::pg::MakeOrderByOnlyAmRoutine();
	am->amsupport = 3;

	am->ambuild = hnswbuild;
	am->ambuildempty = hnswbuildempty;
	am->aminsert = hnswinsert;
	am->ambulkdelete = hnswbulkdelete;
	am->amvacuumcleanup = hnswvacuumcleanup;
	am->amcostestimate = hnswcostestimate;
	am->amoptions = hnswoptions;
	am->ambuildphasename = hnswbuildphasename;
	am->amvalidate = hnswvalidate;
	am->ambeginscan = hnswbeginscan;
	am->amrescan = hnswrescan;
	am->amgettuple = hnswgettuple;
	am->amendscan = hnswendscan;

	PG_RETURN_POINTER(am);
}
