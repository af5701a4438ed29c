# Backups and replication with vector columns and their indexes (hnsw on vector, halfvec and
# sparsevec, ivfflat on vector):
#  - a streaming standby made with pg_basebackup -R replays index builds, inserts, deletes and
#    vacuum and answers exactly as the primary, then is promoted and takes writes;
#  - point-in-time recovery from a base backup and the WAL archive to a restore point before a
#    batch of changes: the table and its indexes are as they were at that point;
#  - pg_dump / pg_restore in custom and plain formats, and COPY (FORMAT binary), round trip;
#  - logical replication to a subscriber with its own hnsw index, which answers as the
#    publisher by exact ground truth.
# Every index is checked with quiver_hnsw_check / quiver_ivfflat_check where it can be (they
# take a ShareLock, which a hot standby does not grant).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $dim = 16;
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 'logical', has_archiving => 1);
$primary->append_conf('postgresql.conf', "autovacuum = off\n");
$primary->start;

# Deterministic rows: a dense vector, its halfvec, and a sparse one with about a third of the
# dimensions non-zero.
sub row_sql
{
	my ($from, $to) = @_;
	return qq{
		SELECT i, i % 5,
			ARRAY(SELECT sin(i * j * 0.37 + j) FROM generate_series(1, $dim) j)::vector($dim),
			ARRAY(SELECT cos(i * j * 0.21 + j) FROM generate_series(1, $dim) j)::halfvec($dim),
			ARRAY(SELECT CASE WHEN (i + j) % 3 = 0 THEN sin(i * j * 0.11) ELSE 0 END
			      FROM generate_series(1, $dim) j)::vector($dim)::sparsevec($dim)
		FROM generate_series($from, $to) i};
}

$primary->safe_psql('postgres', qq{
	CREATE EXTENSION quiver;
	CREATE TABLE items (id int PRIMARY KEY, cat int NOT NULL, v vector($dim), h halfvec($dim), s sparsevec($dim));
	INSERT INTO items } . row_sql(1, 3000) . qq{;
	CREATE INDEX items_v_hnsw ON items USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);
	CREATE INDEX items_v_ivf ON items USING ivfflat (v vector_cosine_ops) WITH (lists = 20);
	CREATE INDEX items_h_hnsw ON items USING hnsw (h halfvec_cosine_ops) WITH (m = 8, ef_construction = 32);
	CREATE INDEX items_s_hnsw ON items USING hnsw (s sparsevec_l2_ops) WITH (m = 8, ef_construction = 32);
});

my @queries = map { my $q = $_; '[' . join(',', map { sprintf('%.4f', cos($q * $_ * 0.71)) } 1 .. $dim) . ']' } 1 .. 12;

# The answers of every index to every query, with small search widths so that they are the
# index's own approximate answers; `exact` gives the ground truth instead.
sub answers
{
	my ($node, $db, $exact) = @_;
	my $settings = $exact
	  ? 'SET enable_indexscan = off; SET enable_bitmapscan = off;'
	  : 'SET enable_seqscan = off; SET hnsw.ef_search = 12; SET ivfflat.probes = 2;';
	# Exact answers break ties by id (halfvec and sparse distances tie more often than one
	# thinks, and a restored table's rows lie in another order).
	my $tie = $exact ? ', id' : '';
	my @parts;
	for my $q (@queries)
	{
		push @parts, $node->safe_psql($db, qq{$settings
			SELECT concat_ws(' / ',
				(SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY v <-> '$q'$tie LIMIT 10) a),
				(SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY v <=> '$q'$tie LIMIT 10) b),
				(SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY h <=> '$q'::halfvec$tie LIMIT 10) c),
				(SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY s <-> '$q'::vector::sparsevec$tie LIMIT 10) d))});
	}
	return join("\n", @parts);
}

# The table's contents, in text form (vectors print their shortest exact representation).
sub contents
{
	my ($node, $db, $table) = @_;
	$table //= 'items';
	return $node->safe_psql($db, "SELECT count(*) || ' ' || md5(string_agg(t::text, '|' ORDER BY id)) FROM $table t");
}

