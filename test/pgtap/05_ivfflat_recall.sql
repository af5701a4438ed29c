-- ivfflat answers agree with exact search: recall@10 above a bound per opclass and probes,
-- exact with every list probed, after inserts into a built index, under filters with
-- iterative scans, after deletes, for halfvec and bit.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION quiver;
SELECT plan(26);

-- 40 clusters of 100 rows in 16 dimensions (IVF's home ground), in random order.
SELECT setseed(0.23);
CREATE TABLE centres AS
SELECT c, ARRAY(SELECT random()::real * 10 FROM generate_series(1, 16) WHERE c >= 0) AS v
FROM generate_series(0, 39) c;
CREATE TABLE items (id int PRIMARY KEY, tenant int NOT NULL, v vector(16));
INSERT INTO items
SELECT i, i % 10, ARRAY(SELECT c.v[k] + (random() - 0.5)::real * 4 FROM generate_series(1, 16) k)::vector(16)
FROM generate_series(1, 4000) i JOIN centres c ON c.c = (i * 7919) % 40;
CREATE TABLE queries AS
SELECT q, ARRAY(SELECT c.v[k] + (random() - 0.5)::real * 4 FROM generate_series(1, 16) k)::vector(16) AS v
FROM generate_series(1, 40) q JOIN centres c ON c.c = q % 40;

-- recall@10 of the current index for an operator, against a sequential scan
CREATE FUNCTION pg_temp.recall(op text, filter text DEFAULT 'true', tbl text DEFAULT 'items', qtbl text DEFAULT 'queries')
RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	hits int := 0;
	total int := 0;
	approx int[];
	exact int[];
	r record;
BEGIN
	FOR r IN EXECUTE format('SELECT q FROM %I', qtbl) LOOP
		SET LOCAL enable_seqscan = off;
		SET LOCAL enable_indexscan = on;
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %I WHERE %s ORDER BY v %s (SELECT v FROM %I WHERE q = $1) LIMIT 10) s',
		               tbl, filter, op, qtbl)
			INTO approx USING r.q;
		SET LOCAL enable_seqscan = on;
		SET LOCAL enable_indexscan = off;
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %I WHERE %s ORDER BY v %s (SELECT v FROM %I WHERE q = $1) LIMIT 10) s',
		               tbl, filter, op, qtbl)
			INTO exact USING r.q;
		total := total + coalesce(array_length(exact, 1), 0);
		hits := hits + (SELECT count(*) FROM unnest(approx) a WHERE a = ANY (exact));
	END LOOP;
	RESET enable_seqscan;
	RESET enable_indexscan;
	RETURN hits::float8 / total;
END $$;

CREATE INDEX items_l2 ON items USING ivfflat (v vector_l2_ops) WITH (lists = 40);
SELECT cmp_ok(pg_temp.recall('<->'), '>=', 0.80::float8, 'L2 recall@10, 1 probe of 40 lists');
SET LOCAL ivfflat.probes = 4;
SELECT cmp_ok(pg_temp.recall('<->'), '>=', 0.97::float8, 'L2 recall@10, 4 probes');
SET LOCAL ivfflat.probes = 40;
SELECT is(pg_temp.recall('<->'), 1::float8, 'L2 results are exact with every list probed');
RESET ivfflat.probes;

-- filters: 10% of the rows pass; iterative scans keep returning k rows
SET LOCAL enable_seqscan = off;
SELECT ok((SELECT count(*) FROM (SELECT id FROM items WHERE tenant = 3 ORDER BY v <-> (SELECT v FROM queries WHERE q = 1) LIMIT 20) s) < 20,
          'without iterative scans one probe leaves fewer than k filtered rows');
SET LOCAL ivfflat.iterative_scan = relaxed_order;
SELECT is((SELECT count(*)::int FROM (SELECT id FROM items WHERE tenant = 3 ORDER BY v <-> (SELECT v FROM queries WHERE q = 1) LIMIT 20) s), 20,
          'relaxed_order returns k rows under a 10% filter');
RESET enable_seqscan;
SET LOCAL ivfflat.probes = 4;
SELECT cmp_ok(pg_temp.recall('<->', 'tenant = 3'), '>=', 0.85::float8, 'filtered recall@10 with relaxed_order');
RESET ivfflat.probes;
RESET ivfflat.iterative_scan;

-- deleted rows are never returned
DELETE FROM items WHERE id % 10 < 3;
SET LOCAL ivfflat.probes = 4;
SELECT cmp_ok(pg_temp.recall('<->'), '>=', 0.95::float8, 'L2 recall@10 after deleting 30%');
SELECT is((SELECT count(*)::int FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM queries WHERE q = 2) LIMIT 50) s WHERE id % 10 < 3), 0,
          'deleted rows are not returned');
