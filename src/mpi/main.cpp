// treecopy-mpi: the treecopy command over the ranks of an MPI job (distributed.hpp). Every rank
// parses the same command line; rank 0 runs the command as treecopy does (its output, progress
// views, summary, JSON and exit codes), the others copy silently. Every rank exits with rank 0's
// code, so that mpirun's is treecopy's.
#include <fcntl.h>
#include <mpi.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "distributed.hpp"
#include "entry.hpp"
#include "options.hpp"
#include "signals.hpp"
#include "summary.hpp"

namespace {

treecopy_mpi::message_stats stats;

treecopy::copy_report copy(const std::string& src, const std::string& dst,
                           const treecopy::copy_options& options, treecopy::copy_observer* observer,
                           std::stop_token stop) {
  return treecopy_mpi::distributed_copy(src, dst, options, observer, std::move(stop), stats);
}

// The other ranks: the same parse, no output at all.
int silent_rank(int argc, char** argv) {
  const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    ::close(null);
  }
  // Rank 0 says first whether the copy runs at all (its verdict, or its exit code when the
  // command stopped before the copy: --help, a bad option).
  int code = 0;
  try {
    treecopy_cli::cli_args args;
    if (treecopy_cli::parse(argc, argv, args)) {
      MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
      return code;
    }
    // SIGINT and SIGTERM stop this rank's copy, and through it every rank's.
    std::stop_source stop;
    treecopy_cli::signal_stopper signals(stop, [](int) {});
    // The pair rank 0 copies (cp's forms: DIR/SRC's name for -t DIR or SRC DIR/). -v: this
    // rank's entries go to rank 0, which lists them.
    const treecopy::copy_pair& pair = args.pairs.front();
    treecopy_mpi::entry_list entries;
    copy(pair.src.string(), pair.dst.string(), args.options, args.verbose ? &entries : nullptr,
         stop.get_token());
  } catch (const treecopy::setup_error&) {
    return treecopy_mpi::verdict().code;  // rank 0 refused the copy
  }
  MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return code;
}

void print_stats(int rank, int size) {
  if (!std::getenv("TREECOPY_MPI_STATS")) return;
  unsigned long long mine[8] = {stats.sent,          stats.bytes,
                                stats.units_given,   stats.units_run,
                                stats.chunks,        stats.chunks ? 1ull : 0ull,
                                stats.batches_given, stats.batches_run ? 1ull : 0ull};
  unsigned long long sum[8] = {};
  MPI_Reduce(mine, sum, 8, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank == 0)
    std::fprintf(stderr,
                 "treecopy-mpi: ranks %d, messages of the walk %llu, bytes %llu, units handed off "
                 "%llu, units run %llu, chunks %llu, ranks that copied chunks %llu, batches of "
                 "shared directories handed off %llu, ranks that copied batches %llu\n",
                 size, sum[0], sum[1], sum[2], sum[3], sum[4], sum[5], sum[6], sum[7]);
  // The hard-link phase: names sent to their owners, and the slowest rank's time in it.
  unsigned long long link_bytes = 0;
  double link_seconds = 0;
  MPI_Reduce(&stats.link_bytes, &link_bytes, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
  MPI_Reduce(&stats.link_seconds, &link_seconds, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  if (rank == 0)
    std::fprintf(stderr, "treecopy-mpi: hard-link names %llu bytes, hard-link phase %.3f s\n",
                 link_bytes, link_seconds);
}

// A job of one rank has nothing to distribute: it runs treecopy's own command, without MPI_Init
// and MPI_Finalize, which cost ~0.17 s of a rank's time on this machine (PMIx connection and
// address exchange with mpirun) — more than copying a small tree. mpirun asks nothing of a rank
// that never starts MPI: it propagates the exit code, prints its usual note for a non-zero one
// and forwards its signals, as for any command. One rank is known from Open MPI's launcher
// (OMPI_COMM_WORLD_SIZE=1), or from no launcher at all (a singleton start, without mpirun).
// Another launcher (srun, a PMI or PMIx server) tells no size before MPI_Init: MPI it is.
bool single_rank_job() {
  if (const char* size = std::getenv("OMPI_COMM_WORLD_SIZE")) return std::strcmp(size, "1") == 0;
  for (const char* launcher : {"PMIX_RANK", "PMIX_NAMESPACE", "PMI_RANK", "PMI_SIZE", "PMI_FD",
                               "SLURM_STEP_ID", "OMPI_UNIVERSE_SIZE"})
    if (std::getenv(launcher)) return false;
  return true;
}

// mpirun binds a job of one or two ranks to one core each by default: one rank's -j workers
// would share that core (and -j's default, the CPUs the process may use, would be 1). With no
// binding asked for (mpirun --bind-to, hwloc_base_binding_policy, which mpirun passes to the
// rank), the one rank takes back every CPU its cgroup allows, as treecopy has. A binding that a
// site sets in openmpi-mca-params.conf is not seen here: the rank stays where mpirun put it.
void undo_default_binding() {
  const char* bound = std::getenv("OMPI_MCA_orte_bound_at_launch");
  if (!bound || std::strcmp(bound, "1") != 0) return;
  if (std::getenv("OMPI_MCA_hwloc_base_binding_policy")) return;
  cpu_set_t all;
  CPU_ZERO(&all);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) CPU_SET(cpu, &all);
  (void)::sched_setaffinity(0, sizeof all, &all);  // the kernel keeps the cgroup's CPUs only
}

}  // namespace

int main(int argc, char** argv) {
  if (single_rank_job()) {
    if (std::getenv("TREECOPY_MPI_STATS"))
      std::fprintf(stderr, "treecopy-mpi: ranks 1, the local engine (MPI not started)\n");
    undo_default_binding();
    return treecopy_cli::cli_main(argc, argv);
  }
  // Open MPI chooses its point-to-point layer by starting every candidate (UCX, and the MTLs over
  // libfabric and PSM): 0.2 s of the job's start on this machine, before any file is copied. The
  // walk's messages are few and small (a few per thousand files, tens of bytes), which ob1 (over
  // shared memory or TCP) carries as well, so it is the default here; a pml the user chose
  // (mpirun --mca pml X, or OMPI_MCA_pml, which mpirun passes to every rank) is kept.
  ::setenv("OMPI_MCA_pml", "ob1", 0);
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int code = 0;
  if (rank == 0) {
    code = treecopy_cli::cli_main(argc, argv, copy);
    // The others wait for one number: the verdict when no copy started, else the exit code.
    const treecopy_mpi::verdict_state v = treecopy_mpi::verdict();
    if (!v.sent) {
      // The command ended before the copy (--help, a bad option, a refused --progress-file): the
      // others, waiting for the verdict (or, done parsing too, for the code), exit with its code.
      MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
    } else if (v.code == 0) {
      MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
    }
  } else {
    code = silent_rank(argc, argv);
  }
  if (treecopy_mpi::verdict().sent && treecopy_mpi::verdict().code == 0) print_stats(rank, size);
  MPI_Finalize();
  return code;
}
