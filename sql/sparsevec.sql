-- sparsevec: pgvector's text and binary formats, casts, distances and messages

-- text format: 1-based indices, any order on input, sorted on output; zeros dropped
SELECT '{1:1.5,3:-2}/5'::sparsevec;
SELECT '{3:2,1:1}/3'::sparsevec;
SELECT ' { 2 : 0.1 , 4:0 } / 4 '::sparsevec;
SELECT '{}/7'::sparsevec;
SELECT '{1000000000:1}/1000000000'::sparsevec;
SELECT '{1:3e38,2:1e-38}/2'::sparsevec;
SELECT '{1:1,2:2}/2'::sparsevec(2);

-- what is rejected, and how
SELECT '{1:1,1:2}/2'::sparsevec;
SELECT '{0:1}/2'::sparsevec;
SELECT '{3:1}/2'::sparsevec;
SELECT '{-5:1}/2'::sparsevec;
SELECT '{1:1}/0'::sparsevec;
SELECT '{}/1000000001'::sparsevec;
SELECT '{1:1}/2'::sparsevec(3);
SELECT '{1:NaN}/2'::sparsevec;
SELECT '{1:inf}/2'::sparsevec;
SELECT '{1:1e39}/2'::sparsevec;
SELECT '{1:1e-50}/2'::sparsevec;
SELECT '[1,2]'::sparsevec;
SELECT '{1:1}'::sparsevec;
SELECT '{1:1}/2/'::sparsevec;
SELECT '{1:1;2:2}/2'::sparsevec;
SELECT '{1:}/2'::sparsevec;
SELECT '{}/2'::sparsevec(0);
SELECT '{}/2'::sparsevec(1000000001);
SELECT '{}/2'::sparsevec(2, 3);
-- the element limit is counted from the commas before anything is parsed
SELECT ('{' || string_agg(n || ':1', ',') || '}/16000')::sparsevec IS NOT NULL FROM generate_series(1, 16000) n;
SELECT ('{' || string_agg(n || ':1', ',') || '}/16001')::sparsevec FROM generate_series(1, 16001) n;

-- storage: 16-byte header plus 8 bytes per non-zero element
SELECT pg_column_size('{1:1,1000:2}/100000'::sparsevec);

-- casts between the three vector types and from arrays
SELECT '[0,1.5,0,-2]'::vector::sparsevec;
SELECT '[0,1.5,0,-2]'::halfvec::sparsevec(4);
SELECT '[0,1.5,0,-2]'::vector::sparsevec(3);
SELECT '{2:1.5,4:-2}/4'::sparsevec::vector;
SELECT '{2:1.5,4:-2}/4'::sparsevec::halfvec;
SELECT '{1:70000}/2'::sparsevec::halfvec;
SELECT '{1:1}/16001'::sparsevec::vector;
SELECT '{1:1}/3'::sparsevec::vector(2);
SELECT ARRAY[0,2,0,3]::sparsevec, ARRAY[0.5,0]::real[]::sparsevec, ARRAY[1e-50,1]::float8[]::sparsevec;
SELECT ARRAY[0,2.5,0]::numeric[]::sparsevec(3);
SELECT ARRAY[1,NULL]::int[]::sparsevec;
SELECT ARRAY[[1,2]]::int[]::sparsevec;
SELECT '{}'::real[]::sparsevec;
SELECT ARRAY['NaN']::real[]::sparsevec;
SELECT array_agg(n)::sparsevec IS NOT NULL FROM generate_series(1, 16000) n;
SELECT array_agg(n)::sparsevec FROM generate_series(1, 16001) n;

