// Scale-out over postgres_fdw: a hash-partitioned table whose partitions are foreign tables on
// other PostgreSQL servers (shards), each shard holding its rows and its own Quiver index.
//
// Plain partitioning cannot answer a top-k query well: PostgreSQL 15 plans
// `ORDER BY v <-> q LIMIT k` on the partitioned table as a Merge Append whose foreign scans
// carry the ORDER BY but not the LIMIT, and runs them one after the other (asynchronous
// foreign scans exist only under Append). quiver_sharded_query writes the shape that gets both:
// one `ORDER BY ... LIMIT k` subquery per partition, UNION ALL'ed inside a MATERIALIZED CTE
// (so the planner keeps a plain Append, whose foreign scans run concurrently when the servers
// are async_capable), then the k best of those rows by exact distance.
//
// postgres_fdw forwards no settings, so the search settings of this session (hnsw.ef_search,
// ivfflat.probes, ...) are sent to every shard with SET over postgres_fdw's own connection
// (GetConnection, exported by postgres_fdw.so): a separate connection would not reach the
// session the foreign scans use. The same connection carries setup commands (creating the
// shard tables and their indexes), inside the remote transaction postgres_fdw ties to ours, so
// they commit or roll back with the local transaction.
#include <cstring>

#include "../guard.hpp"

extern "C" {
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "access/htup_details.h"
#include "catalog/objectaddress.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "partitioning/partdesc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/varlena.h"
}

namespace quiver::pg::shard {

namespace {

// postgres_fdw's connection API (contrib/postgres_fdw/postgres_fdw.h of PostgreSQL 15); the
// connection and its state stay opaque here.
struct PgConn;
struct AsyncRequest;
struct PgFdwConnState {
	AsyncRequest *pendingAreq; // an asynchronous fetch still to be read from the connection
};
using GetConnectionFn = PgConn *(*)(UserMapping *user, bool will_prep_stmt, PgFdwConnState **state);
using ReleaseConnectionFn = void (*)(PgConn *conn);
using DoSqlCommandFn = void (*)(PgConn *conn, const char *sql);
using ProcessPendingRequestFn = void (*)(AsyncRequest *areq);

struct FdwApi {
	GetConnectionFn get_connection;
	ReleaseConnectionFn release_connection;
	DoSqlCommandFn do_sql_command;
	ProcessPendingRequestFn process_pending_request;
};

FdwApi
LoadFdwApi()
{
	static FdwApi api;
	if (api.get_connection == nullptr) {
		const char *lib = "$libdir/postgres_fdw";
		api.do_sql_command = reinterpret_cast<DoSqlCommandFn>(load_external_function(lib, "do_sql_command", true, nullptr));
		api.process_pending_request = reinterpret_cast<ProcessPendingRequestFn>(
		    load_external_function(lib, "process_pending_request", true, nullptr));
		api.release_connection =
		    reinterpret_cast<ReleaseConnectionFn>(load_external_function(lib, "ReleaseConnection", true, nullptr));
		api.get_connection = reinterpret_cast<GetConnectionFn>(load_external_function(lib, "GetConnection", true, nullptr));
	}
	return api;
}

// Settings a shard needs to search as this session would: the index search settings, and the
// planner switches that decide between an index scan and an exact one.
const char *const kForwardedSettings[] = {
    "hnsw.ef_search",         "hnsw.iterative_scan", "hnsw.max_scan_tuples", "hnsw.scan_mem_multiplier",
    "ivfflat.probes",         "ivfflat.iterative_scan", "ivfflat.max_probes", "quiver.ivfflat_rerank",
    "enable_indexscan",       "enable_seqscan",
};

// The operators a sharded search may order by (their names are spliced into SQL).
const char *const kDistanceOperators[] = {"<->", "<#>", "<=>", "<+>", "<~>", "<%>"};

bool
ListsQuiver(const char *extensions)
{
	// postgres_fdw's `extensions` option: a comma-separated list of names, read as identifiers
	// (case-folded, quotes removed), as postgres_fdw reads it.
	List *names = NIL;
	if (!SplitIdentifierString(pstrdup(extensions), ',', &names))
		return false;
	ListCell *lc;
	foreach (lc, names) {
		if (strcmp(static_cast<char *>(lfirst(lc)), "quiver") == 0)
			return true;
	}
	return false;
}

// ERROR unless the server is a postgres_fdw server that ships Quiver's operators to the remote
// side (without `extensions 'quiver'`, postgres_fdw sorts on this side and every shard would
// send all its rows for each query).
ForeignServer *
CheckShardServer(Oid serverid)
{
	ForeignServer *server = GetForeignServer(serverid);
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);
	char *handler = OidIsValid(fdw->fdwhandler) ? get_func_name(fdw->fdwhandler) : nullptr;
	if (handler == nullptr || strcmp(handler, "postgres_fdw_handler") != 0)
		ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
		                errmsg("foreign server \"%s\" is not a postgres_fdw server", server->servername)));
	const char *extensions = nullptr;
	ListCell *lc;
	foreach (lc, server->options) {
		auto *def = static_cast<DefElem *>(lfirst(lc));
		if (strcmp(def->defname, "extensions") == 0)
			extensions = defGetString(def);
	}
	if (extensions == nullptr || !ListsQuiver(extensions))
		ereport(ERROR, (errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
		                errmsg("foreign server \"%s\" does not list quiver in its extensions option",
		                       server->servername),
		                errdetail("Without it, postgres_fdw computes distances on this server and every shard sends all "
		                          "of its rows for each query."),
		                errhint("ALTER SERVER %s OPTIONS (ADD extensions 'quiver');",
		                        quote_identifier(server->servername))));
	return server;
}

