# Roles, row-level security and sustained load:
#  - a database owner who is not a superuser installs the extension (it is trusted), with
#    decoy functions planted beforehand by another role that could create in its schema;
#  - a role without SELECT reads nothing through any index path or inspection function;
#  - a multi-tenant table under a row-level security policy (tenant from a session setting):
#    ANN queries through hnsw and ivfflat return only the tenant's rows, k of them with
#    iterative scans on, and nearly the tenant's exact nearest;
#  - pgbench with 8 clients mixing searches, inserts, updates, deletes and VACUUM for
#    QUIVER_SOAK_SECONDS (20 by default): no error, backend memory flat, indexes sound.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $soak_seconds = $ENV{QUIVER_SOAK_SECONDS} // 20;
$soak_seconds = 12 if $soak_seconds < 12; # room for the two memory samples
my $dim = 8;

my $node = PostgreSQL::Test::Cluster->new('roles');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 40\n");
$node->start;

sub sql_as
{
	my ($role, $db, $sql) = @_;
	return $node->safe_psql($db, $sql, extra_params => [ '-U', $role ]);
}

$node->safe_psql('postgres', q{
	CREATE ROLE app_owner LOGIN;
	CREATE ROLE mallory LOGIN;
	CREATE ROLE app_user LOGIN;
	CREATE ROLE outsider LOGIN;
	CREATE DATABASE appdb OWNER app_owner;
});
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'app_owner'}), 'f',
	'the database owner is not a superuser');

# A legacy setup: the owner lets another role create in public, and that role plants decoys
# that would capture an unqualified or loosely matched call from the install script.
sql_as('app_owner', 'appdb', 'GRANT CREATE ON SCHEMA public TO mallory');
sql_as('mallory', 'appdb', q{
	CREATE FUNCTION public.vector_accum(double precision[], anyelement) RETURNS double precision[]
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked: vector_accum'; END $$;
	CREATE FUNCTION public.vector_combine(anyarray, anyarray) RETURNS double precision[]
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked: vector_combine'; END $$;
	CREATE FUNCTION public.l2_distance(anyelement, anyelement) RETURNS double precision
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked: l2_distance'; END $$;
	CREATE FUNCTION public.array_to_vector(anyarray, integer, boolean) RETURNS anyarray
	LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked: array_to_vector'; END $$;
});

my ($rc, $out, $err) = $node->psql('appdb', 'SET search_path = public, pg_catalog; CREATE EXTENSION quiver',
	extra_params => [ '-U', 'app_owner' ]);
is($rc, 0, 'the non-superuser owner installs the trusted extension') or diag($err);
is($node->safe_psql('appdb', q{SELECT extowner::regrole FROM pg_extension WHERE extname = 'quiver'}), 'app_owner',
	'and owns it');

sql_as('app_owner', 'appdb', qq{
	CREATE TABLE docs (id int PRIMARY KEY, tenant int NOT NULL, v vector($dim) NOT NULL);
	INSERT INTO docs SELECT i, i % 50, ARRAY(SELECT sin(i * j * 0.37 + j) FROM generate_series(1, $dim) j)::vector($dim)
	FROM generate_series(1, 5000) i;
	CREATE INDEX docs_hnsw ON docs USING hnsw (v vector_l2_ops);
	CREATE INDEX docs_ivf ON docs USING ivfflat (v vector_cosine_ops) WITH (lists = 20);
});
is(sql_as('app_owner', 'appdb', q{SELECT avg(x)::text FROM (VALUES ('[1,2,3,4,5,6,7,8]'::vector), ('[3,4,5,6,7,8,9,10]')) t(x)}),
	'[2,3,4,5,6,7,8,9]', 'avg(vector) runs Quiver\'s own aggregate functions, not the decoys');
is(sql_as('app_owner', 'appdb', q{SELECT round(l2_distance('[0,0,0,0,0,0,0,0]'::vector, '[3,4,0,0,0,0,0,0]')::numeric, 3)}),
	'5.000', 'l2_distance resolves to Quiver\'s');
is(sql_as('app_owner', 'appdb', q{SELECT ARRAY[1,2,3,4,5,6,7,8]::vector(8)::text}), '[1,2,3,4,5,6,7,8]',
	'the array cast resolves to Quiver\'s');
is($node->safe_psql('appdb', q{SELECT count(*) FROM pg_depend d JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
	WHERE d.refclassid = 'pg_extension'::regclass AND p.proowner = 'mallory'::regrole}), '0',
	'no decoy became part of the extension');

