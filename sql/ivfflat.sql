-- ivfflat index access method: build, insert, ordered scans for each opclass and type,
-- options, limits, probes and iterative scans with filters, vacuum, and the planner's use of
-- the index

SET enable_seqscan = off;

CREATE TABLE items (id int PRIMARY KEY, category int NOT NULL, embedding vector(3));
INSERT INTO items
SELECT i, i % 4, ARRAY[cos(i * 0.1), sin(i * 0.1), (i % 10) / 10.0]::vector(3)
FROM generate_series(1, 1000) i;
INSERT INTO items VALUES (1001, 0, NULL);

CREATE INDEX items_l2 ON items USING ivfflat (embedding vector_l2_ops) WITH (lists = 10);
CREATE INDEX items_ip ON items USING ivfflat (embedding vector_ip_ops) WITH (lists = 10);
CREATE INDEX items_cos ON items USING ivfflat (embedding vector_cosine_ops) WITH (lists = 10);
-- vector_l2_ops is the default opclass, as in pgvector
CREATE INDEX items_default ON items USING ivfflat (embedding);
DROP INDEX items_default;

EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY embedding <-> '[1,0,0.5]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY embedding <#> '[1,0,0.5]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY embedding <=> '[1,0,0.5]' LIMIT 5;
-- not for plain filters, and not for an order it does not know
RESET enable_seqscan;
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE embedding <-> '[1,0,0.5]' < 0.1;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY embedding <+> '[1,0,0.5]' LIMIT 5;
SET enable_seqscan = off;

-- with every list probed the answer is exact
CREATE FUNCTION exact_ids(op text, q vector, k int) RETURNS int[] LANGUAGE plpgsql AS $$
DECLARE r int[];
BEGIN
	SET LOCAL enable_indexscan = off;
	SET LOCAL enable_seqscan = on;
	EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM items WHERE embedding IS NOT NULL ORDER BY embedding %s $1, id LIMIT $2) s', op)
		INTO r USING q, k;
	RETURN r;
END $$;
CREATE FUNCTION index_ids(op text, q vector, k int) RETURNS int[] LANGUAGE plpgsql AS $$
DECLARE r int[];
BEGIN
	EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY embedding %s $1 LIMIT $2) s', op)
		INTO r USING q, k;
	RETURN r;
END $$;
SET ivfflat.probes = 10;
SELECT op, (SELECT array_agg(x ORDER BY x) FROM unnest(index_ids(op, '[0.3,0.9,0.4]', 10)) x)
         = (SELECT array_agg(x ORDER BY x) FROM unnest(exact_ids(op, '[0.3,0.9,0.4]', 10)) x) AS exact
FROM (VALUES ('<->'), ('<#>'), ('<=>')) v(op);
-- and the rows come back nearest first
SELECT bool_and(d1 <= d2) AS ordered FROM (
	SELECT embedding <-> '[0.3,0.9,0.4]' AS d1,
	       lead(embedding <-> '[0.3,0.9,0.4]') OVER (ORDER BY embedding <-> '[0.3,0.9,0.4]') AS d2
	FROM (SELECT embedding FROM items ORDER BY embedding <-> '[0.3,0.9,0.4]' LIMIT 50) s) t
WHERE d2 IS NOT NULL;
RESET ivfflat.probes;

-- one probe reads one list: fewer rows than the table, all of them rows of the nearest list
SELECT count(*) BETWEEN 1 AND 999 AS one_list FROM (SELECT id FROM items ORDER BY embedding <-> '[1,0,0.5]') s;

-- NULL rows are not indexed; a NULL query still returns the rows of the probed lists
SET ivfflat.probes = 10;
SELECT count(*) FROM (SELECT id FROM items ORDER BY embedding <-> (SELECT NULL::vector)) s;
RESET ivfflat.probes;

-- inserts go to their nearest list and are found
INSERT INTO items VALUES (2000, 1, '[5,5,5]'), (2001, 1, '[5,5,5.1]');
SELECT id FROM items ORDER BY embedding <-> '[5,5,5]' LIMIT 2;

-- iterative scans: a filter that rejects the nearest lists' rows still gets its rows
CREATE TABLE filtered (id int, tag int, v vector(2));
INSERT INTO filtered SELECT i, CASE WHEN i <= 5 THEN 1 ELSE 0 END, ARRAY[i, 0] FROM generate_series(1, 200) i;
CREATE INDEX ON filtered USING ivfflat (v vector_l2_ops) WITH (lists = 20);
SELECT count(*) FROM (SELECT id FROM filtered WHERE tag = 1 ORDER BY v <-> '[200,0]' LIMIT 5) s;
SET ivfflat.iterative_scan = relaxed_order;
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM filtered WHERE tag = 1 ORDER BY v <-> '[200,0]' LIMIT 5) s;
SET ivfflat.max_probes = 3;
SELECT count(*) FROM (SELECT id FROM filtered WHERE tag = 1 ORDER BY v <-> '[200,0]' LIMIT 5) s;
RESET ivfflat.max_probes;
RESET ivfflat.iterative_scan;

