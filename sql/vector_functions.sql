-- distance functions and operators, vector functions, arithmetic, comparisons, aggregates

SELECT l2_distance('[0,0]'::vector, '[3,4]'), '[0,0]'::vector <-> '[3,4]';
SELECT l2_distance('[1,1,1,1,1,1,1,1,1]'::vector, '[1,1,1,1,1,1,1,4,5]');
SELECT l2_distance('[3e38]'::vector, '[-3e38]');
SELECT l2_distance('[1,2]'::vector, '[3]');
SELECT vector_l2_squared_distance('[0,0]'::vector, '[3,4]');

SELECT inner_product('[1,2]'::vector, '[3,4]'), '[1,2]'::vector <#> '[3,4]';
SELECT inner_product('[1,1,1,1,1,1,1,1,1]'::vector, '[1,2,3,4,5,6,7,8,9]');
SELECT inner_product('[3e38]'::vector, '[3e38]');
SELECT inner_product('[1,2]'::vector, '[3]');
SELECT vector_negative_inner_product('[1,2]'::vector, '[3,4]');

SELECT cosine_distance('[1,2]'::vector, '[2,4]'), '[1,2]'::vector <=> '[2,4]';
SELECT cosine_distance('[1,0]'::vector, '[0,2]');
SELECT cosine_distance('[1,1]'::vector, '[-1,-1]');
SELECT cosine_distance('[1,1]'::vector, '[1.1,1.1]');
SELECT cosine_distance('[1,2]'::vector, '[0,0]');
SELECT cosine_distance('[3e38]'::vector, '[3e38]');
SELECT cosine_distance('[1,2,3,4,5,6,7,8,9]'::vector, '[-1,-2,-3,-4,-5,-6,-7,-8,-9]');
SELECT cosine_distance('[1,2]'::vector, '[3]');
SELECT round(vector_spherical_distance('[1,0]'::vector, '[0,1]')::numeric, 6);
SELECT vector_spherical_distance('[1,0]'::vector, '[1,0]'), vector_spherical_distance('[1,0]'::vector, '[-1,0]');

SELECT l1_distance('[0,0]'::vector, '[3,4]'), '[0,0]'::vector <+> '[3,4]';
SELECT l1_distance('[1,2,3,4,5,6,7,8,9]'::vector, '[0,3,2,5,4,7,6,9,8]');
SELECT l1_distance('[3e38]'::vector, '[-3e38]');
SELECT l1_distance('[1,2]'::vector, '[3]');

-- long vectors go through every SIMD lane and the scalar tail; compare with plain SQL sums
WITH v AS (
	SELECT array_agg(sin(i)::real ORDER BY i) AS a, array_agg(cos(i * 0.7)::real ORDER BY i) AS b
	FROM generate_series(1, 1003) i
)
SELECT abs(l2_distance(a::vector, b::vector) - sqrt((SELECT sum((x - y)^2) FROM unnest(a, b) AS t(x, y)))) < 1e-3 AS l2_ok,
       abs(inner_product(a::vector, b::vector) - (SELECT sum(x * y) FROM unnest(a, b) AS t(x, y))) < 1e-3 AS ip_ok,
       abs(l1_distance(a::vector, b::vector) - (SELECT sum(abs(x - y)) FROM unnest(a, b) AS t(x, y))) < 1e-3 AS l1_ok,
       abs(cosine_distance(a::vector, b::vector) - (1 - (SELECT sum(x * y) FROM unnest(a, b) AS t(x, y))
           / sqrt((SELECT sum(x * x) FROM unnest(a) x) * (SELECT sum(y * y) FROM unnest(b) y)))) < 1e-5 AS cos_ok
FROM v;

SELECT vector_dims('[1,2,3]'::vector);
SELECT vector_norm('[3,4]'), vector_norm('[0,0]'), vector_norm('[2]');
SELECT round(vector_norm('[1,1]')::numeric, 5);
SELECT vector_norm('[3e37,4e37]')::real;

SELECT l2_normalize('[3,4]'::vector);
SELECT l2_normalize('[3,0]'::vector);
SELECT l2_normalize('[0,0.1]'::vector);
SELECT l2_normalize('[0,0]'::vector);
SELECT l2_normalize('[3e38]'::vector);

SELECT binary_quantize('[1,0,-1]'::vector);
SELECT binary_quantize('[0,0.1,-0.2,-0.3,0.4,0.5,0.6,-0.7,0.8,-0.9,1]'::vector);
SELECT binary_quantize('[1,2,3,-4,5,6,-7,8,1,-2,-3,4,5,-6,7,8,-1,2,3]'::vector);

SELECT subvector('[1,2,3,4,5]'::vector, 1, 3);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 2);
SELECT subvector('[1,2,3,4,5]'::vector, -1, 3);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 9);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 2147483647);
SELECT subvector('[1,2,3,4,5]'::vector, -2147483644, 2147483647);
SELECT subvector('[1,2,3,4,5]'::vector, 1, 0);
SELECT subvector('[1,2,3,4,5]'::vector, 3, -1);
SELECT subvector('[1,2,3,4,5]'::vector, -1, 2);
SELECT subvector('[1,2,3,4,5]'::vector, 6, 1);
SELECT subvector('[1,2,3,4,5]'::vector, 2147483647, 10);

