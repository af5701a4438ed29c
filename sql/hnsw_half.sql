-- hnsw with quantizer = 'half': vector columns stored at half precision (up to 4,000
-- dimensions), candidates re-ranked by their exact distance from the table.
SET client_min_messages = warning;

-- what the option accepts
CREATE TABLE hq_small (id int, v vector(3), h halfvec(3), b bit(3), s sparsevec(3));
CREATE INDEX ON hq_small USING hnsw (v vector_l2_ops) WITH (quantizer = 'int4');
CREATE INDEX ON hq_small USING hnsw (h halfvec_l2_ops) WITH (quantizer = 'half');
CREATE INDEX ON hq_small USING hnsw (b bit_hamming_ops) WITH (quantizer = 'half');
CREATE INDEX ON hq_small USING hnsw (s sparsevec_l2_ops) WITH (quantizer = 'half');
CREATE INDEX ON hq_small USING hnsw ((v * '[1,1,1]') vector_l2_ops) WITH (quantizer = 'half');
CREATE INDEX hq_small_none ON hq_small USING hnsw (v vector_l2_ops) WITH (quantizer = 'none');
SELECT quantizer FROM quiver_hnsw_stats('hq_small_none');
DROP TABLE hq_small;

-- without the option, more than 2,000 dimensions is pgvector's error; with it, 4,000 is the limit
CREATE TABLE hq_wide (v vector(4001));
CREATE INDEX ON hq_wide USING hnsw (v vector_l2_ops) WITH (quantizer = 'half');
DROP TABLE hq_wide;
CREATE TABLE hq_wide (v vector(2001));
CREATE INDEX ON hq_wide USING hnsw (v vector_l2_ops);
CREATE INDEX hq_wide_idx ON hq_wide USING hnsw (v vector_l2_ops) WITH (quantizer = 'half');
SELECT dimensions, quantizer FROM quiver_hnsw_stats('hq_wide_idx');
DROP TABLE hq_wide;

-- 3,000 dimensions: 300 rows on smooth curves, 20 queries among and between them
CREATE TABLE hq (id int, v vector(3000));
INSERT INTO hq SELECT i, (SELECT array_agg(sin(i * 0.37 + j * 0.011 + (i % 7) * j * 0.001) + (i % 3) * 0.2)
                          FROM generate_series(1, 3000) j)::vector
FROM generate_series(1, 300) i;
CREATE TABLE hq_queries (qid int, q vector(3000));
INSERT INTO hq_queries SELECT i, (SELECT array_agg(cos(i * 0.53 + j * 0.013 + (i % 5) * j * 0.0007) * 0.9)
                                  FROM generate_series(1, 3000) j)::vector
FROM generate_series(1, 10) i;
INSERT INTO hq_queries SELECT 100 + id, v FROM hq WHERE id % 30 = 1;

CREATE INDEX hq_l2 ON hq USING hnsw (v vector_l2_ops) WITH (quantizer = 'half');
CREATE INDEX hq_ip ON hq USING hnsw (v vector_ip_ops) WITH (quantizer = 'half');
CREATE INDEX hq_cos ON hq USING hnsw (v vector_cosine_ops) WITH (quantizer = 'half');
CREATE INDEX hq_l1 ON hq USING hnsw (v vector_l1_ops) WITH (quantizer = 'half');
SELECT elements, heap_tids, dimensions, metric, quantizer FROM quiver_hnsw_stats('hq_cos');
-- half the bytes of float32: one element and its list per page
SELECT pages BETWEEN 300 AND 320 AS half_size FROM quiver_hnsw_stats('hq_l2');

-- Each opclass: the index's top 10 equals the exact top 10, in order, for every query (the
-- exact answer computed with index scans off). Returns the queries that differ: none.
CREATE FUNCTION hq_mismatches(op text) RETURNS SETOF int LANGUAGE plpgsql AS $$
DECLARE
	r record;
	got int[];
	want int[];