# ---- a role without SELECT
sql_as('app_owner', 'appdb', 'GRANT USAGE ON SCHEMA public TO outsider');
for my $case (
	[ 'an hnsw scan', q{SET enable_seqscan = off; SELECT id FROM docs ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 3} ],
	[ 'an ivfflat scan', q{SET enable_seqscan = off; SELECT id FROM docs ORDER BY v <=> '[1,1,1,1,1,1,1,1]' LIMIT 3} ],
	[ 'a filtered scan', q{SELECT v FROM docs WHERE id = 7} ],
	[ 'quiver_hnsw_check', q{SELECT * FROM quiver_hnsw_check('docs_hnsw')} ],
	[ 'quiver_hnsw_stats', q{SELECT * FROM quiver_hnsw_stats('docs_hnsw')} ],
	[ 'quiver_ivfflat_check', q{SELECT * FROM quiver_ivfflat_check('docs_ivf')} ],
	[ 'quiver_ivfflat_stats', q{SELECT * FROM quiver_ivfflat_stats('docs_ivf')} ])
{
	my ($what, $sql) = @$case;
	my ($rc2, $out2, $err2) = $node->psql('appdb', $sql, extra_params => [ '-U', 'outsider' ]);
	like($err2, qr/permission denied/, "a role without SELECT is refused $what");
}

