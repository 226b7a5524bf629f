// The engine's entry copier on its own, for a phase after the walk (chunks of large files,
// directory metadata): the services it needs, built as treecopy's copier builds them, and no
// walker to drive it.
#pragma once

#include <string>

#include "distributed.hpp"
#include "engine/entry_copier.hpp"
#include "engine/reporter.hpp"
#include "engine/setup.hpp"
#include "fs/sys.hpp"
#include "plan/decide.hpp"
#include "plan/filter.hpp"

namespace treecopy_mpi {

/// An entry_driver for entries copied one at a time: nothing is descended into, queued or
/// handed over (a phase copies exactly what it was given).
class no_driver final : public treecopy::engine::entry_driver {
 public:
  void descend(treecopy::engine::dir_node*, const char*) override {}
  void large_file_ahead(treecopy::engine::dir_node*) override {}
  bool take_large_file(treecopy::engine::dir_node*, const char*, treecopy::fs::unique_fd&,
                       treecopy::fs::unique_fd&, const struct stat&, bool) override {
    return false;
  }
  void waiter_done(treecopy::engine::dir_node*) override {}
};

/// An entry copier of src to dst and what it reports to. root stands for DST's root (its
/// descriptors are the caller's to set); entries are reported to observer's entry list only.
/// stopping: the job was stopped (every rank knows it: stop messages arrive before the walk
/// ends), the copier's flags say so from the start.
struct phase_copier {
  phase_copier(const std::string& src, const std::string& dst,
               const treecopy::copy_options& options, treecopy::copy_observer* observer,
               bool stopping = false)
      : policy(treecopy::plan::normalize(
            options, {treecopy::fs::effective_uid(), treecopy::fs::effective_gid(), read_umask()})),
        entries(observer),
        rep(named(setup, src, dst), options, &entries, cancelled(flags, stopping)),
        copier({options, policy, guards, filter, links, rep, flags, driver}) {
    top.is_top = true;
    root.parent = &top;
    rep.set_root(&root);
  }
  phase_copier(const phase_copier&) = delete;
  phase_copier& operator=(const phase_copier&) = delete;

  treecopy::engine::setup_result setup;
  treecopy::plan::policy policy;
  treecopy::plan::guards guards;
  treecopy::plan::filter filter;
  treecopy::engine::link_table links;
  treecopy::engine::stop_flags flags;
  entries_only entries;
  treecopy::engine::reporter rep;
  no_driver driver;
  treecopy::engine::entry_copier copier;
  treecopy::engine::dir_node top, root;

 private:
  static int read_umask() {
    mode_t mask = 0;
    return treecopy::fs::read_umask(mask) ? static_cast<int>(mask) : -1;
  }
  static const treecopy::engine::setup_result& named(treecopy::engine::setup_result& s,
                                                     const std::string& src,
                                                     const std::string& dst) {
    s.src_display = src;
    s.dst_display = dst;
    return s;
  }
  static treecopy::engine::stop_flags& cancelled(treecopy::engine::stop_flags& f, bool stopping) {
    if (stopping) f.cancel();
    return f;
  }
};

}  // namespace treecopy_mpi