// Runs `sql` on the server over postgres_fdw's connection for the current user, inside the
// remote transaction that postgres_fdw commits or aborts with ours.
void
ServerErrorContext(void *arg)
{
	errcontext("on foreign server \"%s\"", static_cast<ForeignServer *>(arg)->servername);
}

void
RunOnServer(ForeignServer *server, const char *sql)
{
	// postgres_fdw's errors for a broken connection do not say which server it was.
	ErrorContextCallback context;
	context.callback = ServerErrorContext;
	context.arg = server;
	context.previous = error_context_stack;
	error_context_stack = &context;
	FdwApi api = LoadFdwApi();
	UserMapping *user = GetUserMapping(GetUserId(), server->serverid);
	PgFdwConnState *state = nullptr;
	PgConn *conn = api.get_connection(user, false, &state);
	// A fetch of an asynchronous foreign scan may still be under way on this connection (a
	// search inside a query that scans the shards itself): read it first, as postgres_fdw does.
	if (state != nullptr && state->pendingAreq != nullptr)
		api.process_pending_request(state->pendingAreq);
	api.do_sql_command(conn, sql);
	api.release_connection(conn);
	error_context_stack = context.previous;
}

void
CheckServerOwner(ForeignServer *server)
{
	if (!pg_foreign_server_ownercheck(server->serverid, GetUserId()))
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
		                errmsg("must be owner of foreign server %s to run commands on it", server->servername)));
}

struct Leaf {
	Oid relid;
	Oid serverid; // InvalidOid: a local partition
};

// The leaf partitions of a partitioned table (locked AccessShare), each readable by the user.
List *
LeafPartitions(Oid parent)
{
	if (get_rel_relkind(parent) != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
		                errmsg("\"%s\" is not a partitioned table", get_rel_name(parent))));
	List *all = find_all_inheritors(parent, AccessShareLock, nullptr);
	List *leaves = NIL;
	ListCell *lc;
	foreach (lc, all) {
		Oid relid = lfirst_oid(lc);
		char kind = get_rel_relkind(relid);
		if (kind == RELKIND_PARTITIONED_TABLE)
			continue;
		// Checked before any shard is contacted on the user's behalf.
		if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			aclcheck_error(ACLCHECK_NO_PRIV, get_relkind_objtype(kind), get_rel_name(relid));
		auto *leaf = static_cast<Leaf *>(palloc(sizeof(Leaf)));
		leaf->relid = relid;
		leaf->serverid = kind == RELKIND_FOREIGN_TABLE ? GetForeignTable(relid)->serverid : InvalidOid;
		leaves = lappend(leaves, leaf);
	}
	return leaves;
}

// The servers behind the leaves, each once, checked.
List *
ShardServers(List *leaves)
{
	List *servers = NIL;
	ListCell *lc;
	foreach (lc, leaves) {
		auto *leaf = static_cast<Leaf *>(lfirst(lc));
		if (OidIsValid(leaf->serverid) && !list_member_oid(servers, leaf->serverid)) {
			CheckShardServer(leaf->serverid);
			servers = lappend_oid(servers, leaf->serverid);
		}
	}
	return servers;
}

