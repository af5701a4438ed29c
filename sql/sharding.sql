-- Scale-out helpers (quiver_sharded_query, quiver_sharded_search, quiver_create_shards,
-- quiver_shards_execute, quiver_shard_settings): what works without remote servers, and every
-- error. The multi-server behaviour is in test/t/005_sharding.pl.
SET client_min_messages = warning;

CREATE TABLE parts (id int NOT NULL, category int, v vector(2)) PARTITION BY HASH (id);
CREATE TABLE parts_0 PARTITION OF parts FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE parts_1 PARTITION OF parts FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO parts SELECT i, i % 3, ARRAY[cos(i * 0.7), sin(i * 1.3)] FROM generate_series(1, 60) i;
CREATE INDEX ON parts USING hnsw (v vector_l2_ops);

-- The query: one ORDER BY ... LIMIT subquery per partition.
SELECT quiver_sharded_query('parts', 'v', '<->', 3, 'category = 1');

-- Local partitions: the same rows, in the same order, as the plain query.
SELECT id, round((v <-> '[0.5,0.5]')::numeric, 4) AS d
FROM quiver_sharded_search(NULL::parts, 'v', '<->', '[0.5,0.5]'::vector, 5);
SELECT id, round((v <-> '[0.5,0.5]')::numeric, 4) AS d FROM parts ORDER BY v <-> '[0.5,0.5]' LIMIT 5;
SELECT array_agg(id) FROM quiver_sharded_search(NULL::parts, 'v', '<=>', '[1,0]'::vector, 4, 'category = 2');
SELECT array_agg(id) FROM (SELECT id FROM parts WHERE category = 2 ORDER BY v <=> '[1,0]' LIMIT 4) s;
-- A query in text is cast to the column's type.
SELECT count(*) FROM quiver_sharded_search(NULL::parts, 'v', '<#>', '[1,1]'::text, 7);
-- A NULL query is near nothing.
SELECT count(*) FROM quiver_sharded_search(NULL::parts, 'v', '<->', NULL::vector, 3);
-- Dropped columns: the rows still come back in the table's row type.
CREATE TABLE dropped (id int, junk text, v vector(2), tag text) PARTITION BY HASH (id);
CREATE TABLE dropped_0 PARTITION OF dropped FOR VALUES WITH (MODULUS 1, REMAINDER 0);
INSERT INTO dropped VALUES (1, 'x', '[1,1]', 'one'), (2, 'y', '[2,2]', 'two'), (3, 'z', '[3,3]', 'three');
ALTER TABLE dropped DROP COLUMN junk;
SELECT * FROM quiver_sharded_search(NULL::dropped, 'v', '<->', '[2.1,2.1]'::vector, 2);
DROP TABLE dropped;
-- Plans are kept across calls: a kept plan follows changes of the tables and of the
-- search_path, and more searches than the cache holds still answer.
CREATE SCHEMA s1;
CREATE SCHEMA s2;
CREATE FUNCTION s1.wanted() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 1';
CREATE FUNCTION s2.wanted() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 2';
SET search_path = s1, public;
SELECT array_agg(category) FROM quiver_sharded_search(NULL::parts, 'v', '<->', '[0,0]'::vector, 3, 'category = wanted()');
SET search_path = s2, public;
SELECT array_agg(category) FROM quiver_sharded_search(NULL::parts, 'v', '<->', '[0,0]'::vector, 3, 'category = wanted()');
RESET search_path;
DROP SCHEMA s1, s2 CASCADE;
CREATE TABLE kept (id int, v vector(2)) PARTITION BY HASH (id);
CREATE TABLE kept_0 PARTITION OF kept FOR VALUES WITH (MODULUS 1, REMAINDER 0);
INSERT INTO kept VALUES (1, '[1,1]');
SELECT id FROM quiver_sharded_search(NULL::kept, 'v', '<->', '[0,0]'::vector, 1);
-- Same name, new table: the kept plan is replanned, not run against the old one.
DROP TABLE kept_0;
CREATE TABLE kept_0 PARTITION OF kept FOR VALUES WITH (MODULUS 1, REMAINDER 0);
INSERT INTO kept VALUES (2, '[2,2]');
SELECT id FROM quiver_sharded_search(NULL::kept, 'v', '<->', '[0,0]'::vector, 1);
DROP TABLE kept;
SELECT count(*) FROM generate_series(1, 20) k,
	LATERAL quiver_sharded_search(NULL::parts, 'v', '<->', '[0,0]'::vector, k, 'id > ' || k);
-- The first of those was evicted and is prepared again.
SELECT id FROM quiver_sharded_search(NULL::parts, 'v', '<->', '[0,0]'::vector, 1, 'id > 1');
-- A filter that runs more searches than the cache holds does not free the plan of the search
-- it filters for.
CREATE FUNCTION twenty_searches() RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM generate_series(1, 20) k,
		LATERAL quiver_sharded_search(NULL::parts, 'v', '<#>', '[0,1]'::vector, k, 'id < ' || (k + 30))
