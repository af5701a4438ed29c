// The ivfflat access method's handler, relation options, settings and cost estimate.
#include <algorithm>
#include <climits>
#include <cstring>

#include "ivf.hpp"

extern "C" {
#include "access/reloptions.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/selfuncs.h"
#include "utils/spccache.h"
}

namespace quiver::pg::ivf {

int ivfflat_probes = 1;
int ivfflat_iterative_scan = kIvfIterativeOff;
int ivfflat_max_probes = kIvfMaxProbes;
int ivfflat_rerank = 0;

namespace {

relopt_kind ivf_relopt_kind;

int
ParseQuantizer(const char *value)
{
	if (value == nullptr || strcmp(value, "none") == 0)
		return kIvfQuantizerNone;
	if (strcmp(value, "sq8") == 0)
		return kIvfQuantizerSq8;
	if (strcmp(value, "pq") == 0)
		return kIvfQuantizerPq;
	return -1;
}

void
ValidateQuantizer(const char *value)
{
	if (ParseQuantizer(value) < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("invalid value for quantizer: \"%s\"", value),
		                errdetail("Valid values are \"none\", \"sq8\" and \"pq\".")));
}

const struct config_enum_entry iterative_scan_options[] = {
    {"off", kIvfIterativeOff, false},
    {"relaxed_order", kIvfIterativeRelaxed, false},
    {nullptr, 0, false},
};

} // namespace

void
IvfInit()
{
	ivf_relopt_kind = add_reloption_kind();
	add_int_reloption(ivf_relopt_kind, "lists", "Number of inverted lists", kIvfDefaultLists, kIvfMinLists,
	                  kIvfMaxLists, AccessExclusiveLock);
	add_string_reloption(ivf_relopt_kind, "quantizer", "How list entries store vectors: none, sq8 or pq", "none",
	                     ValidateQuantizer, AccessExclusiveLock);
	add_int_reloption(ivf_relopt_kind, "pq_subvectors", "Sub-vectors of product quantization (0: dimensions / 4)", 0,
	                  0, kIndexMaxHalfDim, AccessExclusiveLock);

	DefineCustomIntVariable("ivfflat.probes", "Sets the number of probes", "Valid range is 1..lists.",
	                        &ivfflat_probes, 1, 1, kIvfMaxProbes, PGC_USERSET, 0, nullptr, nullptr, nullptr);
	DefineCustomEnumVariable("ivfflat.iterative_scan", "Sets the mode for iterative scans", nullptr,
	                         &ivfflat_iterative_scan, kIvfIterativeOff, iterative_scan_options, PGC_USERSET, 0,
	                         nullptr, nullptr, nullptr);
	DefineCustomIntVariable("ivfflat.max_probes", "Sets the max number of probes for iterative scans", nullptr,
	                        &ivfflat_max_probes, kIvfMaxProbes, 1, kIvfMaxProbes, PGC_USERSET, 0, nullptr, nullptr,
	                        nullptr);
	MarkGUCPrefixReserved("ivfflat");
	DefineCustomIntVariable("quiver.ivfflat_rerank",
	                        "Sets how many candidates an ivfflat scan with compressed lists re-ranks at a time",
	                        "Candidates are chosen by their approximate distance and re-ranked by their exact one; "
	                        "0 chooses by quantizer.",
	                        &ivfflat_rerank, 0, 0, 100000, PGC_USERSET, 0, nullptr, nullptr, nullptr);
}

int
IvfGetLists(Relation index)
{
	auto *opts = reinterpret_cast<IvfOptions *>(index->rd_options);
	return opts != nullptr ? opts->lists : kIvfDefaultLists;
}

int
IvfGetQuantizer(Relation index)
{
	auto *opts = reinterpret_cast<IvfOptions *>(index->rd_options);
	if (opts == nullptr || opts->quantizer_offset == 0)
		return kIvfQuantizerNone;
	return ParseQuantizer(reinterpret_cast<const char *>(opts) + opts->quantizer_offset);
}

int
IvfGetPqSubvectors(Relation index)
{
	auto *opts = reinterpret_cast<IvfOptions *>(index->rd_options);
	return opts != nullptr ? opts->pq_subvectors : 0;
}

} // namespace quiver::pg::ivf

using namespace quiver::pg::ivf;

extern "C" {
IndexBuildResult *ivfflatbuild(Relation heap, Relation index, IndexInfo *index_info);
void ivfflatbuildempty(Relation index);
bool ivfflatinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
                   IndexUniqueCheck check_unique, bool index_unchanged, IndexInfo *index_info);
