// The treecopy library: copy a directory tree in parallel with the fidelity of `cp -a`.
#pragma once

#include <filesystem>
#include <span>
#include <stop_token>

#include "treecopy/copy_file.hpp"
#include "treecopy/errors.hpp"
#include "treecopy/observer.hpp"
#include "treecopy/options.hpp"
#include "treecopy/report.hpp"

namespace treecopy {

/// Makes dst a copy of src (like `cp -aT src dst`). src may be a directory, a file, a symlink
/// (copied as a link) or a special file. dst's parent must exist; dst itself must not, unless
/// options.merge is set.
///
/// Throws setup_error, before anything is created, when the copy cannot start: src missing or
/// unreadable, dst inside src, src and dst the same, dst existing without merge, dst's parent
/// missing. Every later failure is per entry: it is reported to the observer, collected in the
/// report, and the rest of the tree is still copied (unless options.fail_fast). Never prints, never
/// exits.
///
/// stop: a request on it (from any thread) stops the copy cleanly: no new entry starts, files in
/// progress are finished or removed, directory metadata is still applied; report.cancelled is set.
///
/// Reentrant: several copies may run at once in one process.
copy_report copy_tree(const std::filesystem::path& src, const std::filesystem::path& dst,
                      const copy_options& options = {}, copy_observer* observer = nullptr,
                      std::stop_token stop = {});

/// One (SRC, DST) pair of copy_trees(): DST becomes a copy of SRC, as in copy_tree().
struct copy_pair {
  std::filesystem::path src;
  std::filesystem::path dst;
};

/// Copies every pair in one call: one pool of workers, one report, one progress view and one
/// observer for all of them (as `cp -a SRC... DIR`, with each pair's DST written out). Every
/// pair is checked before anything is created; setup_error is thrown, with nothing created, when
/// one cannot be copied as copy_tree() would refuse it, or when pairs conflict: two pairs with one
/// DST, a DST inside another pair's SRC (a SRC that is an ancestor of DIR), delete_extraneous on
/// an ancestor of another pair's SRC. With several pairs, a SRC that is missing or cannot be read
/// is one failed entry of the report (operation::open_source) and the other pairs are still
/// copied, as cp does; with one pair it is a setup_error, as in copy_tree(). Hard links are kept
/// within each pair. copy_tree(src, dst, ...) is copy_trees() of the one pair.
copy_report copy_trees(std::span<const copy_pair> pairs, const copy_options& options = {},
                       copy_observer* observer = nullptr, std::stop_token stop = {});

/// How many workers copy_trees() of these pairs with these options is planned to run:
/// options.jobs when set, else default_jobs(), or one per core (at most default_jobs()) when
/// every source and destination is on tmpfs or ramfs. For a caller that shows the count before
/// the copy starts (the command's JSON start event). The process's limits (threads, memory,
/// descriptors) may still lower it when the copy starts.
unsigned jobs_for(std::span<const copy_pair> pairs, const copy_options& options = {}) noexcept;

/// The library's version, "MAJOR.MINOR.PATCH".
const char* version() noexcept;

}  // namespace treecopy