-- statistics: every row in some list, lists filled evenly on evenly spread rows
SELECT lists, empty_lists, entries, min_list_entries, max_list_entries, avg_list_entries, pages > 20 AS pages,
       bytes = pages * 8192 AS bytes, dimensions, metric, quantizer
FROM quiver_ivfflat_stats('filtered_v_idx');
SELECT quiver_ivfflat_stats('items');
SELECT quiver_ivfflat_stats('items_pkey');
-- the checker: nothing to report for a sound index; only ivfflat indexes
SELECT count(*) AS problems FROM quiver_ivfflat_check('filtered_v_idx');
SELECT quiver_ivfflat_check('items');
SELECT quiver_ivfflat_check('items_pkey');
SELECT quiver_ivfflat_check('items_l2_hnsw_missing');

-- vacuum removes dead rows' entries and their space is reused
DELETE FROM filtered WHERE id > 5;
VACUUM filtered;
SELECT entries FROM quiver_ivfflat_stats('filtered_v_idx');
SELECT count(*) AS problems FROM quiver_ivfflat_check('filtered_v_idx');
SET ivfflat.probes = 20;
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM filtered ORDER BY v <-> '[1,0]') s;
SELECT pg_relation_size('filtered_v_idx') AS size_before \gset
INSERT INTO filtered SELECT i, 0, ARRAY[i, 0] FROM generate_series(6, 200) i;
SELECT pg_relation_size('filtered_v_idx') = :size_before AS space_reused;
SELECT count(*) FROM (SELECT id FROM filtered ORDER BY v <-> '[1,0]') s;
RESET ivfflat.probes;

-- cosine does not index zero vectors
CREATE TABLE zeros (v vector(2));
INSERT INTO zeros VALUES ('[0,0]'), ('[1,1]'), ('[1,2]');
CREATE INDEX ON zeros USING ivfflat (v vector_cosine_ops) WITH (lists = 1);
SELECT v FROM zeros ORDER BY v <=> '[1,1]';

-- halfvec and bit
CREATE TABLE halves (id int, v halfvec(3));
INSERT INTO halves SELECT i, ARRAY[i, i % 7, 1] FROM generate_series(1, 300) i;
CREATE INDEX ON halves USING ivfflat (v halfvec_l2_ops) WITH (lists = 5);
SET ivfflat.probes = 5;
SELECT id FROM halves ORDER BY v <-> '[100,2,1]' LIMIT 3;
DROP INDEX halves_v_idx;
CREATE INDEX ON halves USING ivfflat (v halfvec_cosine_ops) WITH (lists = 5);
SELECT id FROM halves ORDER BY v <=> '[0,1,0]' LIMIT 1;
DROP INDEX halves_v_idx;
CREATE INDEX ON halves USING ivfflat (v halfvec_ip_ops) WITH (lists = 5);
SELECT id FROM halves ORDER BY v <#> '[1,0,0]' LIMIT 1;
CREATE TABLE bits (id int, v bit(8));
INSERT INTO bits SELECT i, i::bit(8) FROM generate_series(0, 255) i;
CREATE INDEX ON bits USING ivfflat (v bit_hamming_ops) WITH (lists = 4);
SET ivfflat.probes = 4;
SELECT id, v FROM bits ORDER BY v <~> '11111111', id LIMIT 3;
RESET ivfflat.probes;

-- little data for the number of lists: a notice, and the index still works
CREATE TABLE few (v vector(2));
INSERT INTO few VALUES ('[1,1]'), ('[2,2]');
CREATE INDEX ON few USING ivfflat (v) WITH (lists = 5);
SET ivfflat.probes = 5;
SELECT v FROM few ORDER BY v <-> '[0,0]';
TRUNCATE few;
INSERT INTO few VALUES ('[3,3]');
SELECT v FROM few ORDER BY v <-> '[0,0]';
RESET ivfflat.probes;

