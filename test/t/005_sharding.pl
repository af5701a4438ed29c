# Scale-out over postgres_fdw: a coordinator and three shard servers against one server holding
# the same 100,000 rows. Exact top-k through the coordinator returns the single server's rows,
# ANN recall is no lower than the single server's, the per-shard ORDER BY ... LIMIT reaches the
# shards (asynchronous foreign scans), search settings are carried to the shards, writes reach
# the right shard, a shard's standby serves reads, and a shard that is down (or a connection
# that breaks inside a transaction) fails the query with its name until it is back.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $dim = 16;
my $rows = 100_000;
my $n_queries = 50;

my $single = PostgreSQL::Test::Cluster->new('single');
my $coord = PostgreSQL::Test::Cluster->new('coordinator');
my @shards = map { PostgreSQL::Test::Cluster->new("shard$_") } 1 .. 3;
for my $node ($single, $coord) { $node->init; $node->start; }
for my $node (@shards) { $node->init(allows_streaming => 1); $node->start; }

# A hash of (row, dimension): no two rows are (nearly) equal, so exact answers have no ties.
my $vec_sql = "ARRAY(SELECT (x - floor(x)) * 2 - 1 FROM (SELECT sin(i * 12.9898 + j * 78.233) * 43758.5453 x "
  . "FROM generate_series(1, $dim) j) h)::vector($dim)";
my $rows_sql = "SELECT i, i % 10, $vec_sql FROM generate_series(1, $rows) i";

$single->safe_psql('postgres', qq{
	CREATE EXTENSION quiver;
	CREATE TABLE items (id bigint NOT NULL, category int, v vector($dim));
	INSERT INTO items $rows_sql;
	CREATE INDEX ON items USING hnsw (v vector_l2_ops);
	ANALYZE items;
});

$coord->safe_psql('postgres', q{CREATE EXTENSION quiver; CREATE EXTENSION postgres_fdw;});
for my $i (1 .. 3) {
	my ($host, $port) = ($shards[$i - 1]->host, $shards[$i - 1]->port);
	$coord->safe_psql('postgres', qq{
		CREATE SERVER shard$i FOREIGN DATA WRAPPER postgres_fdw
			OPTIONS (host '$host', port '$port', dbname 'postgres', async_capable 'true', batch_size '1000');
		CREATE USER MAPPING FOR CURRENT_USER SERVER shard$i;
	});
}
$coord->safe_psql('postgres', "CREATE TABLE items (id bigint NOT NULL, category int, v vector($dim)) PARTITION BY HASH (id)");

my ($ret, $out, $err) = $coord->psql('postgres', q{SELECT quiver_create_shards('items', '{shard1,shard2,shard3}')});
like($err, qr/foreign server "shard1" does not list quiver in its extensions option/,
	'a server that would not ship the distance operators is refused');
for my $i (1 .. 3) {
	$coord->safe_psql('postgres', "ALTER SERVER shard$i OPTIONS (ADD extensions 'quiver')");
}
is($coord->safe_psql('postgres', q{SELECT quiver_create_shards('items', '{shard1,shard2,shard3}')}), '3',
	'three foreign partitions created');
$coord->safe_psql('postgres', "INSERT INTO items $rows_sql");
is($coord->safe_psql('postgres',
	q{SELECT quiver_shards_execute('items', 'CREATE INDEX items_v ON {table} USING hnsw (v vector_l2_ops)')}),
	'3', 'an index built on every shard');
$coord->safe_psql('postgres', 'ANALYZE items');

my @counts = map { $_->safe_psql('postgres', 'SELECT count(*) FROM items') } @shards;
is($counts[0] + $counts[1] + $counts[2], $rows, 'every row is on one shard');
ok((grep { $_ > $rows / 4 && $_ < $rows / 2.5 } @counts) == 3, "rows spread over the shards (@counts)");
is(join(',', map { $_->safe_psql('postgres', q{SELECT count(*) FROM pg_indexes WHERE indexname = 'items_v'}) } @shards),
	'1,1,1', 'each shard has its own index');

my @queries = map { my $q = $_; '[' . join(',', map { sprintf('%.4f', cos($q * $_ * 0.71)) } 1 .. $dim) . ']' } 1 .. $n_queries;

# One row of ids per query, from one session running `setup` first.
sub top_ids
{
	my ($node, $setup, $query_sql) = @_;
	my $sql = $setup . join('', map {
		my $q = $_;
		(my $s = $query_sql) =~ s/QUERY/'$q'/g;
		"SELECT string_agg(id::text, ',' ORDER BY rn) FROM (SELECT id, row_number() OVER () rn FROM ($s) s) t;\n";
	} @queries);
	return [ split /\n/, $node->safe_psql('postgres', $sql) ];
}