-- arithmetic: element-wise, with float4's overflow and underflow errors
SELECT '[1,2,3]'::vector + '[4,5,6]', '[1,2,3]'::vector - '[4,5,6]', '[1,2,3]'::vector * '[4,5,6]';
SELECT '[3e38]'::vector + '[3e38]';
SELECT '[-3e38]'::vector - '[3e38]';
SELECT '[1e37]'::vector * '[1e37]';
SELECT '[1e-37]'::vector * '[1e-37]';
SELECT '[0,2]'::vector * '[1e-37,0]';
SELECT '[1,2]'::vector + '[3]';
SELECT '[1,2]'::vector - '[3]';
SELECT '[1,2]'::vector * '[3]';
SELECT '[1,2,3]'::vector || '[4,5]';
SELECT vector_dims(array_fill(0, ARRAY[15999])::vector || '[1]');
SELECT array_fill(0, ARRAY[16000])::vector || '[1]';

-- comparisons: element by element, then by length (like arrays)
SELECT v1, v2, v1 < v2 AS lt, v1 <= v2 AS le, v1 = v2 AS eq, v1 <> v2 AS ne, v1 >= v2 AS ge, v1 > v2 AS gt,
       vector_cmp(v1, v2) AS cmp
FROM (VALUES ('[1,2,3]'::vector, '[1,2,3]'::vector), ('[1,2,3]', '[1,2]'), ('[1,2]', '[1,2,3]'),
             ('[1,2]', '[2]'), ('[0,0,0]', '[1,2,3]'), ('[-0]', '[0]'), ('[2,3]', '[1,2,3]')) AS t(v1, v2);

-- aggregates
SELECT avg(v), sum(v) FROM unnest(ARRAY['[1,2,3]'::vector, '[3,5,7]']) v;
SELECT avg(v), sum(v) FROM unnest(ARRAY['[1,2,3]'::vector, '[3,5,7]', NULL]) v;
SELECT avg(v), sum(v) FROM unnest(ARRAY[]::vector[]) v;
SELECT avg(v) FROM unnest(ARRAY['[1,2]'::vector, '[3]']) v;
SELECT sum(v) FROM unnest(ARRAY['[1,2]'::vector, '[3]']) v;
SELECT avg(v) FROM unnest(ARRAY['[3e38]'::vector, '[3e38]']) v;
SELECT sum(v) FROM unnest(ARRAY['[3e38]'::vector, '[3e38]']) v;
SELECT g, avg(v), sum(v) FROM (VALUES (1, '[1,1]'::vector), (1, '[3,5]'), (2, '[10,20]')) AS t(g, v) GROUP BY g ORDER BY g;

-- aggregate support functions, called directly with bad states
SELECT vector_accum('{0}', '[1,2,3]');
SELECT vector_accum('{0,0,0,0}', '[1,2,3]');
SELECT vector_accum('{{0}}', '[1,2,3]');
SELECT vector_accum('{NULL}', '[1,2,3]');
SELECT vector_accum('{}', '[1,2,3]');
SELECT vector_accum('{0,0}', '[1,2,3]');
SELECT vector_combine('{1,2}', '{3,4}');
SELECT vector_combine('{1,2}', '{3,4,5}');
SELECT vector_combine('{{1,2}}', '{3,4}');
SELECT vector_combine('{NULL,2}', '{3,4}');
SELECT vector_combine('{}', '{0}');
SELECT vector_combine('{0}', '{0}');
SELECT vector_combine('{0}', '{2,4,6}'), vector_combine('{2,4,6}', '{0}');
SELECT vector_combine('{0}', (SELECT array_agg(n) FROM generate_series(1, 16002) n));
SELECT vector_avg('{2,2,4,6}');
SELECT vector_avg('{0}');
SELECT vector_avg('{1}');
SELECT vector_avg('{{2,2,4,6}}');
SELECT vector_avg('{NULL,2,4,6}');
SELECT vector_avg('{}');
SELECT vector_avg(array_agg(n)) FROM generate_series(1, 16002) n;

-- every function is immutable, strict and parallel safe, except Quiver's own diagnostics
SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel, p.procost
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'quiver'
WHERE NOT (p.provolatile = 'i' AND p.proisstrict AND p.proparallel = 's' AND p.procost = 1)
ORDER BY 1;
SELECT count(*) > 40 AS many_functions FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'quiver';

-- avg and sum can run in parallel workers
SELECT aggfnoid::regprocedure, aggcombinefn, proparallel
FROM pg_aggregate JOIN pg_proc ON pg_proc.oid = aggfnoid
WHERE aggfnoid IN ('avg(vector)'::regprocedure, 'sum(vector)'::regprocedure) ORDER BY 1::text;

-- a parallel avg over no rows: the workers and the leader hand on empty states, which the
-- combine function must merge into an empty one (NULL), not reject as a direct call does
CREATE TABLE par_avg (v vector(3), h halfvec(3));
INSERT INTO par_avg SELECT ARRAY[i, 2 * i, 3 * i], ARRAY[i, 2 * i, 3 * i] FROM generate_series(1, 1000) i;
ANALYZE par_avg;
SET parallel_setup_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
-- (the planner expects a third of the rows to pass, so it aggregates in the workers)
EXPLAIN (COSTS OFF) SELECT avg(v), avg(h) FROM par_avg WHERE l2_distance(v, '[0,0,0]') < 0;
SELECT avg(v) IS NULL AS v_null, avg(h) IS NULL AS h_null FROM par_avg WHERE l2_distance(v, '[0,0,0]') < 0;
SELECT avg(v), avg(h) FROM par_avg;
RESET parallel_setup_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE par_avg;
