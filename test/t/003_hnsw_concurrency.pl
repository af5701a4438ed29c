# Many backends searching, inserting, updating and deleting through one hnsw index while
# VACUUM runs: no error, and afterwards the index holds exactly the table's live rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('node');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION quiver;
	CREATE TABLE items (id bigserial PRIMARY KEY, v vector(16));
	ALTER TABLE items SET (autovacuum_enabled = false);
	INSERT INTO items (v) SELECT ARRAY(SELECT random() FROM generate_series(1, 16) WHERE i > 0)::vector(16)
	FROM generate_series(1, 5000) i;
	CREATE INDEX items_v ON items USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);
});

$node->pgbench(
	'--no-vacuum --client=8 --jobs=2 --time=15',
	0,
	[qr{actually processed}],
	[qr{^$}],
	'concurrent searches, inserts, updates, deletes and vacuum',
	{
		'003_mix' => q{
\set r random(1, 100)
\if :r <= 40
SELECT id FROM items ORDER BY v <-> ARRAY(SELECT random() FROM generate_series(1, 16))::vector(16) LIMIT 10;
\elif :r <= 70
INSERT INTO items (v) SELECT ARRAY(SELECT random() FROM generate_series(1, 16))::vector(16);
\elif :r <= 84
DELETE FROM items WHERE id = (SELECT (random() * (SELECT max(id) FROM items))::bigint);
\elif :r <= 98
UPDATE items SET v = ARRAY(SELECT random() FROM generate_series(1, 16))::vector(16) WHERE id = (SELECT (random() * 5000)::bigint);
\else
VACUUM items;
\endif
}
	});

# INDEX_CLEANUP ON: with few dead rows PostgreSQL 15's VACUUM may skip index vacuuming
# altogether (the heap keeps them as LP_DEAD items, and so does the index, legitimately).
# A row deleted just before the final VACUUM also stays (recently dead) while another backend
# still holds an older snapshot, so VACUUM again a few times before comparing; a TID that
# VACUUM failed to remove from the index would never go away.
my ($rows, $elements, $deleted, $tids);
for my $round (1 .. 5)
{
	$node->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) items');
	$rows = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
	($elements, $deleted, $tids) = split(/,/, $node->safe_psql('postgres',
		q{SELECT elements || ',' || deleted_elements || ',' || heap_tids FROM quiver_hnsw_stats('items_v')}));
	last if $tids == $rows && $deleted == 0;
	diag("round $round: index TIDs $tids, live rows $rows, deleted nodes $deleted");
	sleep(1);
}
is($tids, $rows, 'after VACUUM the index holds one heap TID per live row');
is($deleted, '0', 'and no deleted node is left');

# Every row is still reachable: each finds itself as its nearest neighbour (sampled).
my $found = $node->safe_psql('postgres', q{
	SET enable_seqscan = off; SET hnsw.ef_search = 100;
	SELECT count(*) FROM (SELECT id, v FROM items ORDER BY id LIMIT 300) i
	WHERE i.id = (SELECT j.id FROM items j ORDER BY j.v <-> i.v LIMIT 1)});
cmp_ok($found, '>=', 294, 'sampled rows find themselves through the index');

# Inserts run side by side (they share the update lock): 8 clients fill an index that starts
# empty, so the first inserts also race to create and raise the entry point. Lost or torn
# neighbour-list updates would leave rows unreachable or lower recall.
$node->safe_psql('postgres', q{
	CREATE TABLE grown (id bigserial PRIMARY KEY, v vector(12));
	CREATE INDEX grown_v ON grown USING hnsw (v vector_l2_ops) WITH (m = 6, ef_construction = 24);
});
$node->pgbench(
	'--no-vacuum --client=8 --jobs=2 --transactions=1000',
	0,
	[qr{actually processed: 8000/8000}],
	[qr{^$}],
	'8 clients inserting into one index at once',
	{
		'003_insert' => q{
INSERT INTO grown (v) SELECT ARRAY(SELECT random() FROM generate_series(1, 12))::vector(12);
}
	});
is($node->safe_psql('postgres', q{SELECT elements || ',' || heap_tids FROM quiver_hnsw_stats('grown_v')}),
	'8000,8000', 'every concurrently inserted row is in the graph');
my $self_found = $node->safe_psql('postgres', q{
	SET enable_seqscan = off; SET hnsw.ef_search = 100;
	SELECT count(*) FROM grown i WHERE i.id = (SELECT j.id FROM grown j ORDER BY j.v <-> i.v LIMIT 1)});
cmp_ok($self_found, '>=', 7960, 'rows inserted concurrently find themselves through the index');
my $recall = $node->safe_psql('postgres', q{
	SET enable_seqscan = off; SET hnsw.ef_search = 64;
	WITH q AS (SELECT id, v FROM grown WHERE id % 160 = 0),
	exact AS (SELECT q.id AS qid, x.id FROM q CROSS JOIN LATERAL (
		SELECT g.id FROM grown g ORDER BY (g.v <-> q.v)::float8 + 0 LIMIT 10) x),
	approx AS (SELECT q.id AS qid, x.id FROM q CROSS JOIN LATERAL (
		SELECT g.id FROM grown g ORDER BY g.v <-> q.v LIMIT 10) x)
	SELECT round(count(*)::numeric / (SELECT count(*) FROM exact), 3) FROM exact JOIN approx USING (qid, id)});
cmp_ok($recall, '>=', 0.95, "recall\@10 of the concurrently built graph ($recall)");

# A long build reports its phases and progress in pg_stat_progress_create_index.
$node->safe_psql('postgres', q{
	CREATE TABLE big (v vector(32));
	INSERT INTO big SELECT ARRAY(SELECT random() FROM generate_series(1, 32) WHERE i > 0)::vector(32)
	FROM generate_series(1, 120000) i;
});
my $build = $node->background_psql('postgres');
$build->query_until(qr/started/, "\\echo started\nSET maintenance_work_mem = '512MB';\nCREATE INDEX big_v ON big USING hnsw (v vector_l2_ops);\n\\echo built\n");
ok($node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_stat_progress_create_index
	WHERE phase = 'building index: building graph' AND tuples_total = 120000 AND tuples_done >= 0}),
	'the graph phase is visible with its tuple count');
$build->query_until(qr/built/, '');
$build->quit;
is($node->safe_psql('postgres', q{SELECT heap_tids FROM quiver_hnsw_stats('big_v')}), '120000', 'and the build completes');

$node->stop;
done_testing();
