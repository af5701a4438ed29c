# Server-level basics of the vector type:
#  - a database owner who is not a superuser can CREATE EXTENSION quiver (it is trusted);
#  - vectors written before a crash (immediate stop, no checkpoint) are all there after recovery;
#  - pg_dump / pg_restore (custom format) to a second server gives identical query results;
#  - QUIVER_KERNEL_LEVEL in the server's environment forces the scalar kernels, and the scalar
#    kernels answer the same k-NN queries with the same rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init;
$primary->start;

$primary->safe_psql('postgres', q{
	CREATE ROLE app_owner LOGIN;
	CREATE DATABASE appdb OWNER app_owner;
});
$primary->safe_psql('appdb', 'CREATE EXTENSION quiver', extra_params => [ '-U', 'app_owner' ]);
is($primary->safe_psql('appdb', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'app_owner'}), 'f',
	'the extension was created by a non-superuser');

$primary->safe_psql('appdb', q{
	CREATE TABLE items (id int PRIMARY KEY, embedding vector(16));
	INSERT INTO items SELECT i, ARRAY(SELECT sin(i * j * 0.13) FROM generate_series(1, 16) j)::vector(16)
	FROM generate_series(1, 5000) i;
}, extra_params => [ '-U', 'app_owner' ]);

my @queries = map { my $q = $_; "[" . join(',', map { sprintf('%.3f', cos($_ * $q * 0.31)) } 1 .. 16) . "]" } (1 .. 10);

sub knn_answers
{
	my ($node) = @_;
	my @answers;
	for my $op ('<->', '<#>', '<=>', '<+>')
	{
		for my $q (@queries)
		{
			push @answers, $node->safe_psql('appdb',
				"SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY embedding $op '$q', id LIMIT 10) s");
		}
	}
	return join(';', @answers);
}

my $before = knn_answers($primary);
my $checksum_sql = q{SELECT count(*), md5(string_agg(embedding::text, '' ORDER BY id)) FROM items};
my $checksum = $primary->safe_psql('appdb', $checksum_sql);

# Crash: no shutdown checkpoint, recovery must replay the WAL.
$primary->stop('immediate');
$primary->start;
is($primary->safe_psql('appdb', $checksum_sql), $checksum, 'every vector survives a crash');
is(knn_answers($primary), $before, 'k-NN answers are the same after recovery');

# Dump and restore into another server.
my $restored = PostgreSQL::Test::Cluster->new('restored');
$restored->init;
$restored->start;
my $dump = $primary->basedir . '/appdb.dump';
$primary->command_ok([ 'pg_dump', '-Fc', '-d', $primary->connstr('appdb'), '-f', $dump ], 'pg_dump -Fc');
$restored->safe_psql('postgres', 'CREATE DATABASE appdb');
$restored->command_ok([ 'pg_restore', '--no-owner', '-d', $restored->connstr('appdb'), $dump ], 'pg_restore');
is($restored->safe_psql('appdb', $checksum_sql), $checksum, 'restored vectors are identical');
is(knn_answers($restored), $before, 'restored server gives the same k-NN answers');

# Force the scalar kernels through the server's environment.
my $best = $primary->safe_psql('appdb', 'SELECT quiver_kernel_level()');
$ENV{QUIVER_KERNEL_LEVEL} = 'scalar';
$primary->restart;
delete $ENV{QUIVER_KERNEL_LEVEL};
is($primary->safe_psql('appdb', 'SELECT quiver_kernel_level()'), 'scalar', "QUIVER_KERNEL_LEVEL=scalar is honoured (best here: $best)");
is(knn_answers($primary), $before, 'scalar kernels give the same k-NN answers as the SIMD ones');

# An unknown level falls back to the best one, with a warning in the log.
$ENV{QUIVER_KERNEL_LEVEL} = 'bogus';
$primary->restart;
delete $ENV{QUIVER_KERNEL_LEVEL};
my ($stdout, $stderr);
$primary->psql('appdb', 'SELECT quiver_kernel_level()', stdout => \$stdout, stderr => \$stderr);
is($stdout, $best, 'an unknown level falls back to the best supported one');
like($stderr, qr/QUIVER_KERNEL_LEVEL names a kernel level that is unknown or not supported here/, 'and says so');

$primary->stop;
$restored->stop;
done_testing();