// "SET name = 'value'; ..." for the forwarded settings this session has.
// local: SET LOCAL, for the remote transaction only (a search); else SET, for the session.
char *
SettingsCommand(bool local)
{
	StringInfoData sql;
	initStringInfo(&sql);
	for (const char *name : kForwardedSettings) {
		const char *value = GetConfigOptionByName(name, nullptr, true);
		if (value != nullptr)
			appendStringInfo(&sql, "SET %s%s = %s; ", local ? "LOCAL " : "", name, quote_literal_cstr(value));
	}
	return sql.data;
}

char *
PushSettings(List *servers, bool local)
{
	char *command = SettingsCommand(local);
	ListCell *lc;
	foreach (lc, servers)
		RunOnServer(GetForeignServer(lfirst_oid(lc)), command);
	return command;
}

// schema.table of the remote table behind a foreign table (postgres_fdw's defaults: the
// foreign table's own schema and name).
char *
RemoteTableName(Oid relid)
{
	const char *schema = get_namespace_name(get_rel_namespace(relid));
	const char *table = get_rel_name(relid);
	ListCell *lc;
	foreach (lc, GetForeignTable(relid)->options) {
		auto *def = static_cast<DefElem *>(lfirst(lc));
		if (strcmp(def->defname, "schema_name") == 0)
			schema = defGetString(def);
		else if (strcmp(def->defname, "table_name") == 0)
			table = defGetString(def);
	}
	return quote_qualified_identifier(schema, table);
}

// Quiver's schema: that of the SQL function being called.
const char *
QuiverSchema(FunctionCallInfo fcinfo)
{
	return get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid));
}

// The relation's columns, comma-separated: names ("a, b"), or definitions for CREATE TABLE with
// every type schema-qualified ("a pg_catalog.int4 NOT NULL, b public.vector(3)"), since the
// remote session's search_path is pg_catalog.
char *
ColumnList(Relation rel, bool definitions)
{
	StringInfoData cols;
	initStringInfo(&cols);
	TupleDesc desc = RelationGetDescr(rel);
	for (int i = 0; i < desc->natts; i++) {
		Form_pg_attribute att = TupleDescAttr(desc, i);
		if (att->attisdropped)
			continue;
		appendStringInfo(&cols, "%s%s", cols.len > 0 ? ", " : "", quote_identifier(NameStr(att->attname)));
		if (!definitions)
			continue;
		appendStringInfo(&cols, " %s",
		                 format_type_extended(att->atttypid, att->atttypmod,
		                                      FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY));
		// Filters and sorts pushed to a shard must compare text as here.
		if (OidIsValid(att->attcollation) && att->attcollation != get_typcollation(att->atttypid))
			appendStringInfo(&cols, " COLLATE %s", generate_collation_name(att->attcollation));
		if (att->attnotnull)
			appendStringInfoString(&cols, " NOT NULL");
	}
	return cols.data;
}

// The top-k query over a partitioned table: see the header comment.
char *
ShardedQuery(FunctionCallInfo fcinfo, Oid parent, const char *column, const char *op, int k, const char *filter, List **leaves_out)
{
	bool known_op = false;
	for (const char *candidate : kDistanceOperators)
		known_op = known_op || strcmp(candidate, op) == 0;
	if (!known_op)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("\"%s\" is not a distance operator", op),
		                errhint("Use one of <->, <#>, <=>, <+>, <~>, <%%>.")));
	if (k < 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("k must be at least 1")));

	List *leaves = LeafPartitions(parent);
	// The subqueries name the partitions, and PostgreSQL applies the policies of the table a
	// query names: the parent's would silently not apply.
	if (check_enable_rls(parent, InvalidOid, true) == RLS_ENABLED)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("a sharded search would bypass the row-level security policies of \"%s\"",
		                       get_rel_name(parent)),
		                errhint("Query the table itself, or enforce the policies on the shards.")));
	if (leaves == NIL)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
		                errmsg("partitioned table \"%s\" has no partitions", get_rel_name(parent))));

	Relation rel = table_open(parent, AccessShareLock);
	AttrNumber attnum = get_attnum(parent, column);
	if (attnum == InvalidAttrNumber || attnum < 0)
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
		                errmsg("column \"%s\" of relation \"%s\" does not exist", column, RelationGetRelationName(rel))));
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	char *type = format_type_extended(att->atttypid, att->atttypmod,
	                                  FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY);
	char *cols = ColumnList(rel, false);
	table_close(rel, AccessShareLock);

	// Everything is schema-qualified: the caller's search_path decides nothing but the filter.
	StringInfoData distance;
	initStringInfo(&distance);
	appendStringInfo(&distance, "%s OPERATOR(%s.%s) CAST($1 AS %s)", quote_identifier(column),
	                 quote_identifier(QuiverSchema(fcinfo)), op, type);

	StringInfoData sql;
	initStringInfo(&sql);
	appendStringInfoString(&sql, "WITH shard_rows AS MATERIALIZED (");
	ListCell *lc;
	foreach (lc, leaves) {
		auto *leaf = static_cast<Leaf *>(lfirst(lc));
		appendStringInfo(&sql, "%s(SELECT %s, %s AS \"quiver distance\" FROM ONLY %s", foreach_current_index(lc) > 0 ? " UNION ALL " : "",
		                 cols, distance.data,
		                 quote_qualified_identifier(get_namespace_name(get_rel_namespace(leaf->relid)),
		                                            get_rel_name(leaf->relid)));
		if (filter != nullptr)
			appendStringInfo(&sql, " WHERE (%s)", filter);
		appendStringInfo(&sql, " ORDER BY %s LIMIT %d)", distance.data, k);
	}
	appendStringInfo(&sql, ") SELECT %s FROM shard_rows ORDER BY \"quiver distance\" LIMIT %d", cols, k);
	if (leaves_out != nullptr)
		*leaves_out = leaves;
	return sql.data;
}

