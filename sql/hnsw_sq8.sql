-- hnsw with quantizer = 'sq8': vector columns stored as 8-bit codes with a range of their own
-- (up to 8,000 dimensions), candidates re-ranked by their exact distance from the table; and
-- quantizer = 'sq4', the same with 4-bit codes (up to 16,000).
SET client_min_messages = warning;

-- what the option accepts
CREATE TABLE s8_small (id int, v vector(3), h halfvec(3), b bit(3), s sparsevec(3));
CREATE INDEX ON s8_small USING hnsw (h halfvec_l2_ops) WITH (quantizer = 'sq8');
CREATE INDEX ON s8_small USING hnsw (b bit_hamming_ops) WITH (quantizer = 'sq8');
CREATE INDEX ON s8_small USING hnsw (s sparsevec_l2_ops) WITH (quantizer = 'sq8');
CREATE INDEX ON s8_small USING hnsw ((v * '[1,1,1]') vector_l2_ops) WITH (quantizer = 'sq8');
CREATE INDEX s8_small_idx ON s8_small USING hnsw (v vector_l2_ops) WITH (quantizer = 'sq8');
-- a zero vector has no direction: cosine leaves it out, as without the option
INSERT INTO s8_small (id, v) VALUES (1, '[0,0,0]'), (2, '[1,2,3]'), (3, '[-1,-1,-1]'), (4, '[5,5,5]');
CREATE INDEX s8_small_cos ON s8_small USING hnsw (v vector_cosine_ops) WITH (quantizer = 'sq8');
SELECT quantizer, heap_tids FROM quiver_hnsw_stats('s8_small_idx');
SELECT heap_tids FROM quiver_hnsw_stats('s8_small_cos');
SET enable_seqscan = off;
SELECT id FROM s8_small ORDER BY v <-> '[1,2,2.9]' LIMIT 4;
SELECT id FROM s8_small ORDER BY v <=> '[1,1,1]' LIMIT 4;
RESET enable_seqscan;
DROP TABLE s8_small;

-- 8,000 dimensions is the limit: an element of 8,000 codes still fits a page
CREATE TABLE s8_wide (v vector(8001));
CREATE INDEX ON s8_wide USING hnsw (v vector_l2_ops) WITH (quantizer = 'sq8');
DROP TABLE s8_wide;
CREATE TABLE s8_wide (id int, v vector(8000));
CREATE INDEX s8_wide_idx ON s8_wide USING hnsw (v vector_l2_ops) WITH (quantizer = 'sq8');
INSERT INTO s8_wide SELECT i, array_fill((i * 0.25)::real, ARRAY[8000])::vector FROM generate_series(1, 3) i;
SELECT dimensions, quantizer, elements FROM quiver_hnsw_stats('s8_wide_idx');
SET enable_seqscan = off;
SELECT id FROM s8_wide ORDER BY v <-> array_fill(0.6::real, ARRAY[8000])::vector LIMIT 3;
RESET enable_seqscan;
DROP TABLE s8_wide;

-- 5,000 dimensions (beyond half precision's 4,000): 300 rows on smooth curves, 20 queries
-- among and between them
CREATE TABLE s8 (id int, v vector(5000));
INSERT INTO s8 SELECT i, (SELECT array_agg(sin(i * 0.37 + j * 0.011 + (i % 7) * j * 0.001) + (i % 3) * 0.2)
                          FROM generate_series(1, 5000) j)::vector
FROM generate_series(1, 300) i;
CREATE TABLE s8_queries (qid int, q vector(5000));
INSERT INTO s8_queries SELECT i, (SELECT array_agg(cos(i * 0.53 + j * 0.013 + (i % 5) * j * 0.0007) * 0.9)
                                  FROM generate_series(1, 5000) j)::vector
FROM generate_series(1, 10) i;
INSERT INTO s8_queries SELECT 100 + id, v FROM s8 WHERE id % 30 = 1;

CREATE INDEX s8_l2 ON s8 USING hnsw (v vector_l2_ops) WITH (quantizer = 'sq8');
CREATE INDEX s8_ip ON s8 USING hnsw (v vector_ip_ops) WITH (quantizer = 'sq8');
CREATE INDEX s8_cos ON s8 USING hnsw (v vector_cosine_ops) WITH (quantizer = 'sq8');
CREATE INDEX s8_l1 ON s8 USING hnsw (v vector_l1_ops) WITH (quantizer = 'sq8');
SELECT elements, heap_tids, dimensions, metric, quantizer FROM quiver_hnsw_stats('s8_cos');
SELECT count(*) FROM quiver_hnsw_check('s8_l2');

-- Each opclass: the index's top 10 equals the exact top 10, in order, for every query (the
-- exact answer computed with index scans off). Returns the queries that differ: none.
CREATE FUNCTION s8_mismatches(op text) RETURNS SETOF int LANGUAGE plpgsql AS $$
DECLARE
	r record;
	got int[];
	want int[];