# ---- row-level security, tenants from a session setting
sql_as('app_owner', 'appdb', q{
	GRANT USAGE ON SCHEMA public TO app_user;
	GRANT SELECT ON docs TO app_user;
	ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
	CREATE POLICY tenant_rows ON docs USING (tenant = current_setting('app.tenant', true)::int);
});
my $q = '[' . join(',', map { sprintf('%.3f', cos($_ * 0.9)) } 1 .. $dim) . ']';
for my $tenant (3, 17, 42)
{
	for my $path (
		[ 'hnsw, relaxed order', '<->', 'SET hnsw.iterative_scan = relaxed_order;', 'docs_hnsw' ],
		[ 'hnsw, strict order', '<->', 'SET hnsw.iterative_scan = strict_order;', 'docs_hnsw' ],
		[ 'ivfflat, relaxed order', '<=>', 'SET ivfflat.iterative_scan = relaxed_order; SET ivfflat.probes = 4;', 'docs_ivf' ])
	{
		my ($what, $op, $settings, $index) = @$path;
		my %truth = map { $_ => 1 } split(/,/, sql_as('app_owner', 'appdb', qq{SET enable_indexscan = off; SET enable_bitmapscan = off;
			SELECT string_agg(id::text, ',') FROM (SELECT id FROM docs WHERE tenant = $tenant ORDER BY v $op '$q' LIMIT 10) s}));
		my $query = "SELECT id, tenant, v $op '$q' AS d FROM docs ORDER BY v $op '$q' LIMIT 10";
		my $settings_sql = "SET app.tenant = '$tenant'; SET enable_seqscan = off; $settings";
		like(sql_as('app_user', 'appdb', "$settings_sql EXPLAIN (COSTS OFF) $query"), qr/Index Scan using $index/,
			"tenant $tenant, $what: the query uses $index");
		my $result = sql_as('app_user', 'appdb', qq{$settings_sql
			SELECT count(*) || ' ' || count(*) FILTER (WHERE tenant = $tenant) || ' ' || coalesce(string_agg(id::text, ','), '')
			       || ' ' || coalesce(bool_and(ordered), true)
			FROM (SELECT id, tenant, d >= coalesce(lag(d) OVER (), d) AS ordered FROM ($query) r) s});
		my ($n, $own, $ids, $ordered) = split(/ /, $result);
		my $found = grep { $truth{$_} } split(/,/, $ids // '');
		is("$n $own", '10 10', "tenant $tenant, $what: 10 rows, all the tenant's");
		if ($what =~ /strict/)
		{
			# Strict order never returns a row nearer than one already returned, so rows found
			# late are passed over: fewer of the exact nearest than relaxed order (as pgvector).
			is($ordered, 'true', "tenant $tenant, $what: in order of distance ($found of the tenant's 10 nearest)");
		}
		else
		{
			cmp_ok($found, '>=', 7, "tenant $tenant, $what: $found of the tenant's 10 nearest");
		}
	}
}
is(sql_as('app_user', 'appdb', qq{SELECT count(*) FROM (SELECT id FROM docs ORDER BY v <-> '$q' LIMIT 10) s}), '0',
	'with no tenant set, no row comes back');

# ---- sustained load
$node->safe_psql('appdb', qq{
	CREATE TABLE load (id bigserial PRIMARY KEY, cat int NOT NULL, v vector($dim) NOT NULL);
	ALTER TABLE load OWNER TO app_owner;
	INSERT INTO load (cat, v) SELECT i % 10, ARRAY(SELECT random() FROM generate_series(1, $dim) WHERE i > 0)::vector($dim)
	FROM generate_series(1, 20000) i;
	CREATE INDEX load_hnsw ON load USING hnsw (v vector_l2_ops);
	CREATE INDEX load_ivf ON load USING ivfflat (v vector_cosine_ops) WITH (lists = 40, quantizer = 'sq8');
	GRANT SELECT, INSERT, UPDATE, DELETE ON load TO app_user;
	GRANT USAGE ON SEQUENCE load_id_seq TO app_user;
});
my $rand_vec = "ARRAY(SELECT random() FROM generate_series(1, $dim))::vector($dim)";
my $script = $node->basedir . '/soak.sql';
append_to_file($script, qq{
\\set r random(1, 100)
\\set c random(0, 9)
\\if :r <= 35
SELECT id FROM load ORDER BY v <-> $rand_vec LIMIT 10;
\\elif :r <= 45
SELECT id FROM load ORDER BY v <=> $rand_vec LIMIT 10;
\\elif :r <= 55
SET hnsw.iterative_scan = relaxed_order;
SELECT id FROM load WHERE cat = :c ORDER BY v <-> $rand_vec LIMIT 10;
RESET hnsw.iterative_scan;
\\elif :r <= 80
INSERT INTO load (cat, v) VALUES (:c, $rand_vec);
\\elif :r <= 90
UPDATE load SET v = $rand_vec WHERE id = (SELECT (random() * (SELECT max(id) FROM load))::bigint);
\\else
DELETE FROM load WHERE id = (SELECT (random() * (SELECT max(id) FROM load))::bigint);
\\endif
});

# Private memory of each load backend (RssAnon: not shared buffers), in kB.
sub backend_memory
{
	my %kb;
	for my $pid (split(/\n/, $node->safe_psql('appdb', q{SELECT pid FROM pg_stat_activity WHERE application_name = 'quiver_soak'})))
	{
		open(my $fh, '<', "/proc/$pid/status") or next;
		while (<$fh>) { $kb{$pid} = $1 if /^RssAnon:\s+(\d+) kB/; }
		close($fh);
	}
	return \%kb;
}

my ($soak_out, $soak_err) = ('', '');
my $soak;
{
	local $ENV{PGAPPNAME} = 'quiver_soak';
	$soak = IPC::Run::start(
		[ 'pgbench', '--no-vacuum', '--client=8', '--jobs=2', "--time=$soak_seconds", '-f', $script,
		  '-h', $node->host, '-p', $node->port, '-U', 'app_user', 'appdb' ],
		'>', \$soak_out, '2>', \$soak_err);
}
# Vacuum runs beside the load, as autovacuum would on a busy table.
# Memory is sampled at a quarter of the run and 3 s before its end (no VACUUM in the last 6 s,
# so the late sample is taken while every client is still connected).
my ($early, $late);
my $started = time;
while (!defined($late))
{
	sleep(1);
	my $elapsed = time - $started;
	$early = backend_memory() if !defined($early) && $elapsed >= $soak_seconds / 4;
	$late = backend_memory() if defined($early) && $elapsed >= $soak_seconds - 3;
	$node->safe_psql('appdb', 'VACUUM load') if $elapsed % 5 == 0 && $elapsed < $soak_seconds - 6;
}
$soak->finish;
like($soak_out, qr/number of failed transactions: 0 /, "pgbench, 8 clients for $soak_seconds s: no failed transaction")
  or diag($soak_err);
is($soak_err, '', 'and no error');
my ($tps) = $soak_out =~ /tps = ([\d.]+)/;
my ($xacts) = $soak_out =~ /number of transactions actually processed: (\d+)/;
note("soak: $xacts transactions, $tps tps");

my @common = grep { exists $late->{$_} } keys %$early;
is(scalar(@common), 8, 'memory sampled for the 8 load backends');
my $max_growth = 0;
for my $pid (@common)
{
	my $growth = $late->{$pid} - $early->{$pid};
	$max_growth = $growth if $growth > $max_growth;
	note("backend $pid: RssAnon $early->{$pid} kB at a quarter, $late->{$pid} kB at the end");
}
cmp_ok($max_growth, '<', 4096, "backend private memory stays flat (largest growth $max_growth kB)");

$node->safe_psql('appdb', 'VACUUM load');
is($node->safe_psql('appdb', q{
	SELECT coalesce(string_agg(p, E'\n'), '') FROM (
		SELECT 'load_hnsw: ' || p AS p FROM quiver_hnsw_check('load_hnsw') p
		UNION ALL SELECT 'load_ivf: ' || p FROM quiver_ivfflat_check('load_ivf') p) s}), '',
	'after the load the checkers pass');

$node->stop;
done_testing();