// Plans of recent sharded searches, kept across calls: planning the per-shard UNION costs about
// as much as a shard's search. PostgreSQL's plan cache replans them when a partition, a foreign
// table or the search_path changes; a changed set of partitions changes the SQL itself.
struct CachedSearch {
	char *sql; // in TopMemoryContext; nullptr: a free slot
	Oid argtype;
	SPIPlanPtr plan;
	uint64 last_use;
	// Searches running this plan: a filter may call another search, which must not free a plan
	// its caller is still executing.
	int active;
};
constexpr int kCachedSearches = 16;
CachedSearch cached_searches[kCachedSearches];
uint64 search_clock = 0;

void
ReleaseSearch(void *arg)
{
	static_cast<CachedSearch *>(arg)->active--;
}

// Marks the plan in use until the current (SPI) memory context goes, whether the search ends
// or fails.
SPIPlanPtr
UseSearch(CachedSearch *entry)
{
	auto *cb = static_cast<MemoryContextCallback *>(palloc(sizeof(MemoryContextCallback)));
	cb->func = ReleaseSearch;
	cb->arg = entry;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	entry->active++;
	entry->last_use = ++search_clock;
	return entry->plan;
}

// The plan of `sql` with one parameter of `argtype`: a kept one, prepared on first use, or when
// every slot is in use, one for this call only. Inside SPI.
SPIPlanPtr
SearchPlan(const char *sql, Oid argtype)
{
	CachedSearch *slot = nullptr; // a free slot, else the least recently used idle one
	for (CachedSearch &entry : cached_searches) {
		if (entry.sql != nullptr && entry.argtype == argtype && strcmp(entry.sql, sql) == 0)
			return UseSearch(&entry);
		if (entry.active == 0 &&
		    (slot == nullptr || (slot->sql != nullptr && (entry.sql == nullptr || entry.last_use < slot->last_use))))
			slot = &entry;
	}
	SPIPlanPtr plan = SPI_prepare(sql, 1, &argtype);
	if (plan == nullptr)
		elog(ERROR, "could not prepare the sharded search: %s", SPI_result_code_string(SPI_result));
	if (slot == nullptr)
		return plan;
	// Only a plan that prepared without error takes (and frees) a slot.
	if (slot->sql != nullptr) {
		SPI_freeplan(slot->plan);
		pfree(slot->sql);
		slot->sql = nullptr;
	}
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep the sharded search plan");
	slot->plan = plan;
	slot->argtype = argtype;
	slot->sql = MemoryContextStrdup(TopMemoryContext, sql);
	return UseSearch(slot);
}

char *
TextArgOrNull(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

} // namespace

} // namespace quiver::pg::shard

using namespace quiver::pg::shard;

// quiver_sharded_query(parent regclass, column_name name, operator text, k int, filter text)
QUIVER_FUNCTION(quiver_sharded_query)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_NULL();
	char *sql = ShardedQuery(fcinfo, PG_GETARG_OID(0), NameStr(*PG_GETARG_NAME(1)), TextArgOrNull(fcinfo, 2),
	                         PG_GETARG_INT32(3), TextArgOrNull(fcinfo, 4), nullptr);
	PG_RETURN_TEXT_P(cstring_to_text(sql));
}