BEGIN
	FOR r IN SELECT qid, q FROM s8_queries ORDER BY qid LOOP
		SET LOCAL enable_seqscan = off;
		SET LOCAL enable_indexscan = on;
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM s8 ORDER BY v %s $1 LIMIT 10) s', op) INTO got USING r.q;
		SET LOCAL enable_seqscan = on;
		SET LOCAL enable_indexscan = off;
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM s8 ORDER BY v %s $1, id LIMIT 10) s', op) INTO want USING r.q;
		IF got IS DISTINCT FROM want THEN
			RETURN NEXT r.qid;
		END IF;
	END LOOP;
	SET LOCAL enable_indexscan = on;
END $$;
SET hnsw.ef_search = 100;
SELECT op, (SELECT count(*) FROM s8_mismatches(op)) AS mismatches FROM unnest(ARRAY['<->', '<#>', '<=>', '<+>']) op;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM s8 ORDER BY v <=> (SELECT q FROM s8_queries WHERE qid = 1) LIMIT 5;
RESET enable_seqscan;

-- Rows whose codes are the same: the build keeps them apart (it works on exact values), an
-- insert joins a node whose codes it shares and widens the node's bound; the exact values
-- still order them.
CREATE TABLE s8_tie (id int, v vector(4500));
INSERT INTO s8_tie SELECT i, (ARRAY[0::real, 1::real] || array_fill(0.5::real, ARRAY[4497]) || (0.5 + i * 1e-4)::real)::vector
FROM generate_series(1, 2) i;
INSERT INTO s8_tie SELECT 10 + i, array_fill((i * 0.5)::real, ARRAY[4500])::vector FROM generate_series(3, 6) i;
CREATE INDEX s8_tie_idx ON s8_tie USING hnsw (v vector_l2_ops) WITH (quantizer = 'sq8');
INSERT INTO s8_tie SELECT 3, (ARRAY[0::real, 1::real] || array_fill(0.5::real, ARRAY[4497]) || (0.5 + 3e-4)::real)::vector;
SELECT elements, heap_tids FROM quiver_hnsw_stats('s8_tie_idx');
SELECT count(*) FROM quiver_hnsw_check('s8_tie_idx');
SET enable_seqscan = off;
SELECT id FROM s8_tie ORDER BY v <-> (ARRAY[0::real, 1::real] || array_fill(0.5::real, ARRAY[4497]) || 0.6::real)::vector LIMIT 4;
SELECT id FROM s8_tie ORDER BY v <-> (ARRAY[0::real, 1::real] || array_fill(0.5::real, ARRAY[4497]) || 0.4::real)::vector LIMIT 4;
-- values near the float range
INSERT INTO s8_tie VALUES (100, (ARRAY[-3e38::real, 3e38::real] || array_fill(0::real, ARRAY[4498]))::vector);
SELECT id FROM s8_tie ORDER BY v <#> (ARRAY[0::real, 1::real] || array_fill(0::real, ARRAY[4498]))::vector LIMIT 2;
SELECT count(*) FROM (SELECT id FROM s8_tie ORDER BY v <-> NULL LIMIT 100) s;
RESET enable_seqscan;
DROP TABLE s8_tie;

-- Rows inserted into the live index, deletes and VACUUM: the answers stay exact and the
-- index sound.
INSERT INTO s8 SELECT 300 + i, (SELECT array_agg(sin(i * 0.29 + j * 0.017) * 0.8 + 0.1)
                                FROM generate_series(1, 5000) j)::vector
FROM generate_series(1, 60) i;
DELETE FROM s8 WHERE id % 4 = 0;
VACUUM s8;
SELECT op, (SELECT count(*) FROM s8_mismatches(op)) AS mismatches FROM unnest(ARRAY['<->', '<#>', '<=>', '<+>']) op;
SELECT count(*) FROM quiver_hnsw_check('s8_l2');
SELECT count(*) FROM quiver_hnsw_check('s8_ip');
SELECT count(*) FROM quiver_hnsw_check('s8_cos');
SELECT count(*) FROM quiver_hnsw_check('s8_l1');
SELECT elements, deleted_elements, heap_tids FROM quiver_hnsw_stats('s8_l2');

-- a filter with an iterative scan still returns every row asked for, in exact order
SET enable_seqscan = off;
SET hnsw.ef_search = 10;
SET hnsw.iterative_scan = strict_order;
SELECT count(*), bool_and(d >= lag_d OR lag_d IS NULL) AS ordered
FROM (SELECT d, lag(d) OVER (ORDER BY rn) AS lag_d
      FROM (SELECT v <-> (SELECT q FROM s8_queries WHERE qid = 3) AS d, row_number() OVER () AS rn
            FROM (SELECT v FROM s8 WHERE id % 5 = 2 ORDER BY v <-> (SELECT q FROM s8_queries WHERE qid = 3) LIMIT 40) s) s2) s3;