IndexBulkDeleteResult *ivfflatbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
                                         IndexBulkDeleteCallback callback, void *callback_state);
IndexBulkDeleteResult *ivfflatvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);
IndexScanDesc ivfflatbeginscan(Relation index, int nkeys, int norderbys);
void ivfflatrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
bool ivfflatgettuple(IndexScanDesc scan, ScanDirection dir);
void ivfflatendscan(IndexScanDesc scan);
}

namespace {

bytea *
ivfflatoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
	    {"lists", RELOPT_TYPE_INT, offsetof(IvfOptions, lists)},
	    {"quantizer", RELOPT_TYPE_STRING, offsetof(IvfOptions, quantizer_offset)},
	    {"pq_subvectors", RELOPT_TYPE_INT, offsetof(IvfOptions, pq_subvectors)},
	};
	return static_cast<bytea *>(
	    build_reloptions(reloptions, validate, ivf_relopt_kind, sizeof(IvfOptions), tab, lengthof(tab)));
}

bool
ivfflatvalidate(Oid)
{
	return true;
}

char *
ivfflatbuildphasename(int64 phasenum)
{
	switch (phasenum) {
	case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
		return const_cast<char *>("initializing");
	case 2:
		return const_cast<char *>("performing k-means");
	case 3:
		return const_cast<char *>("assigning tuples");
	case 4:
		return const_cast<char *>("loading tuples");
	default:
		return nullptr;
	}
}

// A scan reads the centres, then every entry of `probes` lists (of about tuples / lists
// entries each) before it returns the first row: that share of the index is the startup cost.
// Without ORDER BY the index answers nothing.
void
ivfflatcostestimate(PlannerInfo *root, IndexPath *path, double loop_count, Cost *startup_cost, Cost *total_cost,
                    Selectivity *selectivity, double *correlation, double *pages)
{
	if (quiver::pg::CostWithoutOrderBy(path, startup_cost, total_cost, selectivity, correlation, pages))
		return;

	GenericCosts costs;
	memset(&costs, 0, sizeof costs);
	genericcostestimate(root, path, loop_count, &costs);

	// The lists the index has (fewer than the option when it was built with little data).
	Relation index = index_open(path->indexinfo->indexoid, NoLock);
	IvfMetaData meta;
	IvfReadMeta(index, &meta);
	index_close(index, NoLock);
	int lists = std::max(static_cast<int>(meta.lists), 1);

	int probes = std::min(ivfflat_probes, lists);
	double ratio = static_cast<double>(probes) / lists;

	double seq_page_cost;
	get_tablespace_page_costs(path->indexinfo->reltablespace, nullptr, &seq_page_cost);

	// A list's pages are read one after the other, so they cost sequential reads.
	costs.indexTotalCost -= costs.numIndexPages * (costs.spc_random_page_cost - seq_page_cost);
	costs.indexStartupCost = costs.indexTotalCost * ratio;
	// Large vectors live in TOAST, which the sequential scan's cost leaves out while the
	// index holds them inline: without this, a table of 1,536-dimension vectors would look
	// cheaper to scan whole than one list of its index.
	double startup_pages = costs.numIndexPages * ratio;
	if (startup_pages > path->indexinfo->rel->pages && ratio < 0.5)
		costs.indexStartupCost -= (startup_pages - path->indexinfo->rel->pages) * seq_page_cost;

	*startup_cost = costs.indexStartupCost;
	*total_cost = costs.indexTotalCost;
	*selectivity = costs.indexSelectivity;
	*correlation = costs.indexCorrelation;
	*pages = costs.numIndexPages;
}

} // namespace

QUIVER_FUNCTION(ivfflathandler)
{
	IndexAmRoutine *am = quiver::pg::MakeOrderByOnlyAmRoutine();
	am->amsupport = 2;

	am->ambuild = ivfflatbuild;
	am->ambuildempty = ivfflatbuildempty;
	am->aminsert = ivfflatinsert;
	am->ambulkdelete = ivfflatbulkdelete;
	am->amvacuumcleanup = ivfflatvacuumcleanup;
	am->amcostestimate = ivfflatcostestimate;
	am->amoptions = ivfflatoptions;
	am->ambuildphasename = ivfflatbuildphasename;
	am->amvalidate = ivfflatvalidate;
	am->ambeginscan = ivfflatbeginscan;
	am->amrescan = ivfflatrescan;
	am->amgettuple = ivfflatgettuple;
	am->amendscan = ivfflatendscan;

	PG_RETURN_POINTER(am);
}
