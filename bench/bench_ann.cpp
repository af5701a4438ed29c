// End-to-end ANN benchmark against a running PostgreSQL server, through libpq.
//
// Loads a TEXMEX dataset (base.fvecs, query.fvecs, gt.ivecs; see shared/data/README.md) into
// a table, builds an index, and prints for each search setting: recall@10 against the exact
// ground truth, QPS with one client and with N clients, p50 and p99 latency; plus build
// seconds and index size. The extension is chosen with --ext, so Quiver and pgvector (same
// SQL names) can be measured side by side in two databases of one server.
//
//   bench_ann --dataset DIR --metric l2|cosine|ip [--ext quiver] [--index hnsw|ivfflat] [--m 16]
//             [--ef-construction 64] [--ef 10,20,40,80,160] [--rows N] [--queries Q]
//             [--lists 1000] [--probes 1,5,10,20,40]   (ivfflat: lists, and the probes swept)
//             [--quantizer sq8]  (ivfflat: sq8 or pq compressed lists; hnsw: half or sq8; Quiver only)
//             [--project D]      rows and queries multiplied by a fixed random Gaussian matrix
//                                (D x dims, seed 42) into D dimensions, ground truth recomputed:
//                                wide vectors with the neighbourhoods of a real dataset
//             [--clients C] [--conninfo "dbname=bench"] [--keep]
//             [--build-setup "SET maintenance_work_mem = '64MB'"]   (SQL run before CREATE INDEX)
//             [--delete-pct P]   then delete P% of the rows (id % 100 < P), VACUUM (timed), measure
//                                again, and compare with a fresh index on the remaining rows
//             [--type vector|halfvec]  column type (halfvec: the halfvec_* opclasses)
//             [--reuse]          keep an existing bench_items table and index (no load, no build)
//             [--search-sql SQL] the k-NN statement ({op}, {type} and $1, the query, are filled
//                                in); default SELECT id FROM bench_items ORDER BY v {op} $1::{type} LIMIT 10.
//                                bench/sharding.sh passes a quiver_sharded_search call
//             [--inserts N]      then time inserting N more rows (each the midpoint of two base
//                                rows, one per statement) into the live index, with one client
//                                and with --clients
// Besides the client-side QPS (round trips included), each ef_search setting is also timed inside
// the server: all queries in one statement through LATERAL, so the figure is the index's own cost.
// Prints figures; asserts nothing.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <libpq-fe.h>

namespace {

struct Matrix {
	std::size_t rows = 0;
	std::size_t dim = 0;
	std::vector<float> data;
};

Matrix
ReadVecs(const std::string &path, std::size_t limit, bool ints)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error("cannot open " + path);
	Matrix m;
	std::vector<char> buf;
	while (m.rows < limit) {
		std::int32_t d;
		if (!in.read(reinterpret_cast<char *>(&d), 4))
			break;
		if (m.dim == 0)
			m.dim = static_cast<std::size_t>(d);
		buf.resize(static_cast<std::size_t>(d) * 4);
		in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
		for (std::size_t i = 0; i < static_cast<std::size_t>(d); i++) {
			float v;
			if (ints) {
				std::int32_t x;
				std::memcpy(&x, buf.data() + 4 * i, 4);
				v = static_cast<float>(x);
			} else {
				std::memcpy(&v, buf.data() + 4 * i, 4);
			}
			m.data.push_back(v);
		}
		m.rows++;
	}
	return m;
}

std::string
VectorText(const float *v, std::size_t dim)
{
	std::string s = "[";
	char num[32];
	for (std::size_t i = 0; i < dim; i++) {
		std::snprintf(num, sizeof num, i ? ",%.9g" : "%.9g", static_cast<double>(v[i]));
		s += num;
	}
	return s + "]";
}

PGconn *
Connect(const std::string &conninfo)
{
	PGconn *c = PQconnectdb(conninfo.c_str());
	if (PQstatus(c) != CONNECTION_OK)
		throw std::runtime_error(std::string("connect: ") + PQerrorMessage(c));
	return c;
}