sub index_problems
{
	my ($node, $db) = @_;
	return $node->safe_psql($db // 'postgres', q{
		SELECT coalesce(string_agg(c.relname || ': ' || p, E'\n'), '')
		FROM pg_class c JOIN pg_am a ON a.oid = c.relam,
		LATERAL (SELECT quiver_hnsw_check(c.oid) AS p WHERE a.amname = 'hnsw'
		         UNION ALL SELECT quiver_ivfflat_check(c.oid) WHERE a.amname = 'ivfflat') x});
}

# ---- streaming standby from pg_basebackup -R
my $standby_backup = $primary->backup_dir . '/streaming';
{
	# -R records the connection's application_name, which names the standby on the primary.
	local $ENV{PGAPPNAME} = 'standby';
	command_ok([ 'pg_basebackup', '-D', $standby_backup, '-h', $primary->host, '-p', $primary->port,
		'-R', '--checkpoint=fast', '--no-sync' ], 'pg_basebackup -R takes a base backup');
}
ok(-f "$standby_backup/standby.signal", 'and writes the standby configuration');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'streaming');
# The copied configuration archives into the primary's archive; once promoted, the standby's
# own timeline there would lead the point-in-time recovery below astray.
$standby->append_conf('postgresql.conf', "archive_mode = off\n");
$standby->start;

my $compared = 0;
sub compare_standby
{
	my ($what) = @_;
	$primary->wait_for_catchup($standby);
	my $p = answers($primary, 'postgres');
	is(answers($standby, 'postgres'), $p, "the standby answers as the primary after $what");
	my $rows = contents($primary, 'postgres');
	is(contents($standby, 'postgres'), $rows, "and holds the same rows");
	note("$what: " . (split(/ /, $rows))[0] . ' rows compared on the standby');
	$compared += scalar(split(/,/, $p));
}

compare_standby('the base backup');
$primary->safe_psql('postgres', 'CREATE INDEX items_v_l1 ON items USING hnsw (v vector_l1_ops) WITH (m = 6)');
compare_standby('a build after the backup');
$primary->safe_psql('postgres', 'INSERT INTO items ' . row_sql(3001, 3600));
compare_standby('inserts');
my $shift = '[' . join(',', (0.5) x $dim) . ']';
$primary->safe_psql('postgres', "UPDATE items SET v = v + '$shift' WHERE id % 7 = 0");
compare_standby('updates');
$primary->safe_psql('postgres', 'DELETE FROM items WHERE id % 3 = 0');
compare_standby('deletes');
$primary->safe_psql('postgres', 'VACUUM items');
compare_standby('vacuum');
$primary->safe_psql('postgres', 'INSERT INTO items ' . row_sql(3601, 4000));
compare_standby('inserts into freed space');
# Inserts prune edges and can leave a few rows no search reaches (the checker reports them);
# VACUUM links them back even when it removes nothing, and the standby replays that too.
$primary->safe_psql('postgres', 'VACUUM items');
compare_standby('a vacuum that removed nothing');
is(index_problems($primary), '', 'the checkers pass on the primary');
note("standby comparisons: $compared result ids compared");

$standby->promote;
$standby->safe_psql('postgres', 'INSERT INTO items ' . row_sql(5001, 5200) . '; DELETE FROM items WHERE id % 11 = 0; VACUUM items');
is(index_problems($standby), '', 'the promoted standby takes writes and its indexes pass the checkers');
is($standby->safe_psql('postgres', q{SET enable_seqscan = off; SET hnsw.ef_search = 100;
	SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items WHERE id = 5100) LIMIT 1) s WHERE id = 5100}),
	'1', 'and finds a row written after promotion through its index');
$standby->stop;

# ---- point-in-time recovery
$primary->backup('pitr_base');
$primary->safe_psql('postgres', 'INSERT INTO items ' . row_sql(4001, 4300));
my $at_restore_point = answers($primary, 'postgres');
my $contents_at_restore_point = contents($primary, 'postgres');
my $problems_at_restore_point = index_problems($primary);
$primary->safe_psql('postgres', "SELECT pg_create_restore_point('before_batch')");
# The batch that recovery must stop short of.
$primary->safe_psql('postgres', 'INSERT INTO items ' . row_sql(6001, 7000) . '; DELETE FROM items WHERE id % 4 = 1; VACUUM items; '
	  . 'CREATE INDEX items_h_ivf ON items USING ivfflat (h halfvec_l2_ops) WITH (lists = 10)');
