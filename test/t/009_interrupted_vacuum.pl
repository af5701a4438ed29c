# VACUUM stopped at random points (statement_timeout), round after round, with inserts reusing
# the space that finished vacuums freed. A cancel leaves the index pages as a crash at the same
# moment would (every WAL record written stays), so this reaches the states between any two of
# vacuum's records, which kill -9 at random moments (006) seldom does. After every stop the
# checkers find nothing wrong in the pages (nodes that the stopped vacuum cut off from the entry
# point may wait for the next VACUUM), and after a VACUUM that runs to its end, nothing at all.
#
# Two hnsw indexes: one on small vectors, where a node's element and list share a page, and one
# on 2,000-dimension vectors, where every node's list sits on another page than its element.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $rounds = $ENV{QUIVER_VACUUM_ROUNDS} // 16;

my $node = PostgreSQL::Test::Cluster->new('ivac');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\n");
$node->start;

sub rows
{
	my ($dim, $n) = @_;
	return "SELECT ARRAY(SELECT random() FROM generate_series(1, $dim) WHERE i > 0)::vector($dim) FROM generate_series(1, $n) i";
}

my %tables = (
	small => { dim => 32, rows => 5000, churn => 800, op => '<->',
		indexes => [ [ 'small_hnsw', 'hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32)' ],
		             [ 'small_ivf', 'ivfflat (v vector_cosine_ops) WITH (lists = 20)' ] ] },
	wide => { dim => 2000, rows => 600, churn => 100, op => '<=>',
		indexes => [ [ 'wide_hnsw', 'hnsw (v vector_cosine_ops) WITH (m = 8, ef_construction = 32)' ] ] },
);

$node->safe_psql('postgres', 'CREATE EXTENSION quiver');
for my $t (sort keys %tables)
{
	my $c = $tables{$t};
	$node->safe_psql('postgres', "CREATE TABLE $t (id serial, v vector($c->{dim}));
		INSERT INTO $t (v) " . rows($c->{dim}, $c->{rows}));
	$node->safe_psql('postgres', "CREATE INDEX $_->[0] ON $t USING $_->[1]") for @{ $c->{indexes} };
}

sub problems
{
	my ($t) = @_;
	return $node->safe_psql('postgres', join(' UNION ALL ',
		map { my $f = $_->[0] =~ /hnsw/ ? 'quiver_hnsw_check' : 'quiver_ivfflat_check';
			  "SELECT '$_->[0]: ' || p FROM $f('$_->[0]') p" } @{ $tables{$t}{indexes} }));
}

# Rows deleted and as many inserted (into the space the last finished vacuum freed).
sub churn
{
	my ($t) = @_;
	my $c = $tables{$t};
	$node->safe_psql('postgres', "DELETE FROM $t WHERE id IN (SELECT id FROM $t ORDER BY random() LIMIT $c->{churn});
		INSERT INTO $t (v) " . rows($c->{dim}, $c->{churn}));
}

for my $t (sort keys %tables)
{
	# How long a whole vacuum of this much churn takes, to spread the stops over all of it.
	churn($t);
	my $start = time;
	$node->safe_psql('postgres', "VACUUM $t");
	my $full_ms = int((time - $start) * 1000) + 1;
	is(problems($t), '', "$t: a VACUUM run to its end leaves the indexes sound");

	my ($stopped, $bad, $deleted_left) = (0, 0, 0);
	for my $round (1 .. $rounds)
	{
		churn($t);
		my $timeout = 1 + int(rand($full_ms * 1.2));
		my ($rc, $out, $err) = $node->psql('postgres', "SET statement_timeout = $timeout; VACUUM $t");
		if ($rc != 0)
		{
			die "VACUUM $t failed: $err" unless $err =~ /canceling statement due to statement timeout/;
			$stopped++;
		}
		$deleted_left++ if $node->safe_psql('postgres',
			"SELECT deleted_elements > 0 FROM quiver_hnsw_stats('${t}_hnsw')") eq 't';
		my $p = problems($t);
		if ($p ne '' && $p !~ /^([a-z_]+_hnsw: [^\n]*not reachable from the entry point\n?)+$/)
		{
			$bad++;
			diag("$t round $round (VACUUM stopped after ${timeout} ms of about $full_ms): $p");
		}
		# Every fourth round, a VACUUM run to its end must leave nothing, whatever state the
		# stopped one left (one stopped after freeing everything leaves no deleted node, only
		# the nodes its repair cut off).
		next if $round % 4;
		$node->safe_psql('postgres', "VACUUM $t");
		$p = problems($t);
		if ($p ne '')
		{
			$bad++;
			diag("$t round $round: after a VACUUM run to its end: $p");
		}
	}
	note("$t: $stopped of $rounds vacuums stopped part-way, $deleted_left left deleted nodes unfreed");
	is($bad, 0, "$t: after each of $rounds stopped vacuums the index pages are sound, and after each full one, everything");
	cmp_ok($stopped, '>', 0, "$t: some vacuums were stopped part-way");

	# A VACUUM run to its end takes up what the stopped ones left.
	$node->safe_psql('postgres', "VACUUM $t");
	is(problems($t), '', "$t: the next VACUUM run to its end leaves nothing for the checkers");
	is($node->safe_psql('postgres', "SELECT deleted_elements FROM quiver_hnsw_stats('${t}_hnsw')"), '0',
		"$t: and no deleted node behind");
	# Every row comes back through the hnsw index (an iterative scan with no bound).
	is($node->safe_psql('postgres', qq{SET enable_seqscan = off; SET enable_sort = off; SET enable_bitmapscan = off;
		SET hnsw.iterative_scan = relaxed_order; SET hnsw.max_scan_tuples = 1000000000; SET hnsw.scan_mem_multiplier = 100;
		SELECT count(*) FROM (SELECT id FROM $t ORDER BY v $tables{$t}{op} (SELECT v FROM $t LIMIT 1) LIMIT 1000000) s}),
		$node->safe_psql('postgres', "SELECT count(*) FROM $t"), "$t: every row comes back through the hnsw index");
}

$node->stop;
done_testing();