-- distances: indices present on one side only count as zeros on the other
SELECT '{1:3}/2'::sparsevec <-> '{2:4}/2';
SELECT l2_distance('{1:1,3:3}/4'::sparsevec, '{1:1,3:3}/4');
SELECT '{1:1,2:2,4:4}/5'::sparsevec <#> '{2:3,3:9,4:1}/5';
SELECT inner_product('{1:1}/2'::sparsevec, '{2:1}/2');
SELECT '{1:1,2:1}/2'::sparsevec <=> '{1:2,2:2}/2';
SELECT cosine_distance('{1:1}/2'::sparsevec, '{2:1}/2');
SELECT cosine_distance('{1:1}/2'::sparsevec, '{}/2');
SELECT '{1:1,3:-3}/3'::sparsevec <+> '{2:2,3:3}/3';
SELECT l2_norm('{1:3,5:4}/5'::sparsevec), l2_norm('{}/5'::sparsevec);
SELECT l2_normalize('{1:3,5:4}/5'::sparsevec), l2_normalize('{}/5'::sparsevec);
SELECT l2_normalize('{1:3e38,2:1e-38}/2'::sparsevec);
SELECT '{1:1}/2'::sparsevec <-> '{1:1}/3';
SELECT inner_product('{1:1}/2'::sparsevec, '{1:1}/3');
-- distances agree with the dense types on the same values
SELECT round((a::sparsevec <-> b::sparsevec)::numeric, 4) = round((a <-> b)::numeric, 4) AS l2,
       round((a::sparsevec <#> b::sparsevec)::numeric, 4) = round((a <#> b)::numeric, 4) AS ip,
       round((a::sparsevec <=> b::sparsevec)::numeric, 4) = round((a <=> b)::numeric, 4) AS cosine,
       round((a::sparsevec <+> b::sparsevec)::numeric, 4) = round((a <+> b)::numeric, 4) AS l1
FROM (VALUES ('[0,1.5,0,-2,0,7]'::vector, '[3,0,0,-1,0.25,7]'::vector)) v(a, b);

-- ordering equals the dense forms' ordering: element by element, then by dimensions
SELECT v FROM (VALUES ('{1:1}/3'::sparsevec), ('{}/3'), ('{1:-1}/3'), ('{2:1}/3'), ('{1:1}/2'),
	('{1:1,3:1}/3'), ('{}/2')) t(v) ORDER BY v;
SELECT '{1:1,2:2}/2'::sparsevec = '[1,2]'::vector::sparsevec, '{1:1}/2'::sparsevec < '{1:1}/3',
	sparsevec_cmp('{2:1}/3', '{1:1}/3');
CREATE TABLE sv (id int, v sparsevec(4));
INSERT INTO sv VALUES (1, '{1:1}/4'), (2, '{4:2}/4'), (3, '{}/4'), (4, '{1:1}/4');
CREATE INDEX ON sv (v);
SET enable_seqscan = off;
SELECT id FROM sv WHERE v = '{1:1}/4' ORDER BY id;
RESET enable_seqscan;
SELECT v, count(*) FROM sv GROUP BY v ORDER BY v;
INSERT INTO sv VALUES (5, '{1:1}/5');

-- binary COPY round trip
\copy sv TO 'results/sparsevec.bin' WITH (FORMAT binary)
CREATE TABLE sv2 (LIKE sv);
\copy sv2 FROM 'results/sparsevec.bin' WITH (FORMAT binary)
SELECT count(*) AS identical FROM sv JOIN sv2 USING (id) WHERE sv.v = sv2.v;
DROP TABLE sv, sv2;

-- the wire format: int32 dim, int32 nnz, int32 unused, 0-based int32 indices, float4 values
SELECT sparsevec_send('{2:1.5,4:-2}/4');

-- malformed binary values, handed to sparsevec_recv through a bytea column's COPY field
CREATE TABLE raw (id int, b bytea);
CREATE TABLE dst (id int, v sparsevec);
CREATE FUNCTION recv(bytes bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	path text := '/tmp/quiver_regress_sparse_recv_' || pg_backend_pid() || '.bin';
BEGIN
	TRUNCATE raw, dst;
	INSERT INTO raw VALUES (1, '\x00000002000000010000000000000001bf800000'), (2, bytes);
	EXECUTE format('COPY raw TO %L WITH (FORMAT binary)', path);
	BEGIN
		EXECUTE format('COPY dst FROM %L WITH (FORMAT binary)', path);
	EXCEPTION WHEN OTHERS THEN
		RETURN SQLSTATE || ': ' || SQLERRM;
	END;
	RETURN (SELECT string_agg(v::text, ' ' ORDER BY id) FROM dst);
END $$;
SELECT recv('\x000000050000000200000000000000000000000240400000c0000000') AS good;
SELECT recv('\x00000005000000020000000000000000') AS truncated;
SELECT recv('\x0000000500000002') AS truncated_header;
SELECT recv('\x00000000000000000000000000') AS zero_dim;
SELECT recv('\x3b9aca01000000000000000000') AS too_many_dims;
SELECT recv('\x00000002000000030000000000') AS nnz_above_dim;
SELECT recv('\x0000000200ffffff0000000000') AS nnz_above_limit;
SELECT recv('\x00000002fffffffe0000000000') AS nnz_negative;
SELECT recv('\x000000020000000000000007') AS unused_not_zero;
SELECT recv('\x000000050000000200000000000000030000000140400000c0000000') AS descending;
SELECT recv('\x000000050000000200000000000000010000000140400000c0000000') AS duplicate;
SELECT recv('\x00000005000000010000000000000005c0000000') AS out_of_bounds;
SELECT recv('\x0000000500000001000000000000000000000000') AS zero_value;
SELECT recv('\x00000005000000010000000000000000ffc00000') AS nan;
SELECT recv('\x000000050000000100000000000000007f800000') AS infinity;
SELECT recv('\x000000050000000100000000000000003f80000000') AS trailing_byte;
DROP TABLE raw, dst;
DROP FUNCTION recv(bytea);

-- hnsw on sparsevec: every opclass agrees with exact search, the 1,000 non-zero limit for
-- stored vectors (queries may have more), NULLs, zero vectors under cosine
CREATE TABLE st (id int, v sparsevec(20));
INSERT INTO st SELECT i, ARRAY(SELECT CASE WHEN (i * k) % 3 = 0 THEN round(sin(i * k)::numeric, 3) ELSE 0 END
                              FROM generate_series(1, 20) k)::vector::sparsevec
FROM generate_series(1, 300) i;
INSERT INTO st VALUES (301, '{5:1,6:6}/20'), (302, NULL), (303, '{}/20');
-- the index's 5 nearest against a sequential scan's, compared by distance (rows at equal
-- distances may come in any order)
CREATE FUNCTION knn_matches(op text, q sparsevec) RETURNS bool LANGUAGE plpgsql AS $$
DECLARE approx float8[]; exact float8[];
BEGIN
	SET LOCAL enable_seqscan = off;
	EXECUTE format('SELECT array_agg(d) FROM (SELECT v %s $1 AS d FROM st ORDER BY v %s $1 LIMIT 5) s', op, op)
		INTO approx USING q;
	SET LOCAL enable_indexscan = off;
	SET LOCAL enable_seqscan = on;
	EXECUTE format('SELECT array_agg(d) FROM (SELECT v %s $1 AS d FROM st ORDER BY v %s $1 LIMIT 5) s', op, op)
		INTO exact USING q;
	RETURN approx = exact;
END $$;
CREATE INDEX st_l2 ON st USING hnsw (v sparsevec_l2_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM st ORDER BY v <-> '{5:1,6:6}/20' LIMIT 3;
RESET enable_seqscan;
SELECT knn_matches('<->', '{5:1,6:6}/20'), knn_matches('<->', '{1:0.5,3:-0.5,9:0.1}/20');
SELECT * FROM quiver_hnsw_check('st_l2');
SELECT elements, heap_tids, dimensions, metric FROM quiver_hnsw_stats('st_l2');
DROP INDEX st_l2;
CREATE INDEX st_ip ON st USING hnsw (v sparsevec_ip_ops);
SELECT knn_matches('<#>', '{3:1,6:1,9:-1}/20'), knn_matches('<#>', '{12:0.7,18:0.2}/20');
DROP INDEX st_ip;
CREATE INDEX st_cos ON st USING hnsw (v sparsevec_cosine_ops);
SELECT knn_matches('<=>', '{5:1,6:6}/20'), knn_matches('<=>', '{3:1,6:1,9:-1}/20');
-- the zero vector has no direction: not in a cosine index, so not returned by it
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM st ORDER BY v <=> '{1:1}/20' LIMIT 400) s WHERE id = 303;
RESET enable_seqscan;
DROP INDEX st_cos;
CREATE INDEX st_l1 ON st USING hnsw (v sparsevec_l1_ops);
SELECT knn_matches('<+>', '{5:1,6:6}/20'), knn_matches('<+>', '{1:0.5,3:-0.5,9:0.1}/20');
SELECT * FROM quiver_hnsw_check('st_l1');
DROP TABLE st;
DROP FUNCTION knn_matches(text, sparsevec);

-- stored vectors hold at most 1,000 non-zero elements, at build and at insert; queries any number
CREATE TABLE sb (id int, v sparsevec(2000));
INSERT INTO sb SELECT i, ('{' || i || ':1}/2000')::sparsevec FROM generate_series(1, 50) i;
CREATE INDEX sb_l1 ON sb USING hnsw (v sparsevec_l1_ops);
INSERT INTO sb SELECT 51, (array_fill(1, ARRAY[1001]) || array_fill(0, ARRAY[999]))::vector::sparsevec;
INSERT INTO sb SELECT 52, (array_fill(1, ARRAY[1000]) || array_fill(0, ARRAY[1000]))::vector::sparsevec;
SET enable_seqscan = off;
SELECT id FROM sb ORDER BY v <+> (array_fill(1, ARRAY[1000]) || array_fill(0, ARRAY[1000]))::vector::sparsevec LIMIT 1;
SELECT count(*) FROM (SELECT id FROM sb ORDER BY v <+> array_fill(1, ARRAY[2000])::vector::sparsevec LIMIT 5) s;
RESET enable_seqscan;
DROP INDEX sb_l1;
INSERT INTO sb SELECT 53, (array_fill(1, ARRAY[1001]) || array_fill(0, ARRAY[999]))::vector::sparsevec
	FROM (SELECT 1) s WHERE false;
UPDATE sb SET v = (array_fill(1, ARRAY[1001]) || array_fill(0, ARRAY[999]))::vector::sparsevec WHERE id = 52;
CREATE INDEX ON sb USING hnsw (v sparsevec_l1_ops);
CREATE TABLE sb_nodim (v sparsevec);
CREATE INDEX ON sb_nodim USING hnsw (v sparsevec_l2_ops);
DROP TABLE sb, sb_nodim;