RESET ivfflat.probes;
DROP INDEX items_l2;

CREATE INDEX items_cos ON items USING ivfflat (v vector_cosine_ops) WITH (lists = 40);
SET LOCAL ivfflat.probes = 4;
SELECT cmp_ok(pg_temp.recall('<=>'), '>=', 0.95::float8, 'cosine recall@10, 4 probes');
DROP INDEX items_cos;
CREATE INDEX items_ip ON items USING ivfflat (v vector_ip_ops) WITH (lists = 40);
-- Lists group directions, and inner product favours long vectors whatever their direction:
-- the weakest opclass for IVF (measured 0.70 here).
SELECT cmp_ok(pg_temp.recall('<#>'), '>=', 0.65::float8, 'inner product recall@10, 4 probes');
SET LOCAL ivfflat.probes = 40;
SELECT is(pg_temp.recall('<#>'), 1::float8, 'inner product results are exact with every list probed');
RESET ivfflat.probes;
DROP INDEX items_ip;

-- compressed lists (sq8): a fraction of the size (measured with 2 lists: each list has pages
-- of its own, so lists of a page or less cannot shrink), the recall of flat lists
CREATE INDEX items_flat ON items USING ivfflat (v vector_l2_ops) WITH (lists = 2);
CREATE INDEX items_sq8 ON items USING ivfflat (v vector_l2_ops) WITH (lists = 2, quantizer = 'sq8');
SELECT cmp_ok(pg_relation_size('items_sq8')::float8 / pg_relation_size('items_flat'), '<', 0.5::float8,
              'an sq8 index of 16-dimension rows is less than half the flat one');
DROP INDEX items_flat, items_sq8;
CREATE INDEX items_sq8 ON items USING ivfflat (v vector_l2_ops) WITH (lists = 40, quantizer = 'sq8');
SET LOCAL ivfflat.probes = 4;
SELECT cmp_ok(pg_temp.recall('<->'), '>=', 0.95::float8, 'sq8 L2 recall@10, 4 probes');
SET LOCAL ivfflat.probes = 40;
SELECT is(pg_temp.recall('<->'), 1::float8, 'sq8 L2 results are exact with every list probed');
DROP INDEX items_sq8;
CREATE INDEX items_sq8 ON items USING ivfflat (v vector_cosine_ops) WITH (lists = 40, quantizer = 'sq8');
SET LOCAL ivfflat.probes = 4;
SELECT cmp_ok(pg_temp.recall('<=>'), '>=', 0.95::float8, 'sq8 cosine recall@10, 4 probes');
RESET ivfflat.probes;
DROP INDEX items_sq8;

-- product quantization: 4 bytes per 16-dimension row, re-ranked from 100 candidates
CREATE INDEX items_flat ON items USING ivfflat (v vector_l2_ops) WITH (lists = 2);
CREATE INDEX items_pq ON items USING ivfflat (v vector_l2_ops) WITH (lists = 2, quantizer = 'pq');
-- (rows: 20 bytes against 76; the codebook adds a fixed 16 kB, 256 centroids of every dimension)
SELECT cmp_ok(pg_relation_size('items_pq')::float8 / pg_relation_size('items_flat'), '<', 0.5::float8,
              'a pq index of 16-dimension rows is less than half the flat one');
DROP INDEX items_flat, items_pq;
CREATE INDEX items_pq ON items USING ivfflat (v vector_l2_ops) WITH (lists = 40, quantizer = 'pq');
SET LOCAL ivfflat.probes = 4;
SET LOCAL quiver.ivfflat_rerank = 100;
SELECT cmp_ok(pg_temp.recall('<->'), '>=', 0.95::float8, 'pq L2 recall@10, 4 probes, 100 re-ranked');
-- relaxed order: windows taken by approximate distance, handed out whole
SET LOCAL ivfflat.iterative_scan = relaxed_order;
SELECT cmp_ok(pg_temp.recall('<->'), '>=', 0.9::float8, 'pq L2 recall@10, 4 probes, relaxed order');
RESET ivfflat.iterative_scan;
RESET quiver.ivfflat_rerank;
RESET ivfflat.probes;
DROP INDEX items_pq;