// quiver_sharded_search(rowtype anyelement, column_name name, operator text, query anycompatible,
//                       k int, filter text) RETURNS SETOF anyelement
QUIVER_FUNCTION(quiver_sharded_search)
{
	Oid rowtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	Oid parent = OidIsValid(rowtype) ? get_typ_typrelid(rowtype) : InvalidOid;
	if (!OidIsValid(parent))
		ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
		                errmsg("the first argument must be a row of the partitioned table, such as NULL::items")));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(4))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
		                errmsg("column name, operator and k must not be null")));
	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(3))
		return static_cast<Datum>(0); // a NULL query is near nothing
	List *leaves = NIL;
	char *sql = ShardedQuery(fcinfo, parent, NameStr(*PG_GETARG_NAME(1)), TextArgOrNull(fcinfo, 2), PG_GETARG_INT32(4),
	                         TextArgOrNull(fcinfo, 5), &leaves);
	PushSettings(ShardServers(leaves), true);

	auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	Datum args[1] = {PG_GETARG_DATUM(3)};
	char nulls[1] = {' '};
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	int rc = SPI_execute_plan(SearchPlan(sql, get_fn_expr_argtype(fcinfo->flinfo, 3)), args, nulls, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "sharded search failed: %s", SPI_result_code_string(rc));
	// The query returns the live columns; the row type also has the dropped ones (as nulls).
	TupleDesc out = rsinfo->setDesc;
	TupleDesc in = SPI_tuptable->tupdesc;
	auto *in_values = static_cast<Datum *>(palloc(sizeof(Datum) * static_cast<std::size_t>(in->natts)));
	auto *in_nulls = static_cast<bool *>(palloc(sizeof(bool) * static_cast<std::size_t>(in->natts)));
	auto *out_values = static_cast<Datum *>(palloc0(sizeof(Datum) * static_cast<std::size_t>(out->natts)));
	auto *out_nulls = static_cast<bool *>(palloc(sizeof(bool) * static_cast<std::size_t>(out->natts)));
	for (uint64 i = 0; i < SPI_processed; i++) {
		heap_deform_tuple(SPI_tuptable->vals[i], in, in_values, in_nulls);
		int next = 0;
		for (int a = 0; a < out->natts; a++) {
			bool dropped = TupleDescAttr(out, a)->attisdropped || next >= in->natts;
			out_values[a] = dropped ? static_cast<Datum>(0) : in_values[next];
			out_nulls[a] = dropped ? true : in_nulls[next];
			next += dropped ? 0 : 1;
		}
		tuplestore_putvalues(rsinfo->setResult, out, out_values, out_nulls);
	}
	SPI_finish();
	return static_cast<Datum>(0);
}

// quiver_shard_settings(parent regclass) RETURNS text: sends this session's search settings to
// every shard server of the table; returns the command sent.
QUIVER_FUNCTION(quiver_shard_settings)
{
	List *servers = ShardServers(LeafPartitions(PG_GETARG_OID(0)));
	PG_RETURN_TEXT_P(cstring_to_text(PushSettings(servers, false)));
}

// quiver_shards_execute(parent regclass, command text) RETURNS int: runs the command on every
// shard server, with {table} replaced by the shard's remote table; returns the shards reached.
QUIVER_FUNCTION(quiver_shards_execute)
{
	Oid parent = PG_GETARG_OID(0);
	char *command = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!pg_class_ownercheck(parent, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(parent));
	List *leaves = LeafPartitions(parent);
	const char *schema = quote_identifier(QuiverSchema(fcinfo));
	int reached = 0;
	ListCell *lc;
	foreach (lc, leaves) {
		auto *leaf = static_cast<Leaf *>(lfirst(lc));
		if (!OidIsValid(leaf->serverid))
			continue;
		ForeignServer *server = CheckShardServer(leaf->serverid);
		CheckServerOwner(server);
		const char *table = RemoteTableName(leaf->relid);
		StringInfoData sql;
		initStringInfo(&sql);
		// postgres_fdw's sessions run with search_path = pg_catalog; the command may name
		// Quiver's operator classes unqualified (after pg_catalog: nothing shadows built-ins).
		appendStringInfo(&sql, "SET LOCAL search_path = pg_catalog, %s; ", schema);
		for (const char *p = command; *p != '\0';) {
			if (strncmp(p, "{table}", 7) == 0) {
				appendStringInfoString(&sql, table);
				p += 7;
			} else {
				appendStringInfoChar(&sql, *p++);
			}
		}
		appendStringInfoString(&sql, "; SET LOCAL search_path = pg_catalog");
		RunOnServer(server, sql.data);
		reached++;
	}
	PG_RETURN_INT32(reached);
}

