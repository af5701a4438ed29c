-- halfvec: half-precision storage, pgvector's formats and messages

-- text format: values are rounded to the nearest half and printed as the shortest float
-- that reads back to the same half
SELECT '[1,2.5,-3]'::halfvec;
SELECT '[0.1,0.2,0.3]'::halfvec;
SELECT '[ 1 , 2 ]'::halfvec;
SELECT '[65504,-65504]'::halfvec;
SELECT '[65519.99]'::halfvec;
SELECT '[6e-8,-6e-8,2e-8]'::halfvec;
SELECT '[1e-9]'::halfvec;
SELECT '[-0]'::halfvec;
SELECT '[1,2,3]'::halfvec(3);

-- what does not fit: the number as written is named
SELECT '[65520]'::halfvec;
SELECT '[1,-70000]'::halfvec;
SELECT '[4e38]'::halfvec;
SELECT '[NaN]'::halfvec;
SELECT '[-inf]'::halfvec;
SELECT '[1,2'::halfvec;
SELECT '1,2'::halfvec;
SELECT '[1,2]x'::halfvec;
SELECT '[]'::halfvec;
SELECT '[1,2]'::halfvec(3);
SELECT '[1]'::halfvec(0);
SELECT '[1]'::halfvec(16001);
SELECT '[1]'::halfvec(1, 2);
SELECT array_fill(1, ARRAY[16000])::halfvec IS NOT NULL;
SELECT array_fill(1, ARRAY[16001])::halfvec;

-- storage: 2 bytes per value plus the 8-byte header
SELECT pg_column_size('[1,2,3,4]'::halfvec), pg_column_size('[1,2,3,4]'::vector);

-- casts
SELECT '[1.5,2,3]'::vector::halfvec;
SELECT '[0.1]'::vector::halfvec::vector;
SELECT '[65520]'::vector::halfvec;
SELECT '[1,2,3]'::vector::halfvec(2);
SELECT '[1,2]'::halfvec::vector(2);
SELECT ARRAY[1,2,3]::halfvec, ARRAY[1.5,2,3]::real[]::halfvec, ARRAY[0.1]::float8[]::halfvec, ARRAY[7]::numeric[]::halfvec;
SELECT '{65520}'::real[]::halfvec;
SELECT '{1e39}'::float8[]::halfvec;
SELECT '{NaN}'::real[]::halfvec;
SELECT '{1,NULL}'::real[]::halfvec;
SELECT '{{1}}'::int[]::halfvec;
SELECT '[1,2.5]'::halfvec::real[];
SELECT castcontext, castfunc::regprocedure FROM pg_cast
WHERE castsource = 'halfvec'::regtype OR casttarget = 'halfvec'::regtype ORDER BY 2::text;

-- distances equal those of the same values as vector (computed in float32 either way)
WITH v(a, b) AS (VALUES ('[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.1,1.2]'::halfvec,
                         '[1,-2,3,-4,5,-6,7,-8,9,-10,11]'::halfvec))
SELECT a <-> b = a::vector <-> b::vector AS l2, a <#> b = a::vector <#> b::vector AS ip,
       a <=> b = a::vector <=> b::vector AS cosine, a <+> b = a::vector <+> b::vector AS l1,
       l2_distance(a, b) = l2_distance(a::vector, b::vector) AS l2_fn,
       inner_product(a, b) = inner_product(a::vector, b::vector) AS ip_fn,
       halfvec_l2_squared_distance(a, b) = vector_l2_squared_distance(a::vector, b::vector) AS l2sq,
       halfvec_spherical_distance(l2_normalize(a), l2_normalize(b)) BETWEEN 0 AND 1 AS spherical
FROM v;
SELECT '[3,4]'::halfvec <-> '[0,0]', '[1,2]'::halfvec <#> '[3,4]', '[1,1]'::halfvec <=> '[-1,-1]', '[1,2]'::halfvec <+> '[4,-2]';
SELECT inner_product('[65504]'::halfvec, '[65504]');
SELECT '[1,2]'::halfvec <=> '[0,0]';
SELECT '[1,2]'::halfvec <-> '[1,2,3]';

-- functions
SELECT vector_dims('[1,2,3]'::halfvec), l2_norm('[3,4]'::halfvec), l2_norm('[65504,65504]'::halfvec);
SELECT l2_normalize('[3,4]'::halfvec), l2_normalize('[0,0]'::halfvec), l2_normalize('[65504]'::halfvec);
SELECT binary_quantize('[1,-1,0,0.5,-0.001,3,4,-5,6]'::halfvec);
SELECT subvector('[1,2,3,4,5]'::halfvec, 2, 3), subvector('[1,2,3,4,5]'::halfvec, -1, 3);
SELECT subvector('[1,2,3]'::halfvec, 4, 1);

-- arithmetic, with half-precision overflow and underflow
SELECT '[1,2,3]'::halfvec + '[0.5,0.5,0.5]', '[1,2,3]'::halfvec - '[3,2,1]', '[1,2,3]'::halfvec * '[2,0.5,0]';
SELECT '[1,2]'::halfvec || '[3]';
SELECT '[60000]'::halfvec + '[60000]';
SELECT '[-60000]'::halfvec - '[60000]';
SELECT '[300]'::halfvec * '[300]';
SELECT '[0.001]'::halfvec * '[0.0001]', '[0]'::halfvec * '[0.0001]';
SELECT '[0.0001]'::halfvec * '[0.0001]';
SELECT '[1,2]'::halfvec + '[1]';

-- comparisons and the btree opclass
SELECT '[1,2]'::halfvec < '[1,3]', '[1,2]'::halfvec = '[1,2]', '[1,2]'::halfvec < '[1,2,0]', '[2]'::halfvec > '[1,9]';
SELECT '[0.1]'::halfvec = '[0.09997]';
SELECT halfvec_cmp('[1,2]', '[1,2]'), halfvec_cmp('[1]', '[1,2]'), halfvec_cmp('[3]', '[1,2]');
CREATE TABLE ht (id int, v halfvec(3));
INSERT INTO ht VALUES (1, '[3,2,1]'), (2, '[1,2,3]'), (3, '[1,2,3]'), (4, '[2,2,2]'), (5, NULL);
SELECT v, count(*) FROM ht GROUP BY v ORDER BY v;
CREATE INDEX ON ht (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ht WHERE v = '[1,2,3]';
SELECT id FROM ht WHERE v = '[1,2,3]' ORDER BY id;
RESET enable_seqscan;
INSERT INTO ht VALUES (6, '[1,2]');

-- aggregates
SELECT avg(v), sum(v) FROM ht;
SELECT avg(v) FROM ht WHERE false;
SELECT avg(v) FROM (VALUES ('[65504]'::halfvec), ('[65504]')) t(v);
SELECT sum(v) FROM (VALUES ('[65504]'::halfvec), ('[65504]')) t(v);
SELECT avg(v) FROM (VALUES ('[1,2]'::halfvec), ('[1]')) t(v);
SELECT halfvec_accum('{0}', '[1,2]'), halfvec_avg('{2,2,4}');
SELECT halfvec_avg('{1,NULL}');

-- binary COPY round trip
CREATE TABLE ht2 (id int, v halfvec);
\copy ht TO 'results/halfvec.bin' WITH (FORMAT binary)
\copy ht2 FROM 'results/halfvec.bin' WITH (FORMAT binary)
SELECT count(*) FROM ht a JOIN ht2 b USING (id) WHERE a.v IS NOT DISTINCT FROM b.v;
SELECT halfvec_send('[1,-2,0.5]')::text;
DROP TABLE ht, ht2;
