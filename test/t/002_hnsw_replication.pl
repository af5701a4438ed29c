# hnsw index pages under WAL: a streaming standby replays the build, inserts, deletes and
# vacuum of an hnsw index (also one of 2,100 dimensions at half precision, two of 4,500 as 8- and
# 4-bit codes, and a sparsevec one cutting rows of up to 1,700 non-zeros) and answers the
# same k-NN queries as the primary; a crash (immediate stop) loses nothing; a cancelled build
# leaves nothing behind.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $dim = 8;
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

my $vec_sql = "ARRAY(SELECT sin(i * j * 0.37 + j) FROM generate_series(1, $dim) j)::vector($dim)";
$primary->safe_psql('postgres', qq{
	CREATE EXTENSION quiver;
	CREATE TABLE items (id int PRIMARY KEY, v vector($dim));
	ALTER TABLE items SET (autovacuum_enabled = false);
	INSERT INTO items SELECT i, $vec_sql FROM generate_series(1, 3000) i;
	CREATE INDEX items_v ON items USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);
	CREATE TABLE wide (id int PRIMARY KEY, v vector(2100));
	ALTER TABLE wide SET (autovacuum_enabled = false);
	INSERT INTO wide SELECT i, ARRAY(SELECT sin(i * 0.37 + j * 0.011 * (1 + i % 5)) FROM generate_series(1, 2100) j)
	FROM generate_series(1, 300) i;
	CREATE INDEX wide_v ON wide USING hnsw (v vector_cosine_ops) WITH (quantizer = 'half');
	CREATE TABLE widest (id int PRIMARY KEY, v vector(4500));
	ALTER TABLE widest SET (autovacuum_enabled = false);
	INSERT INTO widest SELECT i, ARRAY(SELECT sin(i * 0.29 + j * 0.013 * (1 + i % 4)) FROM generate_series(1, 4500) j)
	FROM generate_series(1, 200) i;
	CREATE INDEX widest_v ON widest USING hnsw (v vector_l2_ops) WITH (quantizer = 'sq8');
	CREATE INDEX widest_c ON widest USING hnsw (v vector_cosine_ops) WITH (quantizer = 'sq4');
	CREATE TABLE sparse (id int PRIMARY KEY, v sparsevec(20000));
	ALTER TABLE sparse SET (autovacuum_enabled = false);
	INSERT INTO sparse SELECT i, ('{' || (SELECT string_agg(k || ':' || round((1 + sin(i * k))::numeric, 3) + 0.01, ',')
	                                        FROM generate_series(i % 50 + 1, 19000, 11 + i % 5) k) || '}/20000')::sparsevec
	FROM generate_series(1, 150) i;
	CREATE INDEX sparse_v ON sparse USING hnsw (v sparsevec_ip_ops) WITH (quantizer = 'truncate');
});
my $widest_sql = "ARRAY(SELECT sin(i * 0.29 + j * 0.013 * (1 + i % 4)) FROM generate_series(1, 4500) j)";
my $wide_sql = "ARRAY(SELECT sin(i * 0.37 + j * 0.011 * (1 + i % 5)) FROM generate_series(1, 2100) j)";

my @queries = map { my $q = $_; '[' . join(',', map { sprintf('%.4f', cos($q * $_ * 0.71)) } 1 .. $dim) . ']' } 1 .. 15;

# The 5 nearest rows, by the index, to every step-th row of a table.
sub self_neighbours
{
	my ($node, $table, $op, $last, $step) = @_;
	return $node->safe_psql('postgres', qq{
		SET enable_seqscan = off;
		SELECT string_agg(a, ';' ORDER BY q) FROM (
			SELECT q, (SELECT string_agg(id::text, ',') FROM (
				SELECT id FROM $table ORDER BY v $op (SELECT v FROM $table WHERE id = q) LIMIT 5) s) AS a
			FROM generate_series(1, $last, $step) q) t});
}

sub answers
{
	my ($node) = @_;
	return join(';', map {
		$node->safe_psql('postgres', "SET enable_seqscan = off; SET hnsw.ef_search = 60; "
			  . "SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY v <-> '$_' LIMIT 10) s");
	} @queries)
	  . ' wide: ' . self_neighbours($node, 'wide', '<=>', 300, 37)
	  . ' widest: ' . self_neighbours($node, 'widest', '<->', 200, 37)
	  . ' widest cosine: ' . self_neighbours($node, 'widest', '<=>', 200, 37)
	  . ' sparse: ' . self_neighbours($node, 'sparse', '<#>', 150, 29);
}

sub compare
{
	my ($what) = @_;
	$primary->wait_for_catchup($standby);
	is(answers($standby), answers($primary), "standby answers as the primary after $what");
}

compare('the build');

$primary->safe_psql('postgres', "INSERT INTO items SELECT i, $vec_sql FROM generate_series(3001, 3600) i");
$primary->safe_psql('postgres', "INSERT INTO wide SELECT i, $wide_sql FROM generate_series(301, 400) i");
$primary->safe_psql('postgres', "INSERT INTO widest SELECT i, $widest_sql FROM generate_series(201, 260) i");
$primary->safe_psql('postgres', q{INSERT INTO sparse SELECT i, ('{' || (SELECT string_agg(k || ':' || round((1 + sin(i * k))::numeric, 3) + 0.01, ',')
	FROM generate_series(i % 50 + 1, 19000, 11 + i % 5) k) || '}/20000')::sparsevec FROM generate_series(151, 180) i});