// quiver_create_shards(parent regclass, servers name[]) RETURNS int: for an empty table
// partitioned by hash, creates Quiver and a table of the same columns on every server, and one
// foreign partition per server (modulus = number of servers).
QUIVER_FUNCTION(quiver_create_shards)
{
	Oid parent = PG_GETARG_OID(0);
	ArrayType *names = PG_GETARG_ARRAYTYPE_P(1);
	if (!pg_class_ownercheck(parent, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(parent));
	Relation rel = table_open(parent, AccessExclusiveLock);
	if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE ||
	    RelationGetPartitionKey(rel)->strategy != PARTITION_STRATEGY_HASH)
		ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
		                errmsg("\"%s\" is not a table partitioned by hash", RelationGetRelationName(rel))));
	if (find_inheritance_children(parent, NoLock) != NIL)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
		                errmsg("\"%s\" already has partitions", RelationGetRelationName(rel))));

	Datum *elems;
	bool *elem_nulls;
	int n;
	deconstruct_array(names, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR, &elems, &elem_nulls, &n);
	if (n < 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("at least one server is needed")));
	List *servers = NIL;
	for (int i = 0; i < n; i++) {
		if (elem_nulls[i])
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("server names must not be null")));
		ForeignServer *server = GetForeignServerByName(NameStr(*DatumGetName(elems[i])), false);
		CheckShardServer(server->serverid);
		CheckServerOwner(server);
		if (list_member_oid(servers, server->serverid))
			ereport(ERROR, (errcode(ERRCODE_DUPLICATE_OBJECT),
			                errmsg("server \"%s\" is listed twice", server->servername)));
		servers = lappend_oid(servers, server->serverid);
	}

	// Defaults, generated columns and constraints stay on this side: the coordinator computes
	// them before a row is routed to its shard.
	char *cols = ColumnList(rel, true);
	const char *rel_schema = get_namespace_name(RelationGetNamespace(rel));
	const char *rel_name = pstrdup(RelationGetRelationName(rel)); // outlives the relcache entry
	const char *ext_schema = QuiverSchema(fcinfo);
	table_close(rel, NoLock);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	int i = 0;
	ListCell *lc;
	foreach (lc, servers) {
		ForeignServer *server = GetForeignServer(lfirst_oid(lc));
		StringInfoData remote;
		initStringInfo(&remote);
		appendStringInfo(&remote,
		                 "CREATE SCHEMA IF NOT EXISTS %s; CREATE EXTENSION IF NOT EXISTS quiver SCHEMA %s; "
		                 "CREATE SCHEMA IF NOT EXISTS %s; CREATE TABLE %s (%s)",
		                 quote_identifier(ext_schema), quote_identifier(ext_schema), quote_identifier(rel_schema),
		                 quote_qualified_identifier(rel_schema, rel_name), cols);
		RunOnServer(server, remote.data);

		char *partition = psprintf("%s_shard%d", rel_name, i);
		if (strlen(partition) >= NAMEDATALEN)
			ereport(ERROR, (errcode(ERRCODE_NAME_TOO_LONG),
			                errmsg("partition name \"%s\" would be longer than %d bytes", partition, NAMEDATALEN - 1),
			                errhint("Use a shorter table name.")));
		StringInfoData local;
		initStringInfo(&local);
		appendStringInfo(&local,
		                 "CREATE FOREIGN TABLE %s PARTITION OF %s FOR VALUES WITH (MODULUS %d, REMAINDER %d) "
		                 "SERVER %s OPTIONS (schema_name %s, table_name %s)",
		                 quote_qualified_identifier(rel_schema, partition), quote_qualified_identifier(rel_schema, rel_name),
		                 n, i, quote_identifier(server->servername), quote_literal_cstr(rel_schema),
		                 quote_literal_cstr(rel_name));
		int rc = SPI_execute(local.data, false, 0);
		if (rc != SPI_OK_UTILITY)
			elog(ERROR, "could not create partition %s: %s", partition, SPI_result_code_string(rc));
		i++;
	}
	SPI_finish();
	PG_RETURN_INT32(n);
}
