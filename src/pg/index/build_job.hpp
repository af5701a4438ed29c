// Running a core job (ParallelFor, ParallelInserter, KmeansJob) from an index build: the
// backend thread starts the workers with signals blocked, then waits in short slices,
// reporting progress and stopping the job on a cancel.
#pragma once

#include <csignal>
#include <thread>

#include <pthread.h>

extern "C" {
#include "postgres.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "pgstat.h"
}

namespace quiver::pg {

// Threads for a build: `requested` when positive (a setting the user chose, honoured as
// given), else max_parallel_maintenance_workers + 1, at most the cores present.
inline int
BuildThreads(int requested)
{
	if (requested > 0)
		return requested;
	int threads = max_parallel_maintenance_workers + 1;
	int cores = static_cast<int>(std::thread::hardware_concurrency());
	if (cores > 0 && threads > cores)
		threads = cores;
	return threads < 1 ? 1 : threads;
}

// Runs a core job (ParallelInserter, ParallelFor) to completion on its worker threads while
// this thread reports progress and watches for a cancel.
template <typename Job>
void
RunBuildJob(Job &job, const char *am_name, bool report_progress = true)
{
	// Threads inherit the signal mask: block everything while they are created so that only
	// this thread ever runs PostgreSQL's signal handlers.
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	try {
		job.Start();
	} catch (...) {
		// A thread that could not be created must not leave this backend deaf to cancels.
		pthread_sigmask(SIG_SETMASK, &old, nullptr);
		throw;
	}
	pthread_sigmask(SIG_SETMASK, &old, nullptr);

	if (report_progress)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, static_cast<int64>(job.Total()));
	while (!job.WaitFor(100)) {
		// Only a cancel or a termination ends the build. Other interrupts (signal barriers,
		// memory context logging, ...) wait until the threads are done: processing them here
		// could longjmp past live threads, and stopping for them would leave the work
		// half-done.
		if (QueryCancelPending || ProcDiePending) {
			job.RequestStop();
			try {
				job.Join();
			} catch (...) {
				// The cancel is what the user asked for; a worker error after it is moot.
			}
			CHECK_FOR_INTERRUPTS();
			// Still here (the cancel was held off): the work is incomplete, so do not go on.
			ereport(ERROR, (errcode(ERRCODE_QUERY_CANCELED), errmsg("%s index build was interrupted", am_name)));
		}
		if (report_progress)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, static_cast<int64>(job.Done()));
	}
	job.Join();
	if (report_progress)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, static_cast<int64>(job.Total()));
}

} // namespace quiver::pg