my $segment = $primary->safe_psql('postgres', 'SELECT pg_walfile_name(pg_current_wal_lsn())');
$primary->safe_psql('postgres', 'SELECT pg_switch_wal()');
ok($primary->poll_query_until('postgres', "SELECT last_archived_wal >= '$segment' FROM pg_stat_archiver"),
	'the WAL past the batch is archived');
isnt(answers($primary, 'postgres'), $at_restore_point, 'the batch changed the answers');

my $pitr = PostgreSQL::Test::Cluster->new('pitr');
$pitr->init_from_backup($primary, 'pitr_base', has_restoring => 1, standby => 0);
$pitr->append_conf('postgresql.conf', "recovery_target_name = 'before_batch'\nrecovery_target_action = 'promote'\n");
$pitr->start;
ok($pitr->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'), 'recovery reaches the restore point and ends');
is(contents($pitr, 'postgres'), $contents_at_restore_point, 'the recovered table holds the rows of the restore point');
is(answers($pitr, 'postgres'), $at_restore_point, 'and its indexes answer as they did then');
is($pitr->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname = 'items_h_ivf'}), '0',
	'an index built after the restore point does not exist');
# The inserts just before the restore point may have left rows no search reaches (see above):
# the recovered pages show exactly what the primary's showed then, and VACUUM mends them.
is(index_problems($pitr), $problems_at_restore_point, 'the checkers find in the recovered indexes what they found at the restore point');
$pitr->safe_psql('postgres', 'VACUUM items');
is(index_problems($pitr), '', 'and after VACUUM the recovered indexes pass the checkers');
$pitr->stop;

# ---- pg_dump / pg_restore, custom and plain
my $dump_dir = $primary->basedir;
my $before_dump = answers($primary, 'postgres', 1);
my $contents_before_dump = contents($primary, 'postgres');
my @conn = ('-h', $primary->host, '-p', $primary->port);
command_ok([ 'pg_dump', @conn, '-Fc', '-f', "$dump_dir/items.dump", 'postgres' ], 'pg_dump in custom format');
command_ok([ 'pg_dump', @conn, '-Fp', '-f', "$dump_dir/items.sql", 'postgres' ], 'pg_dump in plain format');
$primary->safe_psql('postgres', 'CREATE DATABASE restored_custom; CREATE DATABASE restored_plain');
command_ok([ 'pg_restore', @conn, '--exit-on-error', '-d', 'restored_custom', "$dump_dir/items.dump" ], 'pg_restore of the custom dump');
command_ok([ 'psql', @conn, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'restored_plain', '-f', "$dump_dir/items.sql" ],
	'psql restores the plain dump');
for my $db (qw(restored_custom restored_plain))
{
	is(contents($primary, $db), $contents_before_dump, "$db holds the same rows");
	is(answers($primary, $db, 1), $before_dump, "$db gives the same exact answers");
	is($primary->safe_psql($db, q{SELECT string_agg(indexrelid::regclass::text, ',' ORDER BY indexrelid::regclass::text)
		FROM pg_index WHERE indrelid = 'items'::regclass}),
		'items_h_hnsw,items_h_ivf,items_pkey,items_s_hnsw,items_v_hnsw,items_v_ivf,items_v_l1', "$db has every index");
	is(index_problems($primary, $db), '', "$db: its rebuilt indexes pass the checkers");
	# Rebuilt graphs differ from the originals: compare their recall against the exact answers.
	my ($hits, $total) = (0, 0);
	for my $q (@queries)
	{
		my %truth = map { $_ => 1 } split(/,/, $primary->safe_psql('postgres', qq{SET enable_indexscan = off; SET enable_bitmapscan = off;
			SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY v <-> '$q' LIMIT 10) s}));
		$hits += grep { $truth{$_} } split(/,/, $primary->safe_psql($db, qq{SET enable_seqscan = off; SET hnsw.ef_search = 400;
			SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY v <-> '$q' LIMIT 10) s}));
		$total += 10;
	}
	cmp_ok($hits / $total, '>=', 0.95, "$db: its rebuilt hnsw index finds the exact nearest rows (recall " . ($hits / $total) . ')');
}

