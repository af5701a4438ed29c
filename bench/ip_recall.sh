#!/usr/bin/env bash
# Inner-product recall of the hnsw index on pgvector's TAP data (products of uniform randoms):
# for each seed, 10,000 rows and 50 queries as pgvector's 012/024/028 tests make them, exact
# top-k by a sequential scan, then the index built with 1 and with 2 threads and recall@k of
# its answers. Prints figures; asserts nothing.
#
#   bench/ip_recall.sh [DIMS [TYPE [SEEDS]]]   as root, the cluster on port 5432 running
#       DIMS   3 (TAP 012/028: random() * random()) or more (TAP 024: 2 * random() * random())
#       TYPE   vector, halfvec or sparsevec (default: halfvec for more than 3 dims, else sparsevec)
#       SEEDS  setseed() values (default "0.1 0.2 0.3 0.4 0.5")
#   DB (default postgres), EF (hnsw.ef_search, default 40), K (default 20) in the environment.
set -euo pipefail
DIMS=${1:-10}
TYPE=${2:-$([ "$DIMS" -gt 3 ] && echo halfvec || echo sparsevec)}
SEEDS=${3:-0.1 0.2 0.3 0.4 0.5}
DB=${DB:-postgres}
EF=${EF:-40}
K=${K:-20}
if [ "$DIMS" -gt 3 ]; then FACTOR='2 * '; else FACTOR=''; fi
row=$(for _ in $(seq "$DIMS"); do printf '%srandom() * random(),' "$FACTOR"; done)
query=$(for _ in $(seq "$DIMS"); do printf 'random(),'; done)
psql_db() { runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

psql_db -c 'CREATE EXTENSION IF NOT EXISTS quiver' 2>/dev/null
for seed in $SEEDS; do
	psql_db <<SQL
SET client_min_messages = warning;
\o /dev/null
SELECT setseed($seed);
\o
DROP TABLE IF EXISTS ipr_rows, ipr_queries, ipr_truth;
CREATE TABLE ipr_rows (i int4, v $TYPE($DIMS));
INSERT INTO ipr_rows SELECT i, ARRAY[${row%,}]::vector::$TYPE FROM generate_series(1, 10000) i;
CREATE TABLE ipr_queries AS SELECT j, ARRAY[${query%,}]::vector::$TYPE($DIMS) AS v FROM generate_series(1, 50) j;
CREATE TABLE ipr_truth AS SELECT q.j, t.i FROM ipr_queries q,
	LATERAL (SELECT i FROM ipr_rows r ORDER BY r.v <#> q.v LIMIT $K) t;
SQL
	line="seed $seed:"
	for threads in 1 2; do
		recall=$(psql_db <<SQL
SET max_parallel_maintenance_workers = $((threads - 1));
CREATE INDEX ipr_idx ON ipr_rows USING hnsw (v ${TYPE}_ip_ops);
SET enable_seqscan = off;
SET hnsw.ef_search = $EF;
SELECT round(count(*)::numeric / (50 * $K), 4) FROM
	(SELECT q.j, a.i FROM ipr_queries q, LATERAL (SELECT i FROM ipr_rows r ORDER BY r.v <#> q.v LIMIT $K) a) a
	JOIN ipr_truth t ON t.j = a.j AND t.i = a.i;
DROP INDEX ipr_idx;
SQL
)
		line="$line $threads thread(s) $recall"
	done
	echo "$DIMS-d $TYPE, ef_search $EF, recall@$K, $line"
done
psql_db -c 'DROP TABLE IF EXISTS ipr_rows, ipr_queries, ipr_truth'