$$;
SELECT array_agg(id) FROM quiver_sharded_search(NULL::parts, 'v', '<->', '[0.5,0.5]'::vector, 3, 'twenty_searches() = 210');
SELECT array_agg(id) FROM quiver_sharded_search(NULL::parts, 'v', '<->', '[0.5,0.5]'::vector, 3, 'twenty_searches() = 210');
DROP FUNCTION twenty_searches();
-- No local partition needs settings.
SELECT quiver_shard_settings('parts') LIKE 'SET hnsw.ef_search = %';

-- Errors.
SELECT quiver_sharded_query('parts', 'v', '<<', 3);
SELECT quiver_sharded_query('parts', 'v', '<->; DROP TABLE parts', 3);
SELECT quiver_sharded_query('parts', 'v', '<->', 0);
SELECT quiver_sharded_query('parts', 'nope', '<->', 3);
SELECT quiver_sharded_query('parts_0', 'v', '<->', 3);
SELECT * FROM quiver_sharded_search(1, 'v', '<->', '[1,1]'::vector, 3);
SELECT * FROM quiver_sharded_search(NULL::parts, 'v', '<->', '[1,1,1]'::vector, 3);
SELECT * FROM quiver_sharded_search(NULL::parts, 'v', NULL, '[1,1]'::vector, 3);
CREATE TABLE empty_parts (id int, v vector(2)) PARTITION BY HASH (id);
SELECT quiver_sharded_query('empty_parts', 'v', '<->', 3);
SELECT quiver_create_shards('parts', '{}');

CREATE EXTENSION postgres_fdw;
CREATE SERVER no_ext FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'nowhere');
CREATE SERVER with_ext FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'nowhere', extensions 'plpgsql, Quiver');
CREATE FOREIGN DATA WRAPPER no_handler;
CREATE SERVER other FOREIGN DATA WRAPPER no_handler;
SELECT quiver_create_shards('empty_parts', '{}');
SELECT quiver_create_shards('empty_parts', '{no_ext}');
SELECT quiver_create_shards('empty_parts', '{other}');
SELECT quiver_create_shards('empty_parts', '{with_ext,with_ext}');
SELECT quiver_create_shards('empty_parts', '{missing}');
SELECT quiver_create_shards('parts', '{with_ext}');
CREATE TABLE list_parts (id int, v vector(2)) PARTITION BY LIST (id);
SELECT quiver_create_shards('list_parts', '{with_ext}');
SELECT quiver_create_shards('parts_0', '{with_ext}');
-- A foreign partition on a server that would not ship the operators.
CREATE TABLE mixed (id int, v vector(2)) PARTITION BY HASH (id);
CREATE FOREIGN TABLE mixed_0 PARTITION OF mixed FOR VALUES WITH (MODULUS 1, REMAINDER 0) SERVER no_ext;
SELECT * FROM quiver_sharded_search(NULL::mixed, 'v', '<->', '[1,1]'::vector, 3);
SELECT quiver_shards_execute('mixed', 'SELECT 1');
-- Ownership: another role may search but not run commands on the shards.
CREATE ROLE shard_reader;
GRANT SELECT ON parts TO shard_reader;
SET ROLE shard_reader;
-- The partitions are read directly: their own privileges apply.
SELECT count(*) FROM quiver_sharded_search(NULL::parts, 'v', '<->', '[0,0]'::vector, 3);
RESET ROLE;
GRANT SELECT ON parts_0, parts_1 TO shard_reader;
SET ROLE shard_reader;
SELECT count(*) FROM quiver_sharded_search(NULL::parts, 'v', '<->', '[0,0]'::vector, 3);
SELECT quiver_shards_execute('parts', 'SELECT 1');
SELECT quiver_create_shards('empty_parts', '{with_ext}');
RESET ROLE;
-- Row-level security of the parent would not apply to the partitions: refused, not bypassed.
ALTER TABLE parts ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_one ON parts FOR SELECT USING (category = 1);
SET ROLE shard_reader;
SELECT count(*) FROM quiver_sharded_search(NULL::parts, 'v', '<->', '[0,0]'::vector, 3);
RESET ROLE;
-- The owner is not subject to the policy.
SELECT count(*) FROM quiver_sharded_search(NULL::parts, 'v', '<->', '[0,0]'::vector, 3);
REVOKE ALL ON parts, parts_0, parts_1 FROM shard_reader;
DROP ROLE shard_reader;
DROP TABLE parts, empty_parts, list_parts, mixed;
DROP SERVER no_ext, with_ext, other;
DROP FOREIGN DATA WRAPPER no_handler;
DROP EXTENSION postgres_fdw;
