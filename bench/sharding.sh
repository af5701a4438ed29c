#!/usr/bin/env bash
# Sharded search against one server holding the same rows: recall@10, QPS (1 and N clients),
# p50/p99 latency and the in-server rate, by bench_ann, for
#   - one server (database bench_single of the running cluster, hnsw on all rows), and
#   - a coordinator (database bench_coord) over three shard clusters started here on ports
#     5441..5443, each with an hnsw index on its third, searched with quiver_sharded_search.
# All servers share this machine, so the figures give the fan-out cost per query, not the
# gain of spreading shards over machines. Prints figures; asserts nothing.
#
#   bench/sharding.sh [ROWS [DATASET [METRIC]]]   as root, the cluster on port 5432 running
#                                                 (defaults: 200000, glove-100-angular, cosine)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-200000}
DATASET=${2:-$(cd ../shared/data/glove-100-angular && pwd)}
METRIC=${3:-cosine}
CLIENTS=${CLIENTS:-4}
EFS=${EFS:-40,100}
BIN=$(pg_config --bindir)
BENCH=build/core/bench_ann
OPCLASS=vector_${METRIC}_ops
[ "$METRIC" = cosine ] && OP='<=>' || OP='<->'
[ -x "$BENCH" ] || make bench >/dev/null
as_pg() { runuser -u postgres -- "$@"; }
psql_db() { as_pg psql -X -q -v ON_ERROR_STOP=1 -d "$1" "${@:2}"; }

cleanup() {
	for port in 5441 5442 5443; do
		as_pg "$BIN/pg_ctl" -D "/tmp/quiver-shard-$port" -m immediate stop >/dev/null 2>&1 || true
		rm -rf "/tmp/quiver-shard-$port"
	done
	psql_db postgres -c 'DROP DATABASE IF EXISTS bench_coord' -c 'DROP DATABASE IF EXISTS bench_single' || true
}
cleanup
# KEEP=1 leaves the clusters and databases for more measurements (the next run removes them).
[ "${KEEP:-0}" = 1 ] || trap cleanup EXIT

for port in 5441 5442 5443; do
	as_pg "$BIN/initdb" -D "/tmp/quiver-shard-$port" -A trust >/dev/null
	cat >>"/tmp/quiver-shard-$port/postgresql.conf" <<-EOF
		port = $port
		shared_buffers = '512MB'
		maintenance_work_mem = '1GB'
		jit = off
		unix_socket_directories = '/var/run/postgresql'
	EOF
	as_pg "$BIN/pg_ctl" -D "/tmp/quiver-shard-$port" -l "/tmp/quiver-shard-$port/log" -w start >/dev/null
done
psql_db postgres -c 'CREATE DATABASE bench_single' -c 'CREATE DATABASE bench_coord'

echo "== one server"
as_pg "$BENCH" --dataset "$DATASET" --metric "$METRIC" --rows "$ROWS" --ef "$EFS" --clients "$CLIENTS" \
	--conninfo "dbname=bench_single" --keep

echo "== coordinator and three shards"
DIM=$(psql_db bench_single -Atc "SELECT vector_dims(v) FROM bench_items LIMIT 1")
psql_db bench_coord <<-EOF
	SET client_min_messages = warning;
	CREATE EXTENSION quiver;
	CREATE EXTENSION postgres_fdw;
	CREATE SERVER source FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'bench_single', port '5432', fetch_size '10000');
	CREATE USER MAPPING FOR CURRENT_USER SERVER source;
	CREATE FOREIGN TABLE source_items (id int, v vector($DIM)) SERVER source OPTIONS (table_name 'bench_items');
	CREATE SERVER shard1 FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (port '5441', dbname 'postgres', extensions 'quiver', async_capable 'true', parallel_commit 'true', batch_size '1000');
	CREATE SERVER shard2 FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (port '5442', dbname 'postgres', extensions 'quiver', async_capable 'true', parallel_commit 'true', batch_size '1000');
	CREATE SERVER shard3 FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (port '5443', dbname 'postgres', extensions 'quiver', async_capable 'true', parallel_commit 'true', batch_size '1000');
	CREATE USER MAPPING FOR CURRENT_USER SERVER shard1;
	CREATE USER MAPPING FOR CURRENT_USER SERVER shard2;
	CREATE USER MAPPING FOR CURRENT_USER SERVER shard3;
	CREATE TABLE bench_items (id int NOT NULL, v vector($DIM)) PARTITION BY HASH (id);
	SELECT quiver_create_shards('bench_items', '{shard1,shard2,shard3}');
	\timing on
	INSERT INTO bench_items SELECT id, v FROM source_items;
	\echo shard index builds (one after the other, in one transaction):
	SELECT quiver_shards_execute('bench_items', 'CREATE INDEX bench_idx ON {table} USING hnsw (v $OPCLASS)');
	\timing off
	SELECT quiver_shards_execute('bench_items', 'ANALYZE {table}');
EOF
for port in 5441 5442 5443; do
	as_pg psql -X -Atq -p "$port" -d postgres -c \
		"SELECT 'shard on port $port: ' || count(*) || ' rows, index ' || round(pg_relation_size('bench_idx') / 1048576.0, 1) || ' MB' FROM bench_items"
done
as_pg "$BENCH" --dataset "$DATASET" --metric "$METRIC" --rows "$ROWS" --ef "$EFS" --clients "$CLIENTS" \
	--conninfo "dbname=bench_coord" --reuse --keep \
	--search-sql "SELECT id FROM quiver_sharded_search(NULL::bench_items, 'v', '{op}', \$1::{type}, 10)"