BEGIN
	FOR r IN SELECT qid, q FROM hq_queries ORDER BY qid LOOP
		SET LOCAL enable_seqscan = off;
		SET LOCAL enable_indexscan = on;
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM hq ORDER BY v %s $1 LIMIT 10) s', op) INTO got USING r.q;
		SET LOCAL enable_seqscan = on;
		SET LOCAL enable_indexscan = off;
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM hq ORDER BY v %s $1, id LIMIT 10) s', op) INTO want USING r.q;
		IF got IS DISTINCT FROM want THEN
			RETURN NEXT r.qid;
		END IF;
	END LOOP;
	SET LOCAL enable_indexscan = on;
END $$;
SET hnsw.ef_search = 100;
SELECT op, (SELECT count(*) FROM hq_mismatches(op)) AS mismatches FROM unnest(ARRAY['<->', '<#>', '<=>', '<+>']) op;
-- the plans use the index
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hq ORDER BY v <=> (SELECT q FROM hq_queries WHERE qid = 1) LIMIT 5;
RESET enable_seqscan;

-- Rows that round to the same halves share a node; the exact distances still order them.
-- 1 + 2^-13 and 1 + 2^-12 both round to 1 in half precision.
CREATE TABLE hq_tie (id int, v vector(2500));
INSERT INTO hq_tie SELECT i, (array_fill(1::real, ARRAY[2499]) || (1 + i * 0.0001220703125)::real)::vector FROM generate_series(1, 2) i;
INSERT INTO hq_tie SELECT 10 + i, (array_fill((i * 0.5)::real, ARRAY[2500]))::vector FROM generate_series(3, 6) i;
CREATE INDEX hq_tie_idx ON hq_tie USING hnsw (v vector_l2_ops) WITH (quantizer = 'half');
SELECT elements, heap_tids FROM quiver_hnsw_stats('hq_tie_idx');
SET enable_seqscan = off;
SELECT id FROM hq_tie ORDER BY v <-> (array_fill(1::real, ARRAY[2499]) || 1.001::real)::vector LIMIT 3;
SELECT id FROM hq_tie ORDER BY v <-> (array_fill(1::real, ARRAY[2499]) || 0.999::real)::vector LIMIT 3;
-- one more such row, inserted into the live index, joins the node and widens its bound
INSERT INTO hq_tie VALUES (3, (array_fill(1::real, ARRAY[2499]) || (1 + 3 * 0.0001220703125)::real)::vector);
SELECT elements, heap_tids FROM quiver_hnsw_stats('hq_tie_idx');
SELECT count(*) FROM quiver_hnsw_check('hq_tie_idx');
SELECT id FROM hq_tie ORDER BY v <-> (array_fill(1::real, ARRAY[2499]) || 1.001::real)::vector LIMIT 4;
-- a value beyond the half range is clamped in the index and still ranked by its exact value
INSERT INTO hq_tie VALUES (100, (array_fill(1::real, ARRAY[2499]) || 1e6::real)::vector),
                          (101, (array_fill(1::real, ARRAY[2499]) || 2e6::real)::vector);