-- an index built on part of the rows, then filled by inserts: inserted rows go to their
-- nearest list as built ones do, so one probe finds them as often
CREATE TABLE items_half (LIKE items);
INSERT INTO items_half SELECT * FROM items WHERE id % 2 = 0;
CREATE INDEX items_half_l2 ON items_half USING ivfflat (v vector_l2_ops) WITH (lists = 40);
INSERT INTO items_half SELECT * FROM items WHERE id % 2 = 1;
SET LOCAL enable_seqscan = off;
CREATE TEMP TABLE found_by_parity AS
SELECT e.id % 2 AS parity, avg(found::int) AS found
FROM queries q CROSS JOIN LATERAL (
	SELECT id, id IN (SELECT id FROM items_half ORDER BY v <-> q.v LIMIT 10) AS found
	FROM (SELECT id FROM items_half ORDER BY l2_distance(v, q.v) LIMIT 10) x) e
GROUP BY 1;
RESET enable_seqscan;
SELECT cmp_ok((SELECT found FROM found_by_parity WHERE parity = 1), '>=',
              (SELECT found FROM found_by_parity WHERE parity = 0) - 0.05,
              'one probe finds rows inserted after the build as often as built ones');
-- single-threaded k-means finds the same lists
SET LOCAL max_parallel_maintenance_workers = 0;
CREATE INDEX items_half_l2_1 ON items_half USING ivfflat (v vector_l2_ops) WITH (lists = 40);
RESET max_parallel_maintenance_workers;
SELECT is(pg_relation_size('items_half_l2_1') > 0, true, 'single-threaded build');
-- maintenance_work_mem too small for the default sample: fewer samples, still a good index
DROP INDEX items_half_l2, items_half_l2_1;
SET LOCAL maintenance_work_mem = '1MB';
CREATE INDEX items_half_small ON items_half USING ivfflat (v vector_l2_ops) WITH (lists = 40);
RESET maintenance_work_mem;
SET LOCAL ivfflat.probes = 4;
SELECT cmp_ok(pg_temp.recall('<->', 'true', 'items_half'), '>=', 0.95::float8, 'L2 recall@10, build within 1MB of maintenance_work_mem');
RESET ivfflat.probes;
DROP TABLE items_half;

-- halfvec and bit
CREATE TABLE hitems AS SELECT id, v::halfvec(16) AS v FROM items;
CREATE TABLE hqueries AS SELECT q, v::halfvec(16) AS v FROM queries;
CREATE INDEX hitems_l2 ON hitems USING ivfflat (v halfvec_l2_ops) WITH (lists = 40);
SET LOCAL ivfflat.probes = 4;
SELECT cmp_ok(pg_temp.recall('<->', 'true', 'hitems', 'hqueries'), '>=', 0.95::float8, 'halfvec L2 recall@10, 4 probes');
DROP INDEX hitems_l2;
CREATE INDEX hitems_cos ON hitems USING ivfflat (v halfvec_cosine_ops) WITH (lists = 40);
SELECT cmp_ok(pg_temp.recall('<=>', 'true', 'hitems', 'hqueries'), '>=', 0.95::float8, 'halfvec cosine recall@10, 4 probes');
RESET ivfflat.probes;

-- bit strings: the sign bits of the (centred) rows, clustered by Hamming distance
CREATE TABLE bitems AS
SELECT id, (SELECT string_agg(CASE WHEN x > 5 THEN '1' ELSE '0' END, '') FROM unnest(v::real[]) x)::bit(16) AS v FROM items;
CREATE TABLE bqueries AS
SELECT q, (SELECT string_agg(CASE WHEN x > 5 THEN '1' ELSE '0' END, '') FROM unnest(v::real[]) x)::bit(16) AS v FROM queries;
CREATE INDEX bitems_hamming ON bitems USING ivfflat (v bit_hamming_ops) WITH (lists = 20);
SET LOCAL ivfflat.probes = 20;
SELECT is((SELECT count(*)::int FROM (SELECT id FROM bitems ORDER BY v <~> (SELECT v FROM bqueries WHERE q = 1)) s),
          (SELECT count(*)::int FROM bitems), 'every bit row is in some list');
SELECT is((SELECT array_agg(d) FROM (SELECT v <~> (SELECT v FROM bqueries WHERE q = 1) AS d FROM bitems ORDER BY v <~> (SELECT v FROM bqueries WHERE q = 1) LIMIT 10) s),
          (SELECT array_agg(d) FROM (SELECT d FROM (SELECT v <~> (SELECT v FROM bqueries WHERE q = 1) AS d FROM bitems) t ORDER BY d LIMIT 10) s),
          'bit results are exact with every list probed');
RESET ivfflat.probes;

SELECT is((SELECT count(*)::int FROM pg_stat_progress_create_index), 0, 'no build left behind');

SELECT * FROM finish();
ROLLBACK;
