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

$node->safe_psql('postgres', 'VACUUM items');
my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
my $stats = $node->safe_psql('postgres', q{SELECT elements || ',' || deleted_elements || ',' || heap_tids FROM quiver_hnsw_stats('items_v')});
my ($elements, $deleted, $tids) = split(/,/, $stats);
is($tids, $rows, 'after VACUUM the index holds one heap TID per live row');
is($deleted, '0', 'and no deleted node is left');

# Every row is still reachable: each finds itself as its nearest neighbour (sampled).
my $found = $node->safe_psql('postgres', q{
	SET enable_seqscan = off; SET hnsw.ef_search = 100;
	SELECT count(*) FROM (SELECT id, v FROM items ORDER BY id LIMIT 300) i
	WHERE i.id = (SELECT j.id FROM items j ORDER BY j.v <-> i.v LIMIT 1)});
cmp_ok($found, '>=', 294, 'sampled rows find themselves through the index');

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
