-- Exact k-NN through the operators agrees with a brute force written in plain SQL, for every
-- distance, on random data, with and without a relational filter, and in parallel plans.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION quiver;
SELECT plan(11);

SELECT setseed(0.42);
CREATE TEMP TABLE items (id int PRIMARY KEY, tenant int, emb real[], v vector(24));
INSERT INTO items (id, tenant, emb)
SELECT i, i % 5, ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, 24) WHERE i > 0)
FROM generate_series(1, 2000) i;
UPDATE items SET v = emb::vector(24);
CREATE TEMP TABLE queries AS
SELECT q, ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, 24) WHERE q > 0) AS emb FROM generate_series(1, 20) q;

-- Brute-force distances in float8 SQL arithmetic, independent of Quiver's kernels.
CREATE TEMP VIEW truth AS
SELECT q.q, i.id, i.tenant,
       sqrt((SELECT sum((a - b) ^ 2) FROM unnest(i.emb, q.emb) t(a, b))) AS l2,
       -(SELECT sum(a * b) FROM unnest(i.emb, q.emb) t(a, b)) AS nip,
       1 - (SELECT sum(a * b) FROM unnest(i.emb, q.emb) t(a, b))
         / sqrt((SELECT sum(a * a) FROM unnest(i.emb) a) * (SELECT sum(b * b) FROM unnest(q.emb) b)) AS cos,
       (SELECT sum(abs(a - b)) FROM unnest(i.emb, q.emb) t(a, b)) AS l1
FROM queries q CROSS JOIN items i;
CREATE TEMP TABLE truth_m AS SELECT * FROM truth;

CREATE FUNCTION pg_temp.agreement(op text, col text, filter text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	hits int := 0;
	total int := 0;
	got int[];
	want int[];
	r record;
BEGIN
	FOR r IN SELECT q, emb FROM queries LOOP
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM items WHERE %s ORDER BY v %s $1 LIMIT 10) s', filter, op)
			INTO got USING r.emb::vector(24);
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM truth_m WHERE q = $1 AND %s ORDER BY %I LIMIT 10) s', filter, col)
			INTO want USING r.q;
		total := total + 10;
		hits := hits + (SELECT count(*) FROM unnest(got) g WHERE g = ANY (want));
	END LOOP;
	RETURN hits::float8 / total;
END $$;

SELECT is(pg_temp.agreement('<->', 'l2', 'true'), 1::float8, 'L2 top-10 equals brute force');
SELECT is(pg_temp.agreement('<#>', 'nip', 'true'), 1::float8, 'inner product top-10 equals brute force');
SELECT is(pg_temp.agreement('<=>', 'cos', 'true'), 1::float8, 'cosine top-10 equals brute force');
SELECT is(pg_temp.agreement('<+>', 'l1', 'true'), 1::float8, 'L1 top-10 equals brute force');
SELECT is(pg_temp.agreement('<->', 'l2', 'tenant = 3'), 1::float8, 'filtered L2 top-10 equals brute force');
SELECT is(pg_temp.agreement('<=>', 'cos', 'tenant IN (1, 4)'), 1::float8, 'filtered cosine top-10 equals brute force');

-- distances themselves agree to float32 precision
SELECT ok((SELECT max(abs((i.v <-> q.emb::vector(24)) - t.l2)) FROM items i, queries q, truth_m t
           WHERE t.q = q.q AND t.id = i.id) < 1e-5, 'L2 distances match float8 brute force');
SELECT ok((SELECT max(abs((i.v <+> q.emb::vector(24)) - t.l1)) FROM items i, queries q, truth_m t
           WHERE t.q = q.q AND t.id = i.id) < 1e-4, 'L1 distances match float8 brute force');

-- a parallel plan gives the same answer
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SELECT is(pg_temp.agreement('<->', 'l2', 'true'), 1::float8, 'L2 top-10 in a parallel plan');
SELECT is((SELECT avg(v) FROM items)::text,
          (SELECT ARRAY(SELECT avg(e)::real FROM items, unnest(emb) WITH ORDINALITY u(e, n) GROUP BY n ORDER BY n))::vector::text,
          'parallel avg(vector) equals per-dimension avg');
SELECT ok((SELECT l2_distance(sum(v), (SELECT ARRAY(SELECT sum(e)::real FROM items, unnest(emb) WITH ORDINALITY u(e, n) GROUP BY n ORDER BY n))::vector) FROM items) < 1e-2,
          'parallel sum(vector) equals per-dimension sum');

SELECT * FROM finish();
ROLLBACK;