void
Exec(PGconn *c, const std::string &sql)
{
	PGresult *r = PQexec(c, sql.c_str());
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		std::string err = PQerrorMessage(c);
		PQclear(r);
		throw std::runtime_error(sql.substr(0, 80) + ": " + err);
	}
	PQclear(r);
}

std::string
Scalar(PGconn *c, const std::string &sql)
{
	PGresult *r = PQexec(c, sql.c_str());
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		std::string err = PQerrorMessage(c);
		PQclear(r);
		throw std::runtime_error(err);
	}
	std::string v = PQgetvalue(r, 0, 0);
	PQclear(r);
	return v;
}

// COPY rows (i, vector i) of m into table, in chunks of about 1 MiB.
void
CopyVectors(PGconn *c, const std::string &table, const Matrix &m)
{
	PGresult *r = PQexec(c, ("COPY " + table + " FROM STDIN").c_str());
	PQclear(r);
	std::string chunk;
	for (std::size_t i = 0; i < m.rows; i++) {
		chunk += std::to_string(i) + "\t" + VectorText(&m.data[i * m.dim], m.dim) + "\n";
		if (chunk.size() > (1 << 20) || i + 1 == m.rows) {
			PQputCopyData(c, chunk.data(), static_cast<int>(chunk.size()));
			chunk.clear();
		}
	}
	PQputCopyEnd(c, nullptr);
	r = PQgetResult(c);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		throw std::runtime_error(PQerrorMessage(c));
	PQclear(r);
}

double
Now()
{
	return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct RunResult {
	std::vector<double> latencies;
	std::size_t hits = 0;
};

// The k-NN statement: `search_sql` with {op} and {type} filled in, and $1 replaced by `query`.
std::string
SearchSql(std::string sql, const std::string &op, const std::string &type, const std::string &query)
{
	for (auto [key, value] : {std::pair<std::string, std::string>{"{op}", op}, {"{type}", type}, {"$1", query}}) {
		for (std::size_t at = sql.find(key); at != std::string::npos; at = sql.find(key, at + value.size()))
			sql.replace(at, key.size(), value);
	}
	return sql;
}

void
RunQueries(const std::string &conninfo, const std::string &setup, const std::vector<std::string> &queries,
           const Matrix &gt, std::size_t begin, std::size_t end, const std::string &search_sql, RunResult *out)
{
	PGconn *c = Connect(conninfo);
	Exec(c, setup);
	std::string sql = search_sql;
	PGresult *p = PQprepare(c, "knn", sql.c_str(), 1, nullptr);
	bool prepared = PQresultStatus(p) == PGRES_COMMAND_OK;
	PQclear(p);
	if (!prepared) // e.g. --reuse without a bench_items table (a run without --keep drops it)
		throw std::runtime_error(std::string("preparing the search: ") + PQerrorMessage(c));
	for (std::size_t q = begin; q < end; q++) {
		const char *param = queries[q].c_str();
		double t0 = Now();
		PGresult *r = PQexecPrepared(c, "knn", 1, &param, nullptr, nullptr, 0);
		double t1 = Now();
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			throw std::runtime_error(PQerrorMessage(c));
		out->latencies.push_back(t1 - t0);
		for (int i = 0; i < PQntuples(r); i++) {
			int id = std::atoi(PQgetvalue(r, i, 0));
			for (std::size_t k = 0; k < 10; k++) {
				if (static_cast<int>(gt.data[q * gt.dim + k]) == id) {
					out->hits++;
					break;
				}
			}
		}
		PQclear(r);
	}
	PQfinish(c);
}

} // namespace