SELECT id FROM hq_tie ORDER BY v <-> (array_fill(1::real, ARRAY[2499]) || 1.9e6::real)::vector LIMIT 3;
SELECT id FROM hq_tie ORDER BY v <#> (array_fill(0::real, ARRAY[2499]) || 1::real)::vector LIMIT 3;
-- a NULL query still returns the rows; so does a zero one against the clamped rows' unbounded error
SELECT count(*) FROM (SELECT id FROM hq_tie ORDER BY v <-> NULL LIMIT 100) s;
SELECT count(*) FROM (SELECT id FROM hq_tie ORDER BY v <#> array_fill(0::real, ARRAY[2500])::vector LIMIT 100) s;
RESET enable_seqscan;
DROP TABLE hq_tie;

-- Near ties under cosine: rows a few 1e-6 apart in angle, whose distances 1 - dot of normalized
-- float32 vectors cannot tell apart (its granularity near 0 is 6e-8); re-ranked rows are ordered
-- by the <=> operator's own arithmetic, so the index's order is ORDER BY's.
CREATE TABLE hq_near (id int, v vector(2048));
INSERT INTO hq_near SELECT i, ARRAY(SELECT sin(j * 0.011 * (1 + i % 3)) + i * 1e-5 FROM generate_series(1, 2048) j)
FROM generate_series(1, 120) i;
CREATE INDEX hq_near_idx ON hq_near USING hnsw (v vector_cosine_ops) WITH (quantizer = 'half');
CREATE FUNCTION hq_near_mismatches() RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	q vector;
	got float8[];
	want float8[];
	bad int := 0;
BEGIN
	FOR k IN 1..5 LOOP
		q := (SELECT ARRAY(SELECT sin(j * 0.011 * (1 + k % 3)) + k * 1.5e-4 FROM generate_series(1, 2048) j))::vector;
		SET LOCAL enable_seqscan = off;
		SET LOCAL enable_indexscan = on;
		SELECT array_agg(d) INTO got FROM (SELECT v <=> q AS d FROM hq_near ORDER BY v <=> q LIMIT 20) s;
		SET LOCAL enable_seqscan = on;
		SET LOCAL enable_indexscan = off;
		SELECT array_agg(d) INTO want FROM (SELECT v <=> q AS d FROM hq_near ORDER BY v <=> q LIMIT 20) s;
		IF got IS DISTINCT FROM want THEN
			bad := bad + 1;
		END IF;
	END LOOP;
	RETURN bad;
END $$;
SET hnsw.ef_search = 200;
SELECT hq_near_mismatches() AS mismatches,
       (SELECT count(DISTINCT v <=> (SELECT v FROM hq_near WHERE id = 3)) FROM hq_near WHERE id % 3 = 0) AS distinct_distances;
RESET hnsw.ef_search;
DROP FUNCTION hq_near_mismatches();
DROP TABLE hq_near;

-- Rows inserted into the live index, deletes and VACUUM: the answers stay exact and the
-- index sound.
INSERT INTO hq SELECT 300 + i, (SELECT array_agg(sin(i * 0.29 + j * 0.017) * 0.8 + 0.1)
                                FROM generate_series(1, 3000) j)::vector
FROM generate_series(1, 60) i;
DELETE FROM hq WHERE id % 4 = 0;
VACUUM hq;
SELECT op, (SELECT count(*) FROM hq_mismatches(op)) AS mismatches FROM unnest(ARRAY['<->', '<#>', '<=>', '<+>']) op;
SELECT count(*) FROM quiver_hnsw_check('hq_l2');
SELECT count(*) FROM quiver_hnsw_check('hq_cos');
SELECT elements, deleted_elements, heap_tids FROM quiver_hnsw_stats('hq_l2');

-- a filter with an iterative scan still returns every row asked for, in exact order
SET enable_seqscan = off;
SET hnsw.ef_search = 10;
SET hnsw.iterative_scan = strict_order;
SELECT count(*), bool_and(d >= lag_d OR lag_d IS NULL) AS ordered
FROM (SELECT d, lag(d) OVER (ORDER BY rn) AS lag_d
      FROM (SELECT v <-> (SELECT q FROM hq_queries WHERE qid = 3) AS d, row_number() OVER () AS rn
            FROM (SELECT v FROM hq WHERE id % 5 = 2 ORDER BY v <-> (SELECT q FROM hq_queries WHERE qid = 3) LIMIT 40) s) s2) s3;
RESET hnsw.iterative_scan;
RESET hnsw.ef_search;
RESET enable_seqscan;

-- The option can be altered, the pages cannot: the metapage keeps what the build used.
ALTER INDEX hq_l2 SET (quantizer = 'none');
INSERT INTO hq SELECT 1000, v FROM hq WHERE id = 1;
SELECT quantizer FROM quiver_hnsw_stats('hq_l2');
SELECT count(*) FROM quiver_hnsw_check('hq_l2');
REINDEX INDEX hq_l2;
DROP FUNCTION hq_mismatches(text);
DROP TABLE hq, hq_queries;
