# Crash recovery under load: the server is killed with SIGKILL at random moments while clients
# insert, update, delete, search and vacuum through an hnsw and an ivfflat index (20 rounds),
# and once in the middle of each index build. After every restart both index checkers find
# nothing wrong, every acknowledged row is in the table and comes back through each index, and
# queries work.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

my $rounds = $ENV{QUIVER_CRASH_ROUNDS} // 20;
my $dim = 8;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
# Autovacuum on and eager, so it too is cut off mid-way; the test framework turns restart_after_crash off.
$node->append_conf('postgresql.conf', q{
autovacuum_naptime = 1s
autovacuum_vacuum_scale_factor = 0.02
autovacuum_vacuum_insert_scale_factor = 0.02
checkpoint_timeout = 30s
restart_after_crash = on
});
$node->start;

my $rand_vec = "ARRAY(SELECT random() FROM generate_series(1, $dim))::vector($dim)";
$node->safe_psql('postgres', qq{
	CREATE EXTENSION quiver;
	-- cat 0: rows acknowledged to the test, never changed by the load; cat 1: the load's rows
	CREATE TABLE items (id bigserial PRIMARY KEY, cat int NOT NULL, v vector($dim) NOT NULL);
	INSERT INTO items (cat, v) SELECT 1, ARRAY(SELECT random() FROM generate_series(1, $dim) WHERE i > 0)::vector($dim)
	FROM generate_series(1, 3000) i;
	CREATE INDEX items_hnsw ON items USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);
	CREATE INDEX items_ivf ON items USING ivfflat (v vector_cosine_ops) WITH (lists = 16, quantizer = 'sq8');
});

my $script = $node->basedir . '/load.sql';
PostgreSQL::Test::Utils::append_to_file($script, qq{
\\set r random(1, 100)
\\if :r <= 30
SELECT id FROM items ORDER BY v <-> $rand_vec LIMIT 10;
\\elif :r <= 40
SELECT id FROM items ORDER BY v <=> $rand_vec LIMIT 10;
\\elif :r <= 70
INSERT INTO items (cat, v) SELECT 1, $rand_vec;
\\elif :r <= 83
UPDATE items SET v = $rand_vec WHERE cat = 1 AND id = (SELECT (random() * (SELECT max(id) FROM items))::bigint);
\\elif :r <= 97
DELETE FROM items WHERE cat = 1 AND id = (SELECT (random() * (SELECT max(id) FROM items))::bigint);
\\else
VACUUM items;
\\endif
});

my ($load_out, $load_err) = ('', '');

sub start_load
{
	($load_out, $load_err) = ('', '');
	local $ENV{PGAPPNAME} = 'quiver_load';
	my $h = IPC::Run::start(
		[ 'pgbench', '--no-vacuum', '--client=4', '--jobs=2', '--time=120', '-f', $script,
		  '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \$load_out, '2>', \$load_err);
	return $h;
}

# Whether a process is still there and not a zombie (a zombie holds no shared memory, but its
# PID still makes a new postmaster think the old one runs, until something reaps it).
sub alive
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/stat") or return 0;
	my $stat = <$fh>;
	close($fh);
	return defined($stat) && $stat !~ /^\d+ \(.*\) Z/;
}

# SIGKILL to the postmaster and every process it started: as if the machine lost power, except
# that written pages stay in the operating system's cache.
sub kill_server
{
	my $pid = $node->{_pid};
	my @children = split(/\s+/, `ps -o pid= --ppid $pid`);
	@children = grep { /^\d+$/ } @children;
	$node->kill9;
	kill 'KILL', @children;
	usleep(20_000) while grep { alive($_) } ($pid, @children);
	# Zombies are reaped by whatever adopted them; if that is slow, the lock file is stale.
	for (1 .. 500)
	{
		last unless kill(0, $pid);
		usleep(20_000);
	}
	unlink($node->data_dir . '/postmaster.pid') if kill(0, $pid);
	$node->start;
}

# SIGKILL to one backend of the load (or, if none is connected at that moment, the autovacuum
# launcher): the postmaster ends all the others and runs crash recovery. Returns what it killed.
sub kill_backend
{
	my ($victim, $what) = split(/\|/, $node->safe_psql('postgres', q{
		SELECT pid || '|' || coalesce(substr(query, 1, 6), '') FROM pg_stat_activity
		WHERE application_name = 'quiver_load' ORDER BY random() LIMIT 1}));
	($victim, $what) = split(/\|/, $node->safe_psql('postgres',
		q{SELECT pid || '|autovacuum launcher' FROM pg_stat_activity WHERE backend_type = 'autovacuum launcher'}))
	  if !defined($victim);
	my $log_at = -s $node->logfile;
	kill 'KILL', $victim;
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_at);
	$node->wait_for_log(qr/database system is ready to accept connections/, $log_at);
	return "a backend ($what)";
}

