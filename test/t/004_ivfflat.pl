# ivfflat index pages under WAL and under concurrency: a streaming standby replays the build,
# inserts (including new list pages), deletes and vacuum, and answers as the primary; a crash
# loses nothing; an unlogged index restarts empty and works; a cancelled build leaves nothing;
# many backends inserting, deleting, searching and vacuuming leave exactly the live rows;
# quiver_ivfflat_check finds nothing wrong after each of those, and reports a damaged page.
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
	CREATE INDEX items_v ON items USING ivfflat (v vector_l2_ops) WITH (lists = 20);
});

my @queries = map { my $q = $_; '[' . join(',', map { sprintf('%.4f', cos($q * $_ * 0.71)) } 1 .. $dim) . ']' } 1 .. 15;

sub answers
{
	my ($node) = @_;
	return join(';', map {
		$node->safe_psql('postgres', "SET enable_seqscan = off; SET ivfflat.probes = 3; "
			  . "SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY v <-> '$_', id LIMIT 10) s");
	} @queries);
}

sub compare
{
	my ($what) = @_;
	$primary->wait_for_catchup($standby);
	is(answers($standby), answers($primary), "standby answers as the primary after $what");
}

# With every list probed, the index returns each live row exactly once.
sub all_rows_indexed
{
	my ($node, $what) = @_;
	is($node->safe_psql('postgres', q{
		SET enable_seqscan = off; SET ivfflat.probes = 20;
		SELECT count(*) || '/' || count(DISTINCT id) FROM (SELECT id FROM items ORDER BY v <-> (SELECT NULL::vector)) s}),
		$node->safe_psql('postgres', q{SELECT count(*) || '/' || count(*) FROM items WHERE v IS NOT NULL}),
		"every live row is in the index once ($what)");
}

compare('the build');
all_rows_indexed($primary, 'build');

# Compressed lists: the quantizer pages and codes replay too.
$primary->safe_psql('postgres', qq{
	CREATE TABLE sq (id int PRIMARY KEY, v vector($dim));
	INSERT INTO sq SELECT i, $vec_sql FROM generate_series(1, 2000) i;
	CREATE INDEX sq_v ON sq USING ivfflat (v vector_l2_ops) WITH (lists = 10, quantizer = 'sq8');
	INSERT INTO sq SELECT i, $vec_sql FROM generate_series(2001, 2500) i;
	CREATE TABLE pq (id int PRIMARY KEY, v vector($dim));
	INSERT INTO pq SELECT i, $vec_sql FROM generate_series(1, 2000) i;
	CREATE INDEX pq_v ON pq USING ivfflat (v vector_l2_ops) WITH (lists = 10, quantizer = 'pq');
	INSERT INTO pq SELECT i, $vec_sql FROM generate_series(2001, 2500) i;
});
sub sq_answers
{
	my ($node) = @_;
	return join(';', map {
		$node->safe_psql('postgres', "SET enable_seqscan = off; SET ivfflat.probes = 2; "
			  . "SELECT string_agg(id::text, ',') FROM (SELECT id FROM $_ ORDER BY v <-> '$queries[1]', id LIMIT 10) s");
	} ('sq', 'pq'));
}
$primary->wait_for_catchup($standby);
is(sq_answers($standby), sq_answers($primary), 'standby answers as the primary with sq8 and pq lists');

# Enough rows to fill the lists' last pages and chain new ones.
$primary->safe_psql('postgres', "INSERT INTO items SELECT i, $vec_sql FROM generate_series(3001, 6000) i");
compare('inserts');

$primary->safe_psql('postgres', 'DELETE FROM items WHERE id % 3 = 0');
compare('deletes');

$primary->safe_psql('postgres', 'VACUUM items');
compare('vacuum');
all_rows_indexed($standby, 'vacuum, on the standby');

my $size = $primary->safe_psql('postgres', q{SELECT pg_relation_size('items_v')});
$primary->safe_psql('postgres', "INSERT INTO items SELECT i, $vec_sql FROM generate_series(6001, 6900) i");
compare('inserts into freed space');
is($primary->safe_psql('postgres', q{SELECT pg_relation_size('items_v')}), $size, 'freed space was reused');

