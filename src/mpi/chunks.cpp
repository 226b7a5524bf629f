// Large files across ranks: the walker hands treecopy-mpi every file of big_file_threshold or more
// (created and sized by the rank that met it, its owner). After the walk every rank learns every
// such file and copies its share of their 32 MiB chunks (chunk g goes to rank g mod N, so one file
// is spread over all ranks), holes kept, and flushes what it wrote (fdatasync) before a
// reduction tells each owner how its files went; the owner then applies the metadata (times last)
// with the entry copier, as the walker's streams would: no late write can move an mtime.
#include <fcntl.h>
#include <mpi.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "distributed.hpp"
#include "engine/entry_copier.hpp"
#include "engine/reporter.hpp"
#include "engine/setup.hpp"
#include "engine/stream.hpp"
#include "fs/sys.hpp"
#include "phase_copier.hpp"
#include "plan/decide.hpp"
#include "plan/filter.hpp"
#include "serial.hpp"

namespace treecopy_mpi {

namespace engine = treecopy::engine;
namespace fs = treecopy::fs;
using treecopy::copy_report;

namespace {

constexpr std::uint64_t chunk_size = 32ull << 20;

// Every rank's buffer, on every rank.
std::vector<std::vector<char>> gather_to_all(const std::vector<char>& mine) {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int n = static_cast<int>(mine.size());
  std::vector<int> sizes(static_cast<std::size_t>(size)), offsets(static_cast<std::size_t>(size));
  MPI_Allgather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, MPI_COMM_WORLD);
  int total = 0;
  for (int r = 0; r < size; ++r) {
    offsets[static_cast<std::size_t>(r)] = total;
    total += sizes[static_cast<std::size_t>(r)];
  }
  std::vector<char> all(static_cast<std::size_t>(total) + 1);
  MPI_Allgatherv(mine.data(), n, MPI_BYTE, all.data(), sizes.data(), offsets.data(), MPI_BYTE,
                 MPI_COMM_WORLD);
  std::vector<std::vector<char>> out;
  for (int r = 0; r < size; ++r) {
    const char* p = all.data() + offsets[static_cast<std::size_t>(r)];
    out.emplace_back(p, p + sizes[static_cast<std::size_t>(r)]);
  }
  return out;
}

struct file_item {
  int owner;
  std::size_t index;  // in the owner's list
  std::string rel;
  std::uint64_t size;
  std::uint64_t first_chunk, chunks;
};

void split(const std::string& rel, std::string& parent, std::string& name) {
  const auto slash = rel.rfind('/');
  parent = slash == std::string::npos ? std::string() : rel.substr(0, slash);
  name = slash == std::string::npos ? rel : rel.substr(slash + 1);
}

// Opens rel's directory under root and the file in it; 0 or errno.
int open_file(int root, const std::string& rel, int flags, fs::unique_fd& dir, fs::unique_fd& fd) {
  std::string parent, name;
  split(rel, parent, name);
  fs::opened d = fs::open_beneath(root, parent);
  if (!d) return d.error.value();
  fs::opened f = fs::open(d.fd.get(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
  if (!f) return f.error.value();
  dir = std::move(d.fd);
  fd = std::move(f.fd);
  return 0;
}

}  // namespace

void copy_large_files(const std::string& src, const std::string& dst,
                      const treecopy::copy_options& options, const std::vector<large_file>& mine,
                      copy_report& report, message_stats& stats, bool stopping,
                      treecopy::copy_observer* observer,
                      std::uint64_t after_walk[progress_fields]) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  writer w;
  for (const large_file& f : mine) {
    w.str(f.rel);
    w.u64(static_cast<std::uint64_t>(f.st.st_size));
  }
  const auto all = gather_to_all(w.bytes());
  std::vector<file_item> items;
  std::uint64_t next_chunk = 0;
  for (int r = 0; r < size; ++r) {
    reader in(all[static_cast<std::size_t>(r)].data(), all[static_cast<std::size_t>(r)].size());
    for (std::size_t i = 0; in.more(); ++i) {
      file_item it{r, i, in.str(), 0, next_chunk, 0};
      it.size = in.u64();
      it.chunks = std::max<std::uint64_t>(1, (it.size + chunk_size - 1) / chunk_size);
      next_chunk += it.chunks;
      items.push_back(std::move(it));
    }
  }
  if (items.empty()) return;  // the same answer on every rank

  phase_copier pc(src, dst, options, observer, stopping);
  engine::reporter& rep = pc.rep;
  engine::entry_copier& copier = pc.copier;
  engine::dir_node& root = pc.root;
  fs::unique_fd src_root = fs::open(AT_FDCWD, src.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC).fd;
  fs::unique_fd dst_root = fs::open(AT_FDCWD, dst.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC).fd;

  // This rank's chunks. errors[i]: errno of the first failure on item i; read[i]: on its source.
  std::vector<int> errors(items.size(), 0), read(items.size(), 0);
  fs::copy_control ctl;
  ctl.progress = &rep.count().bytes_done.local();
  ctl.cancel = pc.flags.flag();
  for (std::size_t i = 0; i < items.size(); ++i) {
    const file_item& it = items[i];
    std::uint64_t g = it.first_chunk + ((static_cast<std::uint64_t>(rank) + size -
                                         it.first_chunk % static_cast<std::uint64_t>(size)) %
                                        static_cast<std::uint64_t>(size));
    if (g >= it.first_chunk + it.chunks) continue;
    fs::unique_fd sdir, sfd, ddir, dfd;
    if (stopping) {
      errors[i] = ECANCELED;
      continue;
    }
    if (!src_root || !dst_root) {
      errors[i] = ENOENT;
      continue;
    }
    if (int e = open_file(src_root.get(), it.rel, O_RDONLY, sdir, sfd)) {
      errors[i] = e;
      read[i] = 1;
      continue;
    }
    if (int e = open_file(dst_root.get(), it.rel, O_WRONLY, ddir, dfd)) {
      errors[i] = e;
      continue;
    }
    for (; g < it.first_chunk + it.chunks && !errors[i]; g += static_cast<std::uint64_t>(size)) {
      const std::uint64_t off = (g - it.first_chunk) * chunk_size;
      const std::uint64_t len = std::min(chunk_size, it.size - std::min(it.size, off));
      if (len == 0) continue;
      ++stats.chunks;
      const fs::copy_result r = fs::copy_range(sfd.get(), dfd.get(), off, len, true, ctl);
      if (r.error) {
        errors[i] = r.error;
        read[i] = r.read_side ? 1 : 0;
      }
    }
    // On the disk before the owner sets the times: a write still cached on another node of a
    // shared file system would move the mtime when it lands.
    if (!errors[i] && ::fdatasync(dfd.get()) != 0) errors[i] = errno;
  }
  std::vector<int> all_errors(items.size()), all_read(items.size());
  MPI_Allreduce(errors.data(), all_errors.data(), static_cast<int>(items.size()), MPI_INT, MPI_MAX,
                MPI_COMM_WORLD);
  MPI_Allreduce(read.data(), all_read.data(), static_cast<int>(items.size()), MPI_INT, MPI_MAX,
                MPI_COMM_WORLD);

  // The owner finishes its files: metadata, or the copy removed after a failure.
  for (std::size_t i = 0; i < items.size(); ++i) {
    const file_item& it = items[i];
    if (it.owner != rank) continue;
    const large_file& f = mine[it.index];
    std::string parent, name;
    split(it.rel, parent, name);
    engine::dir_node node;
    engine::dir_node* at = parent.empty() ? &root : &node;
    node.parent = &root;
    node.name = parent;
    at->always_chmod = f.dir_always_chmod;
    fs::unique_fd sdir, sfd, ddir, dfd;
    int err = all_errors[i];
    bool read_side = all_read[i] != 0;
    if (!err && (err = open_file(src_root.get(), it.rel, O_RDONLY, sdir, sfd))) read_side = true;
    if (!err) err = open_file(dst_root.get(), it.rel, O_WRONLY, ddir, dfd);
    at->src_fd = sdir.get();
    at->dst_fd = ddir.get();
    engine::big_file big{};
    big.node = at;
    big.name = name.c_str();
    big.sfd = std::move(sfd);
    big.dfd = std::move(dfd);
    big.st = f.st;
    big.first_link = false;
    big.sparse = false;
    big.error.store(err);
    big.read_side.store(read_side);
    if (err && !ddir) {
      rep.report(at, name, !read_side,
                 read_side ? treecopy::operation::read : treecopy::operation::write,
                 fs::errno_code(err));
      continue;
    }
    copier.finish_large_file(big);
    root.src_fd = root.dst_fd = -1;
  }
  // For the last progress event: the walk counted these files found, not done.
  const engine::counters& c = rep.count();
  after_walk[1] += c.entries_done.load();
  after_walk[3] += c.bytes_done.load();
  after_walk[4] += c.errors.load();
  after_walk[5] += c.skipped.load();
  copy_report r = rep.finish();
  for (std::size_t k = 0; k < treecopy::entry_kind_count; ++k)
    report.copied.by_kind[k] += r.copied.by_kind[k];
  report.bytes_copied += r.bytes_copied;
  report.error_count += r.error_count;
  for (auto& e : r.errors) report.errors.push_back(std::move(e));
}

}  // namespace treecopy_mpi
