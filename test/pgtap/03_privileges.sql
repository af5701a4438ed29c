-- Privileges and row-level security apply to vector columns and similarity queries.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION quiver;
SELECT plan(11);

CREATE TABLE docs (id int PRIMARY KEY, tenant text NOT NULL, embedding vector(2) NOT NULL);
INSERT INTO docs SELECT i, CASE WHEN i % 2 = 0 THEN 'acme' ELSE 'globex' END, ARRAY[i, -i]::vector(2)
FROM generate_series(1, 40) i;

CREATE ROLE quiver_tap_reader NOLOGIN;
CREATE ROLE quiver_tap_outsider NOLOGIN;
GRANT SELECT ON docs TO quiver_tap_reader;
ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON docs USING (tenant = current_setting('app.tenant', true));

SET LOCAL ROLE quiver_tap_outsider;
SELECT throws_ok($$SELECT id FROM docs ORDER BY embedding <-> '[1,1]' LIMIT 3$$, '42501', NULL,
                 'a role without SELECT cannot run a similarity query');
RESET ROLE;

SET LOCAL ROLE quiver_tap_reader;
SELECT is((SELECT count(*)::int FROM docs), 0, 'no tenant set: RLS hides every row');
SET LOCAL app.tenant = 'acme';
SELECT is((SELECT count(*)::int FROM (SELECT id FROM docs ORDER BY embedding <-> '[3,-3]' LIMIT 5) s), 5,
          'k rows come back under RLS');
SELECT is((SELECT bool_and(tenant = 'acme') FROM (SELECT tenant FROM docs ORDER BY embedding <-> '[3,-3]' LIMIT 5) s), true,
          'only the tenant''s rows come back');
SELECT is((SELECT array_agg(id) FROM (SELECT id FROM docs ORDER BY embedding <-> '[1.9,-1.9]' LIMIT 3) s), ARRAY[2, 4, 6],
          'the nearest of the tenant''s rows, in order');
RESET ROLE;

-- the same through an hnsw index, with a small ef_search: iterative scans keep going until
-- k of the tenant's rows pass the policy
CREATE INDEX docs_embedding_idx ON docs USING hnsw (embedding vector_l2_ops) WITH (m = 4, ef_construction = 8);
CREATE FUNCTION pg_temp.plan(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	line text;
	result text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		result := result || line || E'\n';
	END LOOP;
	RETURN result;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.plan(text) TO quiver_tap_reader;
SET LOCAL enable_seqscan = off;
SET LOCAL hnsw.ef_search = 4;
SET LOCAL hnsw.iterative_scan = strict_order;
SET LOCAL ROLE quiver_tap_reader;
SET LOCAL app.tenant = 'globex';
SELECT matches(pg_temp.plan($$SELECT id FROM docs ORDER BY embedding <-> '[1.9,-1.9]' LIMIT 8$$),
               'Index Scan using docs_embedding_idx', 'the ANN query under RLS uses the hnsw index');
SELECT is((SELECT count(*)::int FROM (SELECT id FROM docs ORDER BY embedding <-> '[1.9,-1.9]' LIMIT 8) s), 8,
          'k rows come back through the index under RLS with iterative scans');
SELECT is((SELECT bool_and(tenant = 'globex') FROM (SELECT tenant FROM docs ORDER BY embedding <-> '[1.9,-1.9]' LIMIT 8) s), true,
          'only the tenant''s rows come back through the index');
SELECT is((SELECT array_agg(id) FROM (SELECT id FROM docs ORDER BY embedding <-> '[1.9,-1.9]' LIMIT 3) s), ARRAY[1, 3, 5],
          'the tenant''s nearest rows, in order');
RESET ROLE;
RESET hnsw.iterative_scan;
RESET hnsw.ef_search;
RESET enable_seqscan;

-- non-superusers can use every function (except the self-test)
SET LOCAL ROLE quiver_tap_reader;
SELECT lives_ok($$SELECT l2_normalize('[3,4]'::vector), quiver_kernel_level(), avg(v) FROM (VALUES ('[1]'::vector)) t(v)$$,
                'ordinary functions need no special privilege');
SELECT throws_ok($$SELECT quiver_selftest_raise('core')$$, '42501', NULL, 'the self-test function is not granted to PUBLIC');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