sub recall
{
	my ($got, $truth) = @_;
	my ($hits, $total) = (0, 0);
	for my $i (0 .. $#$truth) {
		my %want = map { $_ => 1 } split /,/, $truth->[$i];
		$hits += grep { $want{$_} } split /,/, ($got->[$i] // '');
		$total += scalar keys %want;
	}
	return $hits / $total;
}

my $single_sql = 'SELECT id FROM items ORDER BY v <-> QUERY LIMIT 10';
my $sharded_sql = q{SELECT id FROM quiver_sharded_search(NULL::items, 'v', '<->', QUERY::vector, 10)};

my $exact = top_ids($single, 'SET enable_indexscan = off;', $single_sql);
is(scalar(grep { tr/,// == 9 } @$exact), $n_queries, 'the single server answers every query with 10 rows');
is_deeply(top_ids($coord, 'SET enable_indexscan = off;', $sharded_sql), $exact,
	'exact sharded search returns the single server\'s rows');
# The plain query on the partitioned table (Merge Append, no LIMIT pushed) is exact too once
# the settings reach the shards.
is_deeply(top_ids($coord, q{SET enable_indexscan = off; DO $$ BEGIN PERFORM quiver_shard_settings('items'); END $$;}, $single_sql), $exact,
	'exact search on the partitioned table returns the single server\'s rows');

my $single_recall = recall(top_ids($single, '', $single_sql), $exact);
my $sharded_recall = recall(top_ids($coord, '', $sharded_sql), $exact);
cmp_ok($sharded_recall, '>=', $single_recall - 0.01,
	"sharded ANN recall\@10 $sharded_recall, single server $single_recall");
cmp_ok($single_recall, '>=', 0.8, 'the single server\'s recall is a meaningful baseline');

# Filtered: exact answers agree, and with iterative scans each query still gets 10 rows.
my $filtered_single = 'SELECT id FROM items WHERE category = 3 ORDER BY v <-> QUERY LIMIT 10';
my $filtered_sharded = q{SELECT id FROM quiver_sharded_search(NULL::items, 'v', '<->', QUERY::vector, 10, 'category = 3')};
my $filtered_exact = top_ids($single, 'SET enable_indexscan = off;', $filtered_single);
is_deeply(top_ids($coord, 'SET enable_indexscan = off;', $filtered_sharded), $filtered_exact,
	'exact filtered sharded search returns the single server\'s rows');
my $filtered_ann = top_ids($coord, q{SET hnsw.iterative_scan = relaxed_order;}, $filtered_sharded);
is(scalar(grep { tr/,// == 9 } @$filtered_ann), $n_queries, 'filtered ANN search returns 10 rows for every query');
cmp_ok(recall($filtered_ann, $filtered_exact), '>=', 0.8, 'filtered ANN recall');

# Settings are carried: with hnsw.ef_search = 1 each shard's index returns one row.
is($coord->safe_psql('postgres', qq{SET hnsw.ef_search = 1;
	SELECT count(*) FROM quiver_sharded_search(NULL::items, 'v', '<->', '$queries[0]'::vector, 10)}),
	'3', 'hnsw.ef_search reaches every shard');
like($coord->safe_psql('postgres', q{SET ivfflat.probes = 7; SELECT quiver_shard_settings('items')}),
	qr/SET ivfflat\.probes = '7'/, 'ivfflat.probes is among the settings sent');

# The plan: one asynchronous foreign scan per shard, each carrying ORDER BY ... LIMIT.
my $plan = $coord->safe_psql('postgres', qq{
	SELECT format('PREPARE q(vector) AS %s', quiver_sharded_query('items', 'v', '<->', 10, 'category = 3')) \\gexec
	EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q('$queries[0]');
});
is(scalar(() = $plan =~ /Async Foreign Scan/g), 3, 'the shards are scanned concurrently');
is(scalar(() = $plan =~ /Remote SQL: SELECT .* WHERE \(\(category = 3\)\) ORDER BY \(v OPERATOR\(public\.<->\) .* LIMIT 10::bigint/g),
	3, 'each shard receives the filter, ORDER BY and LIMIT');

# Writes through the partitioned table reach the right shard.
$coord->safe_psql('postgres', qq{UPDATE items SET v = '$queries[1]' WHERE id = 4242});
is($coord->safe_psql('postgres', qq{SELECT id FROM quiver_sharded_search(NULL::items, 'v', '<->', '$queries[1]'::vector, 1)}),
	'4242', 'an updated row is found through its shard\'s index');
$coord->safe_psql('postgres', 'DELETE FROM items WHERE id = 4242');
is($coord->safe_psql('postgres', qq{SELECT count(*) FROM quiver_sharded_search(NULL::items, 'v', '<->', '$queries[1]'::vector, 10) WHERE id = 4242}),
	'0', 'a deleted row is gone');
my $copy_file = "${PostgreSQL::Test::Utils::tmp_check}/copy.txt";
open(my $fh, '>', $copy_file) or die;
print $fh join('', map { "$_\t5\t$queries[2]\n" } ($rows + 1) .. ($rows + 6));
close($fh);
$coord->safe_psql('postgres', "COPY items FROM '$copy_file'");
is(join(',', sort { $a <=> $b } split /\n/, $coord->safe_psql('postgres',
	qq{SELECT id FROM quiver_sharded_search(NULL::items, 'v', '<=>', '$queries[2]'::vector, 6)})),
	join(',', ($rows + 1) .. ($rows + 6)), 'rows loaded by COPY are found');
my $total = 0;
$total += $_->safe_psql('postgres', 'SELECT count(*) FROM items') for @shards;
is($total, $rows + 5, 'the shards hold every row once after the writes');

# A shard's streaming standby serves reads of that shard.
$shards[0]->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('shard1_standby');
$standby->init_from_backup($shards[0], 'base', has_streaming => 1);
$standby->start;
$shards[0]->wait_for_catchup($standby);
my ($sb_host, $sb_port) = ($standby->host, $standby->port);
$coord->safe_psql('postgres', qq{
	CREATE SERVER shard1_standby FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (host '$sb_host', port '$sb_port', dbname 'postgres', extensions 'quiver');
	CREATE USER MAPPING FOR CURRENT_USER SERVER shard1_standby;
	CREATE FOREIGN TABLE items_shard0_standby (id bigint, category int, v vector($dim))
		SERVER shard1_standby OPTIONS (table_name 'items');
});
is($coord->safe_psql('postgres', qq{SELECT string_agg(id::text, ',') FROM
	(SELECT id FROM items_shard0_standby ORDER BY v <-> '$queries[3]' LIMIT 10) s}),
	$coord->safe_psql('postgres', qq{SELECT string_agg(id::text, ',') FROM
	(SELECT id FROM items_shard0 ORDER BY v <-> '$queries[3]' LIMIT 10) s}),
	'the standby of a shard answers as the shard');

# A shard that is down fails the query with its name; when it is back, queries work again.
my $before = $coord->safe_psql('postgres', qq{SELECT string_agg(id::text, ',') FROM
	quiver_sharded_search(NULL::items, 'v', '<->', '$queries[4]'::vector, 10)});
my $on_shard1 = $coord->safe_psql('postgres', 'SELECT min(id) FROM items_shard0');
my $on_shard2 = $coord->safe_psql('postgres', 'SELECT min(id) FROM items_shard1');
$shards[1]->stop('immediate');
($ret, $out, $err) = $coord->psql('postgres',
	qq{SELECT id FROM quiver_sharded_search(NULL::items, 'v', '<->', '$queries[4]'::vector, 10)});
isnt($ret, 0, 'a query fails while a shard is down');
like($err, qr/could not connect to server "shard2"/, 'and the error names the shard');
($ret, $out, $err) = $coord->psql('postgres', qq{SELECT id FROM items ORDER BY v <-> '$queries[4]' LIMIT 10});
like($err, qr/could not connect to server "shard2"/, 'a plain query on the partitioned table fails the same way');
# Writes that reach only the live shards go on; a write for the shard that is down fails.
($ret, $out, $err) = $coord->psql('postgres', "UPDATE items SET category = 11 WHERE id = $on_shard2");
like($err, qr/could not connect to server "shard2"/, 'a write for the shard that is down fails with its name');
$coord->safe_psql('postgres', "UPDATE items SET category = 11 WHERE id = $on_shard1");
is($shards[0]->safe_psql('postgres', "SELECT category FROM items WHERE id = $on_shard1"), '11',
	'a write for a live shard goes on while another is down');
$shards[1]->start;
is($shards[1]->safe_psql('postgres', "SELECT category <> 11 FROM items WHERE id = $on_shard2"), 't',
	'the failed write left nothing behind');
is($coord->safe_psql('postgres', qq{SELECT string_agg(id::text, ',') FROM
	quiver_sharded_search(NULL::items, 'v', '<->', '$queries[4]'::vector, 10)}),
	$before, 'queries work again once the shard is back');

# A shard connection that breaks inside a transaction fails the next search there (naming the
# shard, nothing partial), and the next transaction reconnects.
my $search4 = qq{SELECT string_agg(id::text, ',') FROM quiver_sharded_search(NULL::items, 'v', '<->', '$queries[4]'::vector, 10)};
my $session = $coord->background_psql('postgres', on_error_stop => 0);
$session->query_safe('BEGIN');
is($session->query_safe($search4), $before, 'a search inside a transaction');
is($shards[2]->safe_psql('postgres',
	q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'postgres_fdw'}),
	'1', 'the coordinator\'s connection to shard3 is terminated');
my $partial = $session->query($search4);
like($session->{stderr}, qr/ERROR: .*terminating connection(.*\n)*on foreign server "shard3"/,
	'the next search in that transaction fails, naming the shard');
is($partial, '', 'and returns no rows');
$session->query('ROLLBACK');
is($session->query($search4), $before, 'the next transaction reconnects');
$session->quit;

done_testing();