compare('inserts');

$primary->safe_psql('postgres', 'DELETE FROM items WHERE id % 3 = 0');
$primary->safe_psql('postgres', 'DELETE FROM wide WHERE id % 3 = 0 AND id % 37 <> 1');
$primary->safe_psql('postgres', 'DELETE FROM widest WHERE id % 3 = 0 AND id % 37 <> 1');
$primary->safe_psql('postgres', 'DELETE FROM sparse WHERE id % 3 = 0 AND id % 29 <> 1');
compare('deletes');

$primary->safe_psql('postgres', 'VACUUM items');
$primary->safe_psql('postgres', 'VACUUM wide');
$primary->safe_psql('postgres', 'VACUUM widest');
$primary->safe_psql('postgres', 'VACUUM sparse');
compare('vacuum');
is($primary->safe_psql('postgres', "SELECT count(*) FROM quiver_hnsw_check('wide_v')"), '0',
	'the half-precision index passes the checker after vacuum');
is($primary->safe_psql('postgres', "SELECT count(*) FROM quiver_hnsw_check('widest_v')"), '0',
	'the 8-bit index passes the checker after vacuum');
is($primary->safe_psql('postgres', "SELECT count(*) FROM quiver_hnsw_check('widest_c')"), '0',
	'the 4-bit index passes the checker after vacuum');
is($primary->safe_psql('postgres', "SELECT count(*) FROM quiver_hnsw_check('sparse_v')"), '0',
	'the truncating sparse index passes the checker after vacuum');

$primary->safe_psql('postgres', "INSERT INTO items SELECT i, $vec_sql FROM generate_series(3601, 4200) i");
compare('inserts into freed space');

is($standby->safe_psql('postgres',
	"SET enable_seqscan = off; SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> '$queries[0]' LIMIT 100) s WHERE id % 3 = 0 AND id <= 3600"),
	'0', 'the standby never returns deleted rows');

# Every live row can find itself: the graph stayed connected through deletes and vacuum.
sub self_found
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{
		SET enable_seqscan = off; SET hnsw.ef_search = 100;
		SELECT count(*) FROM items i
		WHERE i.id % 7 = 1 AND i.id = (SELECT j.id FROM items j ORDER BY j.v <-> i.v LIMIT 1)});
}
my $expected = $primary->safe_psql('postgres', 'SELECT count(*) FROM items WHERE id % 7 = 1');
# (Measured on this data over 31 runs: mean 98.9%, lowest 95.8%; the level draws and the
# threads' insert order are random. Later: 424 to 428 of 429 in 5 runs, and once 402 (93.7%).
# Repairing from local candidates only gave 93%.)
cmp_ok(self_found($primary), '>=', int($expected * 0.92), 'live rows are reachable after vacuum');

# An unlogged table's index is rebuilt from its init fork after a crash.
$primary->safe_psql('postgres', q{
	CREATE UNLOGGED TABLE scratch (v vector(2));
	CREATE INDEX scratch_v ON scratch USING hnsw (v vector_l2_ops);
	INSERT INTO scratch VALUES ('[1,1]'), ('[2,2]');
});

# Crash: no checkpoint, recovery replays the generic WAL records.
my $before = answers($primary);
$primary->stop('immediate');
$primary->start;
is(answers($primary), $before, 'the same answers after crash recovery');
is($primary->safe_psql('postgres', q{
	INSERT INTO scratch VALUES ('[3,3]');
	SET enable_seqscan = off;
	SELECT string_agg(v::text, ' ') FROM (SELECT v FROM scratch ORDER BY v <-> '[0,0]' LIMIT 5) s}),
	'[3,3]', 'an unlogged hnsw index starts empty after a crash and works');
$primary->safe_psql('postgres', "INSERT INTO items SELECT i, $vec_sql FROM generate_series(4201, 4400) i");
compare('recovery and more inserts');

# A cancelled build stops and leaves nothing behind.
$primary->safe_psql('postgres', qq{
	CREATE TABLE big (v vector(32));
	INSERT INTO big SELECT ARRAY(SELECT random() FROM generate_series(1, 32) WHERE i > 0)::vector(32) FROM generate_series(1, 150000) i;
});
my ($ret, $out, $err) = $primary->psql('postgres',
	"SET statement_timeout = '400ms'; SET maintenance_work_mem = '512MB'; CREATE INDEX big_v ON big USING hnsw (v vector_l2_ops)");
like($err, qr/canceling statement due to statement timeout/, 'a build can be cancelled');
is($primary->safe_psql('postgres', "SELECT count(*) FROM pg_class WHERE relname = 'big_v'"), '0', 'and leaves no index');
is($primary->safe_psql('postgres', 'SELECT count(*) FROM pg_stat_progress_create_index'), '0', 'nor a build in progress');
$primary->safe_psql('postgres', 'DROP TABLE big');

# The standby got the unlogged index's init fork through the WAL: once promoted, the table
# starts empty and its index works.
$primary->wait_for_catchup($standby);
$standby->promote;
is($standby->safe_psql('postgres', q{
	INSERT INTO scratch VALUES ('[5,5]');
	SET enable_seqscan = off;
	SELECT string_agg(v::text, ' ') FROM (SELECT v FROM scratch ORDER BY v <-> '[0,0]' LIMIT 5) s}),
	'[5,5]', 'a promoted standby has a working unlogged hnsw index');

$standby->stop;
$primary->stop;
done_testing();