int
main(int argc, char **argv)
{
	std::string dataset, metric = "l2", ext = "quiver", index = "hnsw", conninfo = "dbname=postgres", efs = "10,20,40,80,160";
	std::string build_setup = "SET maintenance_work_mem = '4GB'";
	std::size_t rows = SIZE_MAX, nqueries = 1000;
	int delete_pct = 0;
	std::size_t inserts = 0;
	bool reuse = false;
	std::string search_template = "SELECT id FROM bench_items ORDER BY v {op} $1::{type} LIMIT 10";
	std::string type = "vector";
	std::string quantizer;
	std::size_t project = 0;
	int m = 16, efc = 64, clients = 2, lists = 1000;
	bool keep = false;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		auto next = [&]() -> std::string {
			if (i + 1 >= argc)
				throw std::runtime_error("missing value for " + a);
			return argv[++i];
		};
		if (a == "--dataset") dataset = next();
		else if (a == "--metric") metric = next();
		else if (a == "--ext") ext = next();
		else if (a == "--index") index = next();
		else if (a == "--m") m = std::stoi(next());
		else if (a == "--ef-construction") efc = std::stoi(next());
		else if (a == "--ef") efs = next();
		else if (a == "--rows") rows = std::stoul(next());
		else if (a == "--queries") nqueries = std::stoul(next());
		else if (a == "--clients") clients = std::stoi(next());
		else if (a == "--conninfo") conninfo = next();
		else if (a == "--keep") keep = true;
		else if (a == "--build-setup") build_setup = next();
		else if (a == "--delete-pct") delete_pct = std::stoi(next());
		else if (a == "--reuse") reuse = true;
		else if (a == "--type") type = next();
		else if (a == "--inserts") inserts = std::stoul(next());
		else if (a == "--lists") lists = std::stoi(next());
		else if (a == "--probes") efs = next();
		else if (a == "--quantizer") quantizer = next();
		else if (a == "--project") project = std::stoul(next());
		else if (a == "--search-sql") search_template = next();
		else throw std::runtime_error("unknown option " + a);
	}
	if (dataset.empty()) {
		std::fprintf(stderr, "usage: bench_ann --dataset DIR --metric l2|cosine|ip [options]\n");
		return 2;
	}

	Matrix base = ReadVecs(dataset + "/base.fvecs", rows, false);
	Matrix query = ReadVecs(dataset + "/query.fvecs", nqueries, false);
	Matrix gt = ReadVecs(dataset + "/gt.ivecs", nqueries, true);
	if (project > 0) {
		std::fprintf(stderr, "projecting %zu rows into %zu dimensions...\n", base.rows, project);
		std::mt19937 rng(42);
		std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt(static_cast<float>(project)));
		std::vector<float> p(project * base.dim);
		for (float &x : p)
			x = normal(rng);
		auto apply = [&](Matrix &mat) {
			std::vector<float> out(mat.rows * project);
			for (std::size_t r = 0; r < mat.rows; r++)
				for (std::size_t i = 0; i < project; i++) {
					float s = 0;
					for (std::size_t k = 0; k < mat.dim; k++)
						s += p[i * mat.dim + k] * mat.data[r * mat.dim + k];
					out[r * project + i] = s;
				}
			mat.data.swap(out);
			mat.dim = project;
		};
		apply(base);
		apply(query);
	}
	// Inner product has no ground truth in the datasets: always computed here.
	if (metric == "ip" || project > 0 || (rows != SIZE_MAX && rows < 1000000)) {
		// A subset of the base has its own ground truth: compute it exactly here.
		std::fprintf(stderr, "computing exact ground truth for %zu rows...\n", base.rows);
		gt.dim = 10;
		gt.data.assign(query.rows * 10, 0);
		for (std::size_t q = 0; q < query.rows; q++) {
			std::vector<std::pair<double, std::size_t>> d(base.rows);
			const float *qv = &query.data[q * query.dim];
			for (std::size_t b = 0; b < base.rows; b++) {
				const float *bv = &base.data[b * base.dim];
				double s = 0, na = 0, nb = 0;
				for (std::size_t k = 0; k < base.dim; k++) {
					if (metric == "l2")
						s += (qv[k] - bv[k]) * static_cast<double>(qv[k] - bv[k]);
					else {
						s += static_cast<double>(qv[k]) * bv[k];
						na += static_cast<double>(qv[k]) * qv[k];
						nb += static_cast<double>(bv[k]) * bv[k];
					}
				}
				d[b] = {metric == "l2" ? s : metric == "ip" ? -s : 1 - s / std::sqrt(na * nb), b};
			}
			std::partial_sort(d.begin(), d.begin() + 10, d.end());
			for (std::size_t k = 0; k < 10; k++)
				gt.data[q * 10 + k] = static_cast<float>(d[k].second);
		}
	}
	std::string op = metric == "l2" ? "<->" : metric == "ip" ? "<#>" : "<=>";
	const bool ivf = index == "ivfflat";
	if (ivf && efs == "10,20,40,80,160")
		efs = "1,5,10,20,40";
	const std::string index_options =
	    ivf ? "lists = " + std::to_string(lists) + (quantizer.empty() ? "" : ", quantizer = '" + quantizer + "'")
	        : "m = " + std::to_string(m) + ", ef_construction = " + std::to_string(efc) +
	              (quantizer.empty() ? "" : ", quantizer = '" + quantizer + "'");
	const std::string search_setting = ivf ? "ivfflat.probes" : "hnsw.ef_search";
	std::string opclass = type + (metric == "l2" ? "_l2_ops" : metric == "ip" ? "_ip_ops" : "_cosine_ops");

	PGconn *c = Connect(conninfo);
	Exec(c, "SET client_min_messages = warning");
	Exec(c, "CREATE EXTENSION IF NOT EXISTS " + ext);
	std::string version = Scalar(c, "SELECT extversion FROM pg_extension WHERE extname = '" + ext + "'");
	double load_s = 0, build_s = 0, t0 = 0;
	if (!reuse) {
		Exec(c, "DROP TABLE IF EXISTS bench_items");
		Exec(c, "CREATE TABLE bench_items (id int, v " + type + "(" + std::to_string(base.dim) + "))");
		t0 = Now();
		CopyVectors(c, "bench_items", base);
		load_s = Now() - t0;
		Exec(c, "VACUUM ANALYZE bench_items");

		Exec(c, build_setup);
		t0 = Now();
		Exec(c, "CREATE INDEX bench_idx ON bench_items USING " + index + " (v " + opclass + ") WITH (" +
		            index_options + ")");
		build_s = Now() - t0;
	}
	// A partitioned table has no bench_idx here (its shards' sizes are reported by the caller).
	double size_mb =
	    std::stod(Scalar(c, "SELECT coalesce(pg_relation_size(to_regclass('bench_idx')), 0)")) / (1024.0 * 1024.0);
	const std::string search_sql = SearchSql(search_template, op, type, "$1");

	std::printf("dataset=%s rows=%zu dim=%zu type=%s metric=%s ext=%s %s index=%s %s\n", dataset.c_str(), base.rows,
	            base.dim, type.c_str(), metric.c_str(), ext.c_str(), version.c_str(), index.c_str(), index_options.c_str());
	std::printf("load_s=%.1f build_s=%.2f index_mb=%.1f\n", load_s, build_s, size_mb);
	std::vector<std::string> queries;
	for (std::size_t q = 0; q < query.rows; q++)
		queries.push_back(VectorText(&query.data[q * query.dim], query.dim));

	Exec(c, "DROP TABLE IF EXISTS bench_queries");
	Exec(c, "CREATE TABLE bench_queries (qid int, v " + type + "(" + std::to_string(query.dim) + "))");
	CopyVectors(c, "bench_queries", query);
	// All queries in one statement: no round trip, parse or plan per query, so this is the
	// index's own cost (plus fetching 10 heap rows per query).
	auto server_seconds = [&](const std::string &ef) {
		PGconn *s = Connect(conninfo);
		Exec(s, "SET enable_seqscan = off; SET " + search_setting + " = " + ef);
		std::string sql = "SELECT count(*) FROM bench_queries q CROSS JOIN LATERAL (" +
		                  SearchSql(search_template, op, type, "q.v") + ") nn";
		Scalar(s, sql); // warm
		double best = 1e30;
		for (int rep = 0; rep < 3; rep++) {
			double s0 = Now();
			Scalar(s, sql);
			best = std::min(best, Now() - s0);
		}
		PQfinish(s);
		return best;
	};

	auto measure = [&](const Matrix &truth) {
		std::printf("%6s %9s %10s %10s %9s %9s %12s\n", ivf ? "probes" : "ef", "recall@10", "qps_1", "qps_n", "p50_ms", "p99_ms",
		            "server_qps");
		std::size_t pos = 0;
		while (pos < efs.size()) {
			std::size_t comma = efs.find(',', pos);
			std::string ef = efs.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
			pos = comma == std::string::npos ? efs.size() : comma + 1;
			std::string setup = "SET enable_seqscan = off; SET " + search_setting + " = " + ef;

			RunResult one;
			double s0 = Now();
			RunQueries(conninfo, setup, queries, truth, 0, queries.size(), search_sql, &one);
			double qps1 = static_cast<double>(queries.size()) / (Now() - s0);

			std::vector<RunResult> parts(static_cast<std::size_t>(clients));
			std::vector<std::thread> threads;
			s0 = Now();
			for (int t = 0; t < clients; t++) {
				std::size_t b = queries.size() * static_cast<std::size_t>(t) / static_cast<std::size_t>(clients);
				std::size_t e = queries.size() * static_cast<std::size_t>(t + 1) / static_cast<std::size_t>(clients);
				threads.emplace_back(RunQueries, conninfo, setup, std::cref(queries), std::cref(truth), b, e, search_sql,
				                     &parts[t]);
			}
			for (auto &t : threads)
				t.join();
			double qpsn = static_cast<double>(queries.size()) / (Now() - s0);

			std::vector<double> lat = one.latencies;
			std::sort(lat.begin(), lat.end());
			double p50 = lat[lat.size() / 2] * 1000, p99 = lat[lat.size() * 99 / 100] * 1000;
			double server_qps = static_cast<double>(queries.size()) / server_seconds(ef);
			std::printf("%6s %9.4f %10.0f %10.0f %9.3f %9.3f %12.0f\n", ef.c_str(),
			            static_cast<double>(one.hits) / static_cast<double>(queries.size() * 10), qps1, qpsn, p50, p99,
			            server_qps);
		}
	};
	measure(gt);

	if (delete_pct > 0) {
		// The ground truth of the remaining rows: the surviving ids among each query's listed
		// neighbours, in order (the files list 100, so 10 survivors are there for P up to ~80).
		Matrix kept;
		kept.rows = gt.rows;
		kept.dim = 10;
		kept.data.assign(gt.rows * 10, -1.0f);
		for (std::size_t q = 0; q < gt.rows; q++) {
			std::size_t k = 0;
			for (std::size_t j = 0; j < gt.dim && k < 10; j++) {
				int id = static_cast<int>(gt.data[q * gt.dim + j]);
				if (id % 100 >= delete_pct)
					kept.data[q * 10 + k++] = static_cast<float>(id);
			}
		}
		Exec(c, "DELETE FROM bench_items WHERE id % 100 < " + std::to_string(delete_pct));
		double v0 = Now();
		Exec(c, "VACUUM bench_items");
		double vacuum_s = Now() - v0;
		double after_mb = std::stod(Scalar(c, "SELECT pg_relation_size('bench_idx')")) / (1024.0 * 1024.0);
		std::printf("deleted %d%% of rows; vacuum_s=%.2f index_mb=%.1f\n", delete_pct, vacuum_s, after_mb);
		measure(kept);

		Exec(c, "DROP INDEX bench_idx");
		Exec(c, build_setup);
		t0 = Now();
		Exec(c, "CREATE INDEX bench_idx ON bench_items USING " + index + " (v " + opclass + ") WITH (" +
		            index_options + ")");
		std::printf("fresh index on the remaining rows: build_s=%.2f\n", Now() - t0);
		measure(kept);
	}
	if (inserts > 0) {
		// Rows inserted one statement at a time into the live index, first by one client, then
		// split over N clients, deleted again afterwards. Each is the midpoint of two base rows:
		// a copy of a row would join that row's node as one more heap TID (Quiver and pgvector
		// both share nodes between equal vectors) and time no graph linking at all.
		std::size_t next_id = static_cast<std::size_t>(std::stoull(Scalar(c, "SELECT max(id) + 1 FROM bench_items")));
		auto insert_range = [&](std::size_t first_id, std::size_t begin, std::size_t end) {
			PGconn *ic = Connect(conninfo);
			PGresult *p = PQprepare(ic, "ins", ("INSERT INTO bench_items VALUES ($1, $2::" + type + ")").c_str(), 2, nullptr);
			PQclear(p);
			std::vector<float> mid(static_cast<std::size_t>(base.dim));
			for (std::size_t i = begin; i < end; i++) {
				std::string id = std::to_string(first_id + i);
				// By id, so that the N-client phase inserts other rows than the 1-client phase
				// (the same ones would join the nodes the first phase made).
				std::size_t j = first_id + i;
				const float *a = &base.data[(j % base.rows) * base.dim];
				const float *b = &base.data[((j * 7919 + 1) % base.rows) * base.dim];
				for (std::size_t d = 0; d < mid.size(); d++)
					mid[d] = 0.5f * (a[d] + b[d]);
				std::string vec = VectorText(mid.data(), base.dim);
				const char *params[2] = {id.c_str(), vec.c_str()};
				PGresult *r = PQexecPrepared(ic, "ins", 2, params, nullptr, nullptr, 0);
				if (PQresultStatus(r) != PGRES_COMMAND_OK)
					throw std::runtime_error(PQerrorMessage(ic));
				PQclear(r);
			}
			PQfinish(ic);
		};
		// Each phase starts right after a checkpoint: the first change to a page after one
		// writes the whole page to WAL, and inserts touch dozens of pages each, so a checkpoint
		// falling inside one phase but not the other decided the figures (342 against 1,318
		// rows/s for the same inserts). Needs a superuser or pg_checkpoint; skipped otherwise.
		auto checkpoint = [&] {
			PGresult *r = PQexec(c, "CHECKPOINT");
			PQclear(r);
		};
		const std::size_t first_inserted = next_id;
		checkpoint();
		double s0 = Now();
		insert_range(next_id, 0, inserts);
		double rate1 = static_cast<double>(inserts) / (Now() - s0);
		next_id += inserts;
		std::vector<std::thread> threads;
		checkpoint();
		s0 = Now();
		for (int t = 0; t < clients; t++) {
			std::size_t b = inserts * static_cast<std::size_t>(t) / static_cast<std::size_t>(clients);
			std::size_t e = inserts * static_cast<std::size_t>(t + 1) / static_cast<std::size_t>(clients);
			threads.emplace_back(insert_range, next_id, b, e);
		}
		for (auto &t : threads)
			t.join();
		double raten = static_cast<double>(inserts) / (Now() - s0);
		std::printf("inserts into the live index: %zu rows, %.0f rows/s with 1 client, %.0f rows/s with %d clients\n",
		            inserts, rate1, raten, clients);
		Exec(c, "DELETE FROM bench_items WHERE id >= " + std::to_string(first_inserted));
		Exec(c, "VACUUM bench_items");
	}
	Exec(c, "DROP TABLE bench_queries");
	if (!keep)
		Exec(c, "DROP TABLE bench_items");
	PQfinish(c);
	return 0;
}