# ---- COPY (FORMAT binary)
$primary->safe_psql('postgres', qq{
	COPY items TO '$dump_dir/items.bin' (FORMAT binary);
	CREATE TABLE items_copy (LIKE items);
	COPY items_copy FROM '$dump_dir/items.bin' (FORMAT binary);
	CREATE INDEX items_copy_s ON items_copy USING hnsw (s sparsevec_l2_ops);
});
is(contents($primary, 'postgres', 'items_copy'), contents($primary, 'postgres'), 'COPY (FORMAT binary) round trips every column');
is(index_problems($primary), '', 'and an index built on the copy passes the checker');
$primary->safe_psql('postgres', 'DROP TABLE items_copy');

# ---- logical replication to a subscriber with its own index
my $subscriber = PostgreSQL::Test::Cluster->new('subscriber');
$subscriber->init;
$subscriber->start;
$subscriber->safe_psql('postgres', qq{
	CREATE EXTENSION quiver;
	CREATE TABLE items (id int PRIMARY KEY, cat int NOT NULL, v vector($dim), h halfvec($dim), s sparsevec($dim));
});
$primary->safe_psql('postgres', 'CREATE PUBLICATION items_pub FOR TABLE items');
my $publisher_conn = $primary->connstr . ' dbname=postgres';
$subscriber->safe_psql('postgres', "CREATE SUBSCRIPTION items_sub CONNECTION '$publisher_conn' PUBLICATION items_pub");
$subscriber->wait_for_subscription_sync($primary, 'items_sub');
# Built once the initial copy is in (faster than inserting every copied row into a graph, and
# a better graph); the changes that follow arrive as inserts, updates and deletes.
$subscriber->safe_psql('postgres', 'CREATE INDEX sub_v ON items USING hnsw (v vector_l2_ops) WITH (m = 12, ef_construction = 48)');
$primary->safe_psql('postgres', 'INSERT INTO items ' . row_sql(8001, 8500)
	  . "; UPDATE items SET v = v + v, s = (v + v)::sparsevec WHERE id % 9 = 0; DELETE FROM items WHERE id % 10 = 3");
$primary->wait_for_catchup('items_sub');
my $publisher_contents = contents($primary, 'postgres');
is(contents($subscriber, 'postgres'), $publisher_contents, 'the subscriber holds the publisher\'s rows');
note('rows compared on the subscriber: ' . (split(/ /, $publisher_contents))[0]);
$subscriber->safe_psql('postgres', 'VACUUM items');

# Top 10 of each query through the subscriber's own index against the publisher's exact answers.
my ($hits, $total) = (0, 0);
for my $q (@queries, map { "(SELECT v FROM items WHERE id = $_)" } 8001, 8100, 8200, 8300, 8400)
{
	my $q_sql = $q =~ /^\[/ ? "'$q'" : $q;
	my %truth = map { $_ => 1 } split(/,/, $primary->safe_psql('postgres', qq{SET enable_indexscan = off; SET enable_bitmapscan = off;
		SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY v <-> $q_sql LIMIT 10) s}));
	my @got = split(/,/, $subscriber->safe_psql('postgres', qq{SET enable_seqscan = off; SET hnsw.ef_search = 100;
		SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY v <-> $q_sql LIMIT 10) s}));
	$hits += grep { $truth{$_} } @got;
	$total += 10;
}
my $recall = $hits / $total;
cmp_ok($recall, '>=', 0.95, "the subscriber's index finds the publisher's exact top 10 (recall $recall over " . ($total / 10) . ' queries)');
is(index_problems($subscriber), '', 'the subscriber\'s index passes the checker');

$subscriber->stop;
$primary->stop;
done_testing();
