// What one MPI rank sees of the "host" it was placed on, and a real exchange with the others, for
// the several-hosts harness (hosts.sh). Rank 0 prints one line per rank:
//   rank=R size=S host=HOSTNAME netns=INODE ring_from=L ring_bytes=B ok=1
// after an MPI_Allreduce of the ranks and a ring of B bytes (default 10 MiB; argv[1] overrides):
// each rank sends a pattern seeded by its rank to rank+1 and checks the one it receives from
// rank-1 byte for byte. The exit status is 0 only when every rank's checks passed. Rank 0 does
// the printing so that lines of different ranks never interleave.

// The C API only: the C++ bindings Open MPI still ships are deprecated and do not build
// warning-free.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

enum { line_size = 256 };

// A pattern no two ranks share, so that a message delivered to the wrong rank is caught.
static void fill_pattern(unsigned char* buf, size_t size, int rank) {
  uint64_t x = 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(rank + 1);
  for (size_t i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    buf[i] = static_cast<unsigned char>(x >> 24);
  }
}

static unsigned long long netns_inode() {
  char target[64] = {0};
  unsigned long long inode = 0;
  if (readlink("/proc/self/ns/net", target, sizeof target - 1) > 0) {
    std::sscanf(target, "net:[%llu]", &inode);
  }
  return inode;
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  size_t ring_bytes = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : size_t{10} << 20;

  char host[128] = {0};
  gethostname(host, sizeof host - 1);

  long sum = 0, mine = rank;
  MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  bool ok = sum == static_cast<long>(size) * (size - 1) / 2;

  std::vector<unsigned char> out(ring_bytes), in(ring_bytes), want(ring_bytes);
  int next = (rank + 1) % size, prev = (rank + size - 1) % size;
  fill_pattern(out.data(), ring_bytes, rank);
  fill_pattern(want.data(), ring_bytes, prev);
  // Sent in pieces of at most 1 GiB: MPI counts are ints.
  for (size_t done = 0; done < ring_bytes;) {
    int piece =
        ring_bytes - done > (size_t{1} << 30) ? 1 << 30 : static_cast<int>(ring_bytes - done);
    MPI_Sendrecv(out.data() + done, piece, MPI_BYTE, next, 0, in.data() + done, piece, MPI_BYTE,
                 prev, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    done += static_cast<size_t>(piece);
  }
  ok = ok && in == want;

  char line[line_size];
  std::snprintf(line, sizeof line,
                "rank=%d size=%d host=%s netns=%llu ring_from=%d ring_bytes=%zu ok=%d", rank, size,
                host, netns_inode(), prev, ring_bytes, ok ? 1 : 0);
  std::vector<char> lines(rank == 0 ? static_cast<size_t>(size) * line_size : 0);
  MPI_Gather(line, line_size, MPI_CHAR, lines.data(), line_size, MPI_CHAR, 0, MPI_COMM_WORLD);
  int mine_ok = ok ? 1 : 0, all_ok = 0;
  MPI_Allreduce(&mine_ok, &all_ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  if (rank == 0) {
    for (int r = 0; r < size; r++)
      std::printf("%s\n", lines.data() + static_cast<size_t>(r) * line_size);
    std::fflush(stdout);
  }
  MPI_Finalize();
  return all_ok ? 0 : 1;
}