is($standby->safe_psql('postgres',
	"SET enable_seqscan = off; SET ivfflat.probes = 20; SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> '$queries[0]') s WHERE id % 3 = 0 AND id <= 6000"),
	'0', 'the standby never returns deleted rows');

$primary->safe_psql('postgres', q{
	CREATE UNLOGGED TABLE scratch (v vector(2));
	CREATE INDEX scratch_v ON scratch USING ivfflat (v vector_l2_ops) WITH (lists = 2);
	INSERT INTO scratch VALUES ('[1,1]'), ('[2,2]');
});

# Problems quiver_ivfflat_check finds in every ivfflat index of the server (none expected).
sub index_problems
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{
		SELECT coalesce(string_agg(c.relname || ': ' || p, E'\n'), '')
		FROM pg_class c JOIN pg_am a ON a.oid = c.relam, LATERAL quiver_ivfflat_check(c.oid) p
		WHERE a.amname = 'ivfflat'});
}

# Crash: no checkpoint, recovery replays the generic WAL records.
my $before = answers($primary);
my $sq_before = sq_answers($primary);
$primary->stop('immediate');
$primary->start;
is(answers($primary), $before, 'the same answers after crash recovery');
is(sq_answers($primary), $sq_before, 'the same sq8 and pq answers after crash recovery');
all_rows_indexed($primary, 'crash recovery');
is(index_problems($primary), '', 'the checker finds nothing wrong after crash recovery');
is($primary->safe_psql('postgres', q{
	INSERT INTO scratch VALUES ('[3,3]');
	SET enable_seqscan = off;
	SELECT string_agg(v::text, ' ') FROM (SELECT v FROM scratch ORDER BY v <-> '[0,0]' LIMIT 5) s}),
	'[3,3]', 'an unlogged ivfflat index starts empty after a crash and works');
$primary->safe_psql('postgres', "INSERT INTO items SELECT i, $vec_sql FROM generate_series(6901, 7200) i");
compare('recovery and more inserts');

# A cancelled build stops and leaves nothing behind.
$primary->safe_psql('postgres', qq{
	CREATE TABLE big (v vector(64));
	INSERT INTO big SELECT ARRAY(SELECT random() FROM generate_series(1, 64) WHERE i > 0)::vector(64) FROM generate_series(1, 150000) i;
});
my ($ret, $out, $err) = $primary->psql('postgres',
	"SET statement_timeout = '300ms'; CREATE INDEX big_v ON big USING ivfflat (v vector_l2_ops) WITH (lists = 2000)");
like($err, qr/canceling statement due to statement timeout/, 'a build can be cancelled');
is($primary->safe_psql('postgres', "SELECT count(*) FROM pg_class WHERE relname = 'big_v'"), '0', 'and leaves no index');
is($primary->safe_psql('postgres', 'SELECT count(*) FROM pg_stat_progress_create_index'), '0', 'nor a build in progress');
$primary->safe_psql('postgres', 'DROP TABLE big');

$primary->wait_for_catchup($standby);
$standby->promote;
is($standby->safe_psql('postgres', q{
	INSERT INTO scratch VALUES ('[5,5]');
	SET enable_seqscan = off;
	SELECT string_agg(v::text, ' ') FROM (SELECT v FROM scratch ORDER BY v <-> '[0,0]' LIMIT 5) s}),
	'[5,5]', 'a promoted standby has a working unlogged ivfflat index');
is(index_problems($standby), '', 'the checker finds nothing wrong on the promoted standby');
$standby->stop;