-- rebuilt concurrently; on a partitioned table, one index per partition
REINDEX INDEX CONCURRENTLY items_l2;
SELECT id FROM items ORDER BY embedding <-> '[5,5,5]' LIMIT 2;
CREATE TABLE parts (id int, region int, v vector(2)) PARTITION BY LIST (region);
CREATE TABLE parts_1 PARTITION OF parts FOR VALUES IN (1);
CREATE TABLE parts_2 PARTITION OF parts FOR VALUES IN (2);
INSERT INTO parts SELECT i, 1 + i % 2, ARRAY[i, i] FROM generate_series(1, 100) i;
CREATE INDEX ON parts USING ivfflat (v vector_l2_ops) WITH (lists = 2);
SELECT count(*) FROM pg_indexes WHERE tablename IN ('parts_1', 'parts_2');
SET ivfflat.probes = 2;
EXPLAIN (COSTS OFF) SELECT id FROM parts WHERE region = 2 ORDER BY v <-> '[50.2,50.2]' LIMIT 3;
SELECT id FROM parts WHERE region = 2 ORDER BY v <-> '[50.2,50.2]' LIMIT 3;
RESET ivfflat.probes;

-- compressed lists: sq8 codes (a byte per dimension), candidates re-ranked by exact distance
CREATE TABLE sq (id int, v vector(3));
INSERT INTO sq SELECT i, ARRAY[cos(i * 0.1), sin(i * 0.1), (i % 10) / 10.0] FROM generate_series(1, 1000) i;
INSERT INTO sq VALUES (1001, NULL);
CREATE INDEX sq_l2 ON sq USING ivfflat (v vector_l2_ops) WITH (lists = 10, quantizer = 'sq8');
SELECT lists, entries, quantizer FROM quiver_ivfflat_stats('sq_l2');
SET ivfflat.probes = 10;
-- the first k ids of table tbl by op, through the index or (exact) by a sequential scan
CREATE FUNCTION ranked_ids(tbl text, op text, q vector, k int, exact bool) RETURNS int[] LANGUAGE plpgsql AS $$
DECLARE r int[];
BEGIN
	IF exact THEN
		SET LOCAL enable_indexscan = off;
		SET LOCAL enable_seqscan = on;
	END IF;
	EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %I WHERE v IS NOT NULL ORDER BY v %s $1 LIMIT $2) s', tbl, op)
		INTO r USING q, k;
	RETURN r;
END $$;
-- with every list probed, re-ranking gives the exact answer, in order
SELECT ranked_ids('sq', '<->', '[0.3,0.9,0.4]', 10, false) = ranked_ids('sq', '<->', '[0.3,0.9,0.4]', 10, true) AS exact_l2;
DROP INDEX sq_l2;
CREATE INDEX sq_ip ON sq USING ivfflat (v vector_ip_ops) WITH (lists = 10, quantizer = 'sq8');
SELECT ranked_ids('sq', '<#>', '[0.3,0.9,0.4]', 10, false) = ranked_ids('sq', '<#>', '[0.3,0.9,0.4]', 10, true) AS exact_ip;
DROP INDEX sq_ip;
CREATE INDEX sq_cos ON sq USING ivfflat (v vector_cosine_ops) WITH (lists = 10, quantizer = 'sq8');
SELECT ranked_ids('sq', '<=>', '[0.3,0.9,0.4]', 10, false) = ranked_ids('sq', '<=>', '[0.3,0.9,0.4]', 10, true) AS exact_cosine;
DROP INDEX sq_cos;
CREATE INDEX sq_l2 ON sq USING ivfflat (v vector_l2_ops) WITH (lists = 10, quantizer = 'sq8');
-- inserts (outside the learnt ranges too), deletes and vacuum
INSERT INTO sq VALUES (2000, '[5,5,5]'), (2001, '[5,5,5.1]');
SELECT id FROM sq ORDER BY v <-> '[5,5,5]' LIMIT 2;
DELETE FROM sq WHERE id % 2 = 0 AND id < 2000;
VACUUM sq;
SELECT entries FROM quiver_ivfflat_stats('sq_l2');
SELECT count(*) AS problems FROM quiver_ivfflat_check('sq_l2');
SELECT ranked_ids('sq', '<->', '[0.3,0.9,0.4]', 10, false) = ranked_ids('sq', '<->', '[0.3,0.9,0.4]', 10, true) AS exact_after_vacuum;
-- a re-ranking window smaller than LIMIT: every row once, in exact order all the same (each
-- entry's error bound tells when no candidate left can be nearer)
SET quiver.ivfflat_rerank = 3;
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM sq ORDER BY v <-> '[1,0,0.5]' LIMIT 50) s;
SELECT count(*) AS inversions FROM (
	SELECT d, lag(d) OVER (ORDER BY rn) AS prev
	FROM (SELECT row_number() OVER () AS rn, d FROM (SELECT v <-> '[1,0,0.5]' AS d FROM sq ORDER BY v <-> '[1,0,0.5]' LIMIT 200) s) t) u
