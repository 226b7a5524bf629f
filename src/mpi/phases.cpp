// The phases of treecopy-mpi after the walk: names of a hard-linked file that different units
// copied become links to one copy again; directory metadata is applied deepest level first,
// once no rank writes into any directory; every rank's report reaches rank 0.
#include <fcntl.h>
#include <mpi.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "distributed.hpp"
#include "engine/entry_copier.hpp"
#include "engine/reporter.hpp"
#include "engine/setup.hpp"
#include "fs/sys.hpp"
#include "phase_copier.hpp"
#include "plan/decide.hpp"
#include "plan/filter.hpp"
#include "serial.hpp"

namespace treecopy_mpi {

namespace engine = treecopy::engine;
namespace fs = treecopy::fs;
using treecopy::copy_report;
using treecopy::entry_kind;

namespace {

// Every rank's buffer, on rank 0 (empty elsewhere).
std::vector<std::vector<char>> gather_to_root(const std::vector<char>& mine) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int n = static_cast<int>(mine.size());
  std::vector<int> sizes(static_cast<std::size_t>(size)), offsets(static_cast<std::size_t>(size));
  MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  std::vector<char> all;
  if (rank == 0) {
    int total = 0;
    for (int r = 0; r < size; ++r) {
      offsets[static_cast<std::size_t>(r)] = total;
      total += sizes[static_cast<std::size_t>(r)];
    }
    all.resize(static_cast<std::size_t>(total) + 1);
  }
  MPI_Gatherv(mine.data(), n, MPI_BYTE, all.data(), sizes.data(), offsets.data(), MPI_BYTE, 0,
              MPI_COMM_WORLD);
  std::vector<std::vector<char>> out;
  if (rank == 0)
    for (int r = 0; r < size; ++r) {
      const char* p = all.data() + offsets[static_cast<std::size_t>(r)];
      out.emplace_back(p, p + sizes[static_cast<std::size_t>(r)]);
    }
  return out;
}

// Every rank's to_rank[r] on rank r: what each rank sent this one, by sender.
std::vector<std::vector<char>> all_to_all(const std::vector<std::vector<char>>& to_rank) {
  const int size = static_cast<int>(to_rank.size());
  std::vector<int> send_n(to_rank.size()), send_at(to_rank.size()), recv_n(to_rank.size()),
      recv_at(to_rank.size());
  std::vector<char> out;
  for (int r = 0; r < size; ++r) {
    const auto i = static_cast<std::size_t>(r);
    send_at[i] = static_cast<int>(out.size());
    send_n[i] = static_cast<int>(to_rank[i].size());
    out.insert(out.end(), to_rank[i].begin(), to_rank[i].end());
  }
  MPI_Alltoall(send_n.data(), 1, MPI_INT, recv_n.data(), 1, MPI_INT, MPI_COMM_WORLD);
  int total = 0;
  for (int r = 0; r < size; ++r) {
    recv_at[static_cast<std::size_t>(r)] = total;
    total += recv_n[static_cast<std::size_t>(r)];
  }
  std::vector<char> in(static_cast<std::size_t>(total) + 1);
  MPI_Alltoallv(out.data(), send_n.data(), send_at.data(), MPI_BYTE, in.data(), recv_n.data(),
                recv_at.data(), MPI_BYTE, MPI_COMM_WORLD);
  std::vector<std::vector<char>> from(to_rank.size());
  for (std::size_t r = 0; r < from.size(); ++r) {
    const char* p = in.data() + recv_at[r];
    from[r].assign(p, p + recv_n[r]);
  }
  return from;
}

fs::unique_fd open_dst_root(const std::string& dst) {
  fs::opened o = fs::open(AT_FDCWD, dst.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return std::move(o.fd);
}

void split(const std::string& rel, std::string& parent, std::string& name) {
  const auto slash = rel.rfind('/');
  parent = slash == std::string::npos ? std::string() : rel.substr(0, slash);
  name = slash == std::string::npos ? rel : rel.substr(slash + 1);
}

std::string display(const std::string& dst, const std::string& rel) {
  std::string out = dst;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return rel.empty() ? out : out + "/" + rel;
}

void add_error(copy_report& report, treecopy::entry_error e, treecopy::copy_observer* observer) {
  if (observer) observer->on_error(e);
  ++report.error_count;
  report.errors.push_back(std::move(e));
}

// One group's names (sorted): every name whose copy is not the first name's inode becomes a link
// to it, replaced atomically (link to a temporary name, rename over). Returns the copies undone.
std::uint64_t relink_group(int root, const std::string& dst, const std::vector<std::string>& names,
                           copy_report& report, std::uint64_t& bytes) {
  std::string fparent, fname;
  split(names.front(), fparent, fname);
  fs::opened fdir = fs::open_beneath(root, fparent);
  struct stat first {};
  if (!fdir || ::fstatat(fdir.fd.get(), fname.c_str(), &first, AT_SYMLINK_NOFOLLOW) != 0) return 0;
  std::vector<ino_t> undone;
  for (std::size_t i = 1; i < names.size(); ++i) {
    std::string parent, name;
    split(names[i], parent, name);
    fs::opened dir = fs::open_beneath(root, parent);
    struct stat st {};
    if (!dir || ::fstatat(dir.fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (st.st_ino == first.st_ino && st.st_dev == first.st_dev) continue;
    const std::string tmp = "." + name + ".treecopy-link";
    if (::linkat(fdir.fd.get(), fname.c_str(), dir.fd.get(), tmp.c_str(), 0) != 0 ||
        ::renameat(dir.fd.get(), tmp.c_str(), dir.fd.get(), name.c_str()) != 0) {
      add_error(report,
                {display(dst, names[i]), treecopy::operation::link, fs::errno_code(errno),
                 treecopy::entry_side::destination},
                nullptr);
      ::unlinkat(dir.fd.get(), tmp.c_str(), 0);
      continue;
    }
    if (std::find(undone.begin(), undone.end(), st.st_ino) == undone.end()) {
      undone.push_back(st.st_ino);
      if (S_ISREG(st.st_mode)) bytes += static_cast<std::uint64_t>(st.st_size);
    }
  }
  return undone.size();
}

}  // namespace

// Every name of an inode goes to one owner rank, chosen by a hash of (dev, ino), which makes its
// names one group: the names and the relinking are spread over the ranks, not gathered on one.
void relink_groups(const std::string& dst, std::vector<link_record> local, copy_report& report,
                   message_stats& stats) {
  const double start = MPI_Wtime();
  struct timed {
    message_stats& stats;
    double start;
    ~timed() { stats.link_seconds = MPI_Wtime() - start; }
  } timing{stats, start};
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::vector<writer> to(static_cast<std::size_t>(size));
  for (const link_record& r : local) {
    const std::uint64_t h = (r.dev * 0x9E3779B97F4A7C15ull) ^ (r.ino * 0xC2B2AE3D27D4EB4Full);
    writer& w = to[static_cast<std::size_t>((h ^ (h >> 29)) % static_cast<std::uint64_t>(size))];
    w.u64(r.dev);
    w.u64(r.ino);
    w.str(r.rel);
  }
  std::vector<std::vector<char>> bufs;
  for (writer& w : to) {
    stats.link_bytes += w.bytes().size();
    bufs.push_back(std::move(w.bytes()));
  }
  const auto all = all_to_all(bufs);
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::vector<std::string>> groups;
  for (const auto& buf : all) {
    reader r(buf.data(), buf.size());
    while (r.more()) {
      const std::uint64_t dev = r.u64(), ino = r.u64();
      groups[{dev, ino}].push_back(r.str());
    }
  }
  fs::unique_fd root = open_dst_root(dst);
  if (!root) return;
  for (auto& [id, names] : groups) {
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    if (names.size() < 2) continue;
    std::uint64_t bytes = 0;
    const std::uint64_t undone = relink_group(root.get(), dst, names, report, bytes);
    // Those names were counted as files of their own (by whichever ranks copied them): they are
    // links to the first copy. This rank's counts may go below zero, wrapping: only their sum
    // over the ranks (gather_reports, modulo 2^64 as well) is ever read, and it is exact.
    report.copied[entry_kind::file] -= undone;
    report.copied[entry_kind::hardlink] += undone;
    report.bytes_copied -= bytes;
  }
}

void apply_dir_meta(const std::string& src, const std::string& dst,
                    const treecopy::copy_options& options, std::vector<deferred_dir>& dirs,
                    copy_report& report, treecopy::copy_observer* observer) {
  unsigned mine = 0;
  for (const deferred_dir& d : dirs) mine = std::max(mine, d.depth);
  unsigned deepest = 0;
  MPI_Allreduce(&mine, &deepest, 1, MPI_UNSIGNED, MPI_MAX, MPI_COMM_WORLD);
  std::sort(dirs.begin(), dirs.end(),
            [](const deferred_dir& a, const deferred_dir& b) { return a.depth > b.depth; });

  // The entry copier that applies them, as treecopy's walker would at finalization.
  phase_copier pc(src, dst, options, observer);
  engine::reporter& rep = pc.rep;
  engine::entry_copier& copier = pc.copier;
  engine::dir_node &top = pc.top, &root = pc.root;
  fs::unique_fd dst_root = dirs.empty() ? fs::unique_fd() : open_dst_root(dst);

  // Level by level, deepest first: a directory's mode may forbid reaching what is below it.
  std::size_t next = 0;
  for (unsigned level = deepest + 1; level-- > 0;) {
    for (; next < dirs.size() && dirs[next].depth == level; ++next) {
      const deferred_dir& d = dirs[next];
      engine::dir_node* parent = d.rel.empty() ? &top : &root;
      parent->always_chmod = d.parent_always_chmod;
      engine::dir_node node;
      node.parent = parent;
      node.name = d.rel;
      node.st = d.st;
      node.xattrs = d.xattrs;
      node.xattrs_read = d.xattrs_read;
      node.existed = d.existed;
      fs::opened o = dst_root ? fs::open_beneath(dst_root.get(), d.rel)
                              : fs::opened{fs::unique_fd(), fs::errno_code(ENOENT)};
      treecopy::operation op = treecopy::operation::set_mode;
      std::error_code err = o ? copier.finish_dir_meta(&node, o.fd.get(), op) : o.error;
      if (err)
        rep.report(parent, d.rel, true, op, err);
      else
        rep.entry_done(parent, d.rel, entry_kind::directory);
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }
  copy_report r = rep.finish();
  for (std::size_t k = 0; k < treecopy::entry_kind_count; ++k)
    report.copied.by_kind[k] += r.copied.by_kind[k];
  report.error_count += r.error_count;
  for (auto& e : r.errors) report.errors.push_back(std::move(e));
}

void gather_entries(treecopy::copy_observer* observer) {
  writer w;
  if (auto* list = dynamic_cast<entry_list*>(observer)) {
    for (const auto& [kind, path] : list->items) {
      w.u64(static_cast<std::uint64_t>(kind + 1));
      w.str(path);
    }
  }
  const auto all = gather_to_root(w.bytes());
  if (all.empty() || !observer || !observer->wants_entries()) return;
  for (std::size_t r = 1; r < all.size(); ++r) {
    reader in(all[r].data(), all[r].size());
    while (in.more()) {
      const int kind = static_cast<int>(in.u64()) - 1;
      const std::string path = in.str();
      if (kind < 0)
        observer->on_remove(path);
      else
        observer->on_entry(static_cast<entry_kind>(kind), path);
    }
  }
}

namespace {

int category_id(const std::error_category& c) {
  if (c == treecopy::error_category()) return 1;
  if (c == std::system_category()) return 2;
  return 0;
}

const std::error_category& category_of(std::uint64_t id) {
  if (id == 1) return treecopy::error_category();
  if (id == 2) return std::system_category();
  return std::generic_category();
}

}  // namespace

copy_report gather_reports(copy_report local, std::size_t told, treecopy::copy_observer* observer) {
  writer w;
  for (std::size_t k = 0; k < treecopy::entry_kind_count; ++k) w.u64(local.copied.by_kind[k]);
  w.u64(local.bytes_copied);
  w.u64(local.skipped);
  w.u64(local.removed);
  w.u64(local.error_count);
  w.u64(local.cancelled ? 1 : 0);
  w.u64(local.errors.size());
  for (const auto& e : local.errors) {
    w.str(e.path);
    w.u64(static_cast<std::uint64_t>(e.op));
    w.u64(static_cast<std::uint64_t>(e.code.value()));
    w.u64(static_cast<std::uint64_t>(category_id(e.code.category())));
    w.u64(static_cast<std::uint64_t>(e.side));
  }
  const auto all = gather_to_root(w.bytes());
  if (all.empty()) return local;  // not rank 0: its report was sent
  copy_report total = std::move(local);
  // Rank 0's errors of the walk were told as they happened; those of the later phases now.
  for (std::size_t i = told; observer && i < total.errors.size(); ++i)
    observer->on_error(total.errors[i]);
  for (std::size_t r = 1; r < all.size(); ++r) {
    reader in(all[r].data(), all[r].size());
    for (std::size_t k = 0; k < treecopy::entry_kind_count; ++k)
      total.copied.by_kind[k] += in.u64();
    total.bytes_copied += in.u64();
    total.skipped += in.u64();
    total.removed += in.u64();
    total.error_count += in.u64();
    total.cancelled |= in.u64() != 0;
    const std::uint64_t n = in.u64();
    for (std::uint64_t i = 0; i < n && in.more(); ++i) {
      treecopy::entry_error e;
      e.path = in.str();
      e.op = static_cast<treecopy::operation>(in.u64());
      const int value = static_cast<int>(in.u64());
      e.code = std::error_code(value, category_of(in.u64()));
      e.side = static_cast<treecopy::entry_side>(in.u64());
      // Rank 0's own errors were told as they happened; the others' are told now.
      if (observer) observer->on_error(e);
      total.errors.push_back(std::move(e));
    }
  }
  return total;
}

}  // namespace treecopy_mpi