RESET hnsw.iterative_scan;
RESET hnsw.ef_search;
RESET enable_seqscan;

-- The metapage keeps what the build used; half precision cannot hold 5,000 dimensions.
ALTER INDEX s8_l2 SET (quantizer = 'half');
SELECT quantizer FROM quiver_hnsw_stats('s8_l2');
REINDEX INDEX s8_l2;
DROP FUNCTION s8_mismatches(text);
DROP TABLE s8, s8_queries;

-- quantizer = 'sq4': 4-bit codes, two a byte, up to the vector type's 16,000 dimensions
CREATE TABLE s4_wide (id int, v vector(16000));
CREATE INDEX s4_wide_idx ON s4_wide USING hnsw (v vector_l2_ops) WITH (quantizer = 'sq4');
INSERT INTO s4_wide SELECT i, array_fill((i * 0.25)::real, ARRAY[16000])::vector FROM generate_series(1, 3) i;
SELECT dimensions, quantizer, elements FROM quiver_hnsw_stats('s4_wide_idx');
SET enable_seqscan = off;
SELECT id FROM s4_wide ORDER BY v <-> array_fill(0.6::real, ARRAY[16000])::vector LIMIT 3;
RESET enable_seqscan;
DROP TABLE s4_wide;
CREATE TABLE s4 (id int, v vector(9000));
INSERT INTO s4 SELECT i, (SELECT array_agg(sin(i * 0.37 + j * 0.011 + (i % 7) * j * 0.001) + (i % 3) * 0.2)
                          FROM generate_series(1, 9000) j)::vector
FROM generate_series(1, 150) i;
CREATE TABLE s4_queries (qid int, q vector(9000));
INSERT INTO s4_queries SELECT i, (SELECT array_agg(cos(i * 0.53 + j * 0.013 + (i % 5) * j * 0.0007) * 0.9)
                                  FROM generate_series(1, 9000) j)::vector
FROM generate_series(1, 6) i;
INSERT INTO s4_queries SELECT 100 + id, v FROM s4 WHERE id % 30 = 1;
CREATE INDEX s4_l2 ON s4 USING hnsw (v vector_l2_ops) WITH (quantizer = 'sq4');
CREATE INDEX s4_ip ON s4 USING hnsw (v vector_ip_ops) WITH (quantizer = 'sq4');
CREATE INDEX s4_cos ON s4 USING hnsw (v vector_cosine_ops) WITH (quantizer = 'sq4');
CREATE INDEX s4_l1 ON s4 USING hnsw (v vector_l1_ops) WITH (quantizer = 'sq4');
-- top 10 against the exact top 10, in order; the search visits every node (ef_search above the
-- row count), so this checks the order the bounds and table reads give
CREATE FUNCTION s4_mismatches(op text) RETURNS SETOF int LANGUAGE plpgsql AS $$
DECLARE
	r record;
	got int[];
	want int[];
BEGIN
	FOR r IN SELECT qid, q FROM s4_queries ORDER BY qid LOOP
		SET LOCAL enable_seqscan = off;
		SET LOCAL enable_indexscan = on;
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM s4 ORDER BY v %s $1 LIMIT 10) s', op) INTO got USING r.q;
		SET LOCAL enable_seqscan = on;
		SET LOCAL enable_indexscan = off;
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM s4 ORDER BY v %s $1, id LIMIT 10) s', op) INTO want USING r.q;
		IF got IS DISTINCT FROM want THEN
			RETURN NEXT r.qid;
		END IF;
	END LOOP;
	SET LOCAL enable_indexscan = on;
END $$;
SET hnsw.ef_search = 200;
SELECT op, (SELECT count(*) FROM s4_mismatches(op)) AS mismatches FROM unnest(ARRAY['<->', '<#>', '<=>', '<+>']) op;
INSERT INTO s4 SELECT 300 + i, (SELECT array_agg(sin(i * 0.29 + j * 0.017) * 0.8 + 0.1)
                                FROM generate_series(1, 9000) j)::vector
FROM generate_series(1, 30) i;
DELETE FROM s4 WHERE id % 4 = 0;
VACUUM s4;
SELECT op, (SELECT count(*) FROM s4_mismatches(op)) AS mismatches FROM unnest(ARRAY['<->', '<#>', '<=>', '<+>']) op;
SELECT count(*) FROM quiver_hnsw_check('s4_l2');
SELECT count(*) FROM quiver_hnsw_check('s4_cos');
SELECT quantizer, pages FROM quiver_hnsw_stats('s4_l1');
RESET hnsw.ef_search;
DROP FUNCTION s4_mismatches(text);
DROP TABLE s4, s4_queries;