WHERE d < prev;
-- relaxed_order hands each window out as it is: every row once still
SET ivfflat.iterative_scan = relaxed_order;
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM sq ORDER BY v <-> '[1,0,0.5]' LIMIT 50) s;
RESET ivfflat.iterative_scan;
-- the window size is read once per scan: raising it mid-scan is harmless
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM sq ORDER BY v <-> '[1,0,0.5]';
FETCH 2 FROM c;
SET LOCAL quiver.ivfflat_rerank = 100000;
FETCH 2 FROM c;
COMMIT;
RESET quiver.ivfflat_rerank;
-- an index built on an empty table has untrained codes: still the exact answer, in order
CREATE TABLE sq_empty (id int, v vector(3));
CREATE INDEX ON sq_empty USING ivfflat (v vector_l2_ops) WITH (lists = 1, quantizer = 'sq8');
INSERT INTO sq_empty SELECT id, v FROM sq WHERE v IS NOT NULL;
SELECT (SELECT array_agg(id) FROM (SELECT id FROM sq_empty ORDER BY v <-> '[0.3,0.9,0.4]' LIMIT 10) s)
     = ranked_ids('sq', '<->', '[0.3,0.9,0.4]', 10, true) AS exact_untrained;
DROP TABLE sq_empty;
-- halfvec
CREATE TABLE sqh (id int, v halfvec(3));
INSERT INTO sqh SELECT id, v::halfvec(3) FROM sq;
CREATE INDEX ON sqh USING ivfflat (v halfvec_l2_ops) WITH (lists = 5, quantizer = 'sq8');
SELECT id FROM sqh ORDER BY v <-> '[5,5,5]' LIMIT 2;
RESET ivfflat.probes;
-- pq: one byte per sub-vector (codebooks of 256 centroids), re-ranked the same way
CREATE TABLE pq (id int, v vector(8));
INSERT INTO pq SELECT i, ARRAY[cos(i * 0.1), sin(i * 0.1), (i % 10) / 10.0, cos(i * 0.3), sin(i * 0.7), (i % 7) / 7.0, 0.5, i / 1000.0]
FROM generate_series(1, 1000) i;
CREATE INDEX pq_l2 ON pq USING ivfflat (v vector_l2_ops) WITH (lists = 4, quantizer = 'pq', pq_subvectors = 4);
SELECT lists, entries, quantizer FROM quiver_ivfflat_stats('pq_l2');
SET ivfflat.probes = 4;
SET quiver.ivfflat_rerank = 200;
SELECT ranked_ids('pq', '<->', '[0.3,0.9,0.4,0.1,0.2,0.3,0.5,0.6]', 10, false) = ranked_ids('pq', '<->', '[0.3,0.9,0.4,0.1,0.2,0.3,0.5,0.6]', 10, true) AS exact_l2;
DROP INDEX pq_l2;
CREATE INDEX pq_ip ON pq USING ivfflat (v vector_ip_ops) WITH (lists = 4, quantizer = 'pq');
SELECT ranked_ids('pq', '<#>', '[0.3,0.9,0.4,0.1,0.2,0.3,0.5,0.6]', 10, false) = ranked_ids('pq', '<#>', '[0.3,0.9,0.4,0.1,0.2,0.3,0.5,0.6]', 10, true) AS exact_ip;
DROP INDEX pq_ip;
CREATE INDEX pq_cos ON pq USING ivfflat (v vector_cosine_ops) WITH (lists = 4, quantizer = 'pq', pq_subvectors = 3);
SELECT ranked_ids('pq', '<=>', '[0.3,0.9,0.4,0.1,0.2,0.3,0.5,0.6]', 10, false) = ranked_ids('pq', '<=>', '[0.3,0.9,0.4,0.1,0.2,0.3,0.5,0.6]', 10, true) AS exact_cosine;
INSERT INTO pq VALUES (2000, '[5,5,5,5,5,5,5,5]');
SELECT id FROM pq ORDER BY v <=> '[5,5,5,5,5,5,5,5.1]' LIMIT 1;
RESET quiver.ivfflat_rerank;
RESET ivfflat.probes;
-- quantized entries are packed 12 bytes each here (TID, error bound, 4 codes), 680 a page
CREATE TABLE packed (id int, v vector(8));
INSERT INTO packed SELECT id, v FROM pq WHERE id <= 1000;
CREATE INDEX packed_pq ON packed USING ivfflat (v vector_l2_ops) WITH (lists = 1, quantizer = 'pq', pq_subvectors = 4);
SELECT entries, pages, free_bytes FROM quiver_ivfflat_stats('packed_pq');
INSERT INTO packed SELECT id + 1000, v FROM pq WHERE id <= 400;
SELECT entries, pages, free_bytes FROM quiver_ivfflat_stats('packed_pq');
-- vacuum closes the gaps; later inserts take the room back before the list grows
DELETE FROM packed WHERE id % 3 = 0;
VACUUM packed;
SELECT entries, pages, free_bytes FROM quiver_ivfflat_stats('packed_pq');
SET quiver.ivfflat_rerank = 1000;
SELECT ranked_ids('packed', '<->', '[0.3,0.9,0.4,0.1,0.2,0.3,0.5,0.6]', 30, false)
     = ranked_ids('packed', '<->', '[0.3,0.9,0.4,0.1,0.2,0.3,0.5,0.6]', 30, true) AS exact_after_vacuum;