# Concurrency: searches, inserts (into lists that start empty, too), updates, deletes and
# vacuum from 8 clients; afterwards the index holds exactly the live rows.
$primary->safe_psql('postgres', q{
	CREATE TABLE mix (id bigserial PRIMARY KEY, v vector(16));
	ALTER TABLE mix SET (autovacuum_enabled = false);
	INSERT INTO mix (v) SELECT ARRAY(SELECT random() FROM generate_series(1, 16) WHERE i > 0)::vector(16)
	FROM generate_series(1, 300) i;
	CREATE INDEX mix_v ON mix USING ivfflat (v vector_l2_ops) WITH (lists = 400);
});
$primary->pgbench(
	'--no-vacuum --client=8 --jobs=2 --time=10',
	0,
	[qr{actually processed}],
	[qr{^$}],
	'concurrent searches, inserts, updates, deletes and vacuum',
	{
		'004_mix' => q{
\set r random(1, 100)
\if :r <= 40
SELECT id FROM mix ORDER BY v <-> ARRAY(SELECT random() FROM generate_series(1, 16))::vector(16) LIMIT 10;
\elif :r <= 75
INSERT INTO mix (v) SELECT ARRAY(SELECT random() FROM generate_series(1, 16))::vector(16);
\elif :r <= 87
DELETE FROM mix WHERE id = (SELECT (random() * (SELECT max(id) FROM mix))::bigint);
\elif :r <= 98
UPDATE mix SET v = ARRAY(SELECT random() FROM generate_series(1, 16))::vector(16) WHERE id = (SELECT (random() * 300)::bigint);
\else
VACUUM mix;
\endif
}
	});
$primary->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) mix');
is($primary->safe_psql('postgres', q{
	SET enable_seqscan = off; SET ivfflat.probes = 400;
	SELECT count(*) || '/' || count(DISTINCT id) FROM (SELECT id FROM mix ORDER BY v <-> (SELECT NULL::vector)) s}),
	$primary->safe_psql('postgres', q{SELECT count(*) || '/' || count(*) FROM mix}),
	'after concurrent changes and VACUUM the index returns each live row once');
is(index_problems($primary), '', 'the checker finds nothing wrong after concurrent changes');

# A damaged page: the checker reports it, a scan fails with an ERROR (no crash), REINDEX mends.
$primary->safe_psql('postgres', q{
	CREATE TABLE dmg (id int, v vector(4));
	INSERT INTO dmg SELECT i, ARRAY[i, i % 7, i % 11, 1] FROM generate_series(1, 2000) i;
	CREATE INDEX dmg_v ON dmg USING ivfflat (v vector_l2_ops) WITH (lists = 2, quantizer = 'sq8');
	CHECKPOINT;
});
my $file = $primary->data_dir . '/' . $primary->safe_psql('postgres', q{SELECT pg_relation_filepath('dmg_v')});
my $last = $primary->safe_psql('postgres', q{SELECT pg_relation_size('dmg_v') / 8192 - 1});
$primary->stop;
open(my $fh, '+<', $file) or die "open $file: $!";
binmode $fh;
seek($fh, $last * 8192 + 8190, 0) or die;
print $fh "\0\0"; # the page id at the end of the special space
close($fh);
$primary->start;
my $problems = $primary->safe_psql('postgres', q{SELECT string_agg(p, E'\n') FROM quiver_ivfflat_check('dmg_v') p});
like($problems, qr/block $last is not a valid ivfflat page/, 'the checker reports the damaged page');
like($problems, qr/heap row \(\d+,\d+\) is in no list/, 'and the rows it no longer reaches');
($ret, $out, $err) = $primary->psql('postgres',
	q{SET enable_seqscan = off; SET ivfflat.probes = 2; SELECT count(*) FROM (SELECT id FROM dmg ORDER BY v <-> '[1,1,1,1]') s});
like($err, qr/ERROR:  index "dmg_v" block $last is not a valid ivfflat page/, 'a scan reaching it fails with an ERROR');
is($primary->safe_psql('postgres', q{SELECT 1}), '1', 'and the server is still up');
$primary->safe_psql('postgres', 'REINDEX INDEX dmg_v');
is($primary->safe_psql('postgres', q{SELECT count(*) FROM quiver_ivfflat_check('dmg_v')}), '0', 'REINDEX mends it');

$primary->stop;
done_testing();