sub index_problems
{
	return $node->safe_psql('postgres', q{
		SELECT coalesce(string_agg(p, E'\n'), '') FROM (
			SELECT 'items_hnsw: ' || p AS p FROM quiver_hnsw_check('items_hnsw') p
			UNION ALL SELECT 'items_ivf: ' || p FROM quiver_ivfflat_check('items_ivf') p) s});
}

# The acknowledged rows as a seq scan, the hnsw index and the ivfflat index return them
# (iterative scans with no bound, so an index scan goes on until it has run out of rows).
sub acked_through
{
	my ($path) = @_;
	my %query = (
		seqscan => q{SET enable_indexscan = off; SET enable_bitmapscan = off;
			SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM items WHERE cat = 0},
		hnsw => qq{SET enable_seqscan = off; SET enable_sort = off; SET enable_bitmapscan = off;
			SET hnsw.iterative_scan = relaxed_order; SET hnsw.max_scan_tuples = 1000000000;
			SET hnsw.scan_mem_multiplier = 100;
			SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM (
				SELECT id FROM items WHERE cat = 0 ORDER BY v <-> $rand_vec LIMIT 1000000) s},
		ivfflat => qq{SET enable_seqscan = off; SET enable_sort = off; SET enable_bitmapscan = off;
			SET ivfflat.probes = 16;
			SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM (
				SELECT id FROM items WHERE cat = 0 ORDER BY v <=> $rand_vec LIMIT 1000000) s});
	return $node->safe_psql('postgres', $query{$path});
}

like($node->safe_psql('postgres', qq{SET enable_seqscan = off; SET enable_sort = off;
	EXPLAIN (COSTS OFF) SELECT id FROM items WHERE cat = 0 ORDER BY v <-> $rand_vec LIMIT 1000000}),
	qr/Index Scan using items_hnsw/, 'the hnsw probe goes through the hnsw index');
like($node->safe_psql('postgres', qq{SET enable_seqscan = off; SET enable_sort = off;
	EXPLAIN (COSTS OFF) SELECT id FROM items WHERE cat = 0 ORDER BY v <=> $rand_vec LIMIT 1000000}),
	qr/Index Scan using items_ivf/, 'the ivfflat probe goes through the ivfflat index');

my @acked;
my $stranded_rounds = 0;
my $failures = 0;
for my $round (1 .. $rounds)
{
	my $load = start_load();
	usleep(200_000 + int(rand(1_500_000)));
	# Rows committed and acknowledged while the load runs, each in its own transaction.
	my $n = 1 + int(rand(20));
	my $ids = $node->safe_psql('postgres',
		join("\n", map { "INSERT INTO items (cat, v) SELECT 0, $rand_vec RETURNING id;" } 1 .. $n));
	push @acked, split(/\n/, $ids);
	usleep(int(rand(300_000)));
	my $how = 'the server';
	if ($round % 2) { kill_server(); } else { $how = kill_backend(); }
	note("round $round: killed $how");
	$load->kill_kill;
	$load->finish;

	my $expected = join(',', sort { $a <=> $b } @acked);
	my $problems = index_problems();
	# Inserts can leave a few rows no search reaches until VACUUM relinks them (see README,
	# hnsw "Insert, delete, vacuum"); anything else, or what VACUUM leaves, is a failure.
	if ($problems ne '' && $problems !~ /^(items_hnsw: [^\n]*not reachable from the entry point\n?)+$/)
	{
		diag("round $round: structural problems before any VACUUM");
	}
	elsif ($problems ne '')
	{
		$stranded_rounds++;
		$node->safe_psql('postgres', 'VACUUM items');
		$problems = index_problems();
	}
	my %got = map { $_ => acked_through($_) } qw(seqscan hnsw ivfflat);
	my $ok = $problems eq '' && $got{seqscan} eq $expected && $got{hnsw} eq $expected && $got{ivfflat} eq $expected;
	if (!$ok)
	{
		$failures++;
		diag("round $round (killed $how): checker: $problems");
		for my $path (qw(seqscan hnsw ivfflat))
		{
			diag("$path returns " . scalar(split(/,/, $got{$path})) . ' of ' . scalar(@acked) . ' acknowledged rows')
			  if $got{$path} ne $expected;
		}
	}
}
is($failures, 0, "$rounds crashes under load: the checkers pass and every acknowledged row comes back through each index");
note('acknowledged rows: ' . scalar(@acked) . ', rows in the table: ' . $node->safe_psql('postgres', 'SELECT count(*) FROM items')
	  . ", rounds where inserts had left rows for VACUUM to relink: $stranded_rounds");