SELECT count(*) = (SELECT count(*) FROM packed) AS every_row_once
FROM (SELECT DISTINCT id FROM (SELECT id FROM packed ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 5000) s) t;
RESET quiver.ivfflat_rerank;
INSERT INTO packed SELECT id + 2000, v FROM pq WHERE id <= 460;
SELECT entries, pages, free_bytes FROM quiver_ivfflat_stats('packed_pq');
SELECT count(*) AS problems FROM quiver_ivfflat_check('packed_pq');
-- partial and expression indexes: the rows the index holds are those its predicate and
-- expression give
CREATE INDEX packed_part ON packed USING ivfflat (v vector_cosine_ops) WITH (lists = 3) WHERE id % 2 = 0;
CREATE INDEX packed_expr ON packed USING ivfflat ((v::halfvec(8)) halfvec_l2_ops) WITH (lists = 3);
INSERT INTO packed VALUES (5004, '[0,0,0,0,0,0,0,0]'), (5002, NULL), (5003, '[1,2,3,4,5,6,7,8]');
SELECT (SELECT count(*) FROM quiver_ivfflat_check('packed_part')) AS partial_problems,
       (SELECT count(*) FROM quiver_ivfflat_check('packed_expr')) AS expression_problems;
DROP TABLE packed;
-- what the quantizers need
CREATE INDEX ON sq USING ivfflat (v vector_l2_ops) WITH (quantizer = 'rabitq');
CREATE INDEX ON pq USING ivfflat (v vector_l2_ops) WITH (quantizer = 'pq', pq_subvectors = 9);
CREATE INDEX ON pq USING ivfflat (v vector_l2_ops) WITH (quantizer = 'pq', pq_subvectors = -1);
CREATE INDEX ON bits USING ivfflat (v bit_hamming_ops) WITH (quantizer = 'pq');
CREATE INDEX ON sq USING ivfflat ((v::halfvec(3)) halfvec_l2_ops) WITH (quantizer = 'sq8');
CREATE INDEX ON bits USING ivfflat (v bit_hamming_ops) WITH (quantizer = 'sq8');
SET quiver.ivfflat_rerank = -1;

-- errors
CREATE INDEX ON items USING ivfflat (embedding vector_l2_ops) WITH (lists = 0);
CREATE INDEX ON items USING ivfflat (embedding vector_l2_ops) WITH (lists = 32769);
CREATE INDEX ON items USING ivfflat (embedding vector_l2_ops) WITH (m = 4);
CREATE INDEX ON items USING ivfflat (embedding vector_l1_ops);
CREATE TABLE wide (v vector(2001));
CREATE INDEX ON wide USING ivfflat (v);
CREATE TABLE nodims (v vector);
CREATE INDEX ON nodims USING ivfflat (v);
CREATE TABLE sparse (v sparsevec(3));
CREATE INDEX ON sparse USING ivfflat (v);
CREATE TABLE varbits (v varbit(3));
CREATE INDEX ON varbits USING ivfflat (v bit_hamming_ops);
CREATE INDEX ON items USING ivfflat (id);
INSERT INTO items VALUES (3000, 0, '[1,2]');
SET ivfflat.probes = 0;
SET ivfflat.max_probes = 32769;
SET ivfflat.iterative_scan = strict_order;
SHOW ivfflat.probes;
SHOW ivfflat.iterative_scan;
SHOW ivfflat.max_probes;

DROP TABLE items, filtered, zeros, halves, bits, few, parts, sq, sqh, pq, wide, nodims, sparse, varbits;
DROP FUNCTION exact_ids, index_ids, ranked_ids;