# After all that, the load runs again without errors and the indexes stay sound.
$node->safe_psql('postgres', 'VACUUM items');
my ($rc, $out, $err) = $node->psql('postgres', q{SELECT 1});
my $load = IPC::Run::run(
	[ 'pgbench', '--no-vacuum', '--client=4', '--jobs=2', '--transactions=200', '-f', $script,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$out, '2>', \$err);
ok($load && $out =~ m{actually processed: 800/800}, 'the load runs without errors after the crashes');
is(index_problems(), '', 'and the checkers still pass');

# A crash in the middle of each index build: the index does not exist after recovery, and the
# build then succeeds.
$node->safe_psql('postgres', q{
	CREATE TABLE big (v vector(32));
	INSERT INTO big SELECT ARRAY(SELECT random() FROM generate_series(1, 32) WHERE i > 0)::vector(32)
	FROM generate_series(1, 100000) i;
});
for my $build (
	[ 'hnsw', q{CREATE INDEX big_v ON big USING hnsw (v vector_l2_ops)}, 'building index: building graph' ],
	[ 'ivfflat', q{CREATE INDEX big_v ON big USING ivfflat (v vector_l2_ops) WITH (lists = 200)}, 'building index: performing k-means' ])
{
	my ($am, $sql, $phase) = @$build;
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	$session->query_until(qr/started/, "\\echo started\nSET maintenance_work_mem = '256MB';\n$sql;\n");
	ok($node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_stat_progress_create_index WHERE phase = '$phase'"),
		"the $am build reaches '$phase'");
	kill_server();
	eval { $session->quit; };
	is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname = 'big_v'}), '0',
		"after a crash during the $am build the index does not exist");
	$node->safe_psql('postgres', "SET maintenance_work_mem = '256MB'; $sql");
	my $check = $am eq 'hnsw' ? 'quiver_hnsw_check' : 'quiver_ivfflat_check';
	is($node->safe_psql('postgres', "SELECT count(*) FROM $check('big_v')"), '0',
		"the $am build then succeeds and the checker passes");
	is($node->safe_psql('postgres', qq{SET enable_seqscan = off; SET ivfflat.probes = 200;
		SELECT count(*) FROM (SELECT 1 FROM big ORDER BY v <-> (SELECT v FROM big LIMIT 1) LIMIT 10) s}),
		'10', "and queries through the $am index work");
	$node->safe_psql('postgres', 'DROP INDEX big_v');
}

# Damaged hnsw pages, as a disk could leave them: one with its page id cleared, one with its
# items overwritten by noise. The checker reports them; scans that reach a damaged item fail
# with an ERROR (those that read only sound items or the first page still answer), the server
# stays up; REINDEX mends.
$node->safe_psql('postgres', q{
	CREATE TABLE dmg (id int, v vector(4));
	INSERT INTO dmg SELECT i, ARRAY[sin(i), cos(i), sin(i * 0.7), cos(i * 1.3)] FROM generate_series(1, 3000) i;
	CREATE INDEX dmg_v ON dmg USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);
	CHECKPOINT;
});
my $file = $node->data_dir . '/' . $node->safe_psql('postgres', q{SELECT pg_relation_filepath('dmg_v')});
$node->stop;
open(my $fh, '+<', $file) or die "open $file: $!";
binmode $fh;
seek($fh, 2 * 8192 + 8190, 0) or die;
print $fh "\0\0"; # block 2: the page id at the end of the special space
srand(7);
seek($fh, 3 * 8192 + 64, 0) or die;
print $fh pack('C*', map { int(rand(256)) } 1 .. 8000); # block 3: everything after the line pointers' start
close($fh);
$node->start;
my $problems = $node->safe_psql('postgres', q{SELECT string_agg(p, E'\n') FROM quiver_hnsw_check('dmg_v') p});
like($problems, qr/block 2: not a valid hnsw page/, 'the checker reports the page with a cleared id');
like($problems, qr/\(3,\d+\)/, 'and items of the page overwritten by noise');
# Which scans reach the damage depends on the graph, and its levels are drawn at random: the
# checks are over all scans at once, so that every run makes the same number of them.
my (@failed, @not_error);
for my $i (1 .. 20)
{
	my ($rc, $out, $err) = $node->psql('postgres', qq{SET enable_seqscan = off; SET hnsw.ef_search = 100;
		SELECT count(*) FROM (SELECT id FROM dmg ORDER BY v <-> ARRAY[sin($i), cos($i), 0.5, 0.5]::vector(4) LIMIT 50) s});
	next if $rc == 0;
	push @failed, $i;
	push @not_error, "scan $i: $err" unless $err =~ /ERROR:  /;
}
cmp_ok(scalar(@failed), '>', 0, 'scans that reach the damaged items fail (' . scalar(@failed) . " of 20: @failed)");
is(join("\n", @not_error), '', 'each of them with an ERROR, not a crash or a warning');
is($node->safe_psql('postgres', q{SELECT 1}), '1', 'the server is still up after scans over the damaged pages');
unlike(slurp_file($node->logfile), qr/was terminated by signal (11|6)/, 'no backend crashed');
$node->safe_psql('postgres', 'REINDEX INDEX dmg_v');
is($node->safe_psql('postgres', q{SELECT count(*) FROM quiver_hnsw_check('dmg_v')}), '0', 'REINDEX mends it');

$node->stop;
done_testing();
