// copy_observer: how a running copy tells its caller about progress, entries and errors.
#pragma once

#include <string_view>

#include "treecopy/errors.hpp"
#include "treecopy/report.hpp"

namespace treecopy {

/// Receives events from copy_tree(). Every method has an empty default, so a client overrides only
/// what it needs; a null observer pointer means "no observer".
///
/// Threads: on_progress() is called from one sampler thread only, every
/// copy_options::progress_interval, and once more with the final state before copy_tree() returns.
/// on_entry(), on_remove() and on_error() are called from worker threads, but never two of them at
/// the same time (treecopy serializes them), so an implementation needs no lock of its own for
/// those two; it may run concurrently with on_progress(). No callback may call copy_tree() on the
/// same observer. A callback should be quick: workers wait. Callbacks should not throw: an
/// exception from on_progress() stops the copy as a cancel request would, and one from on_entry(),
/// on_remove() or on_error() is swallowed.
class copy_observer {
 public:
  virtual ~copy_observer() = default;

  /// Periodic snapshot. Return false to ask the copy to stop (as a cancel request would).
  virtual bool on_progress(const progress_snapshot& /*snapshot*/) { return true; }

  /// The copy has outgrown the calling thread: its workers and the progress sampler start now.
  /// Called at most once, from the thread that called copy_tree(), before the first periodic
  /// on_progress(); a small copy, done on the calling thread alone, never calls it. For what is
  /// worth setting up only when a copy takes a while (a thread of the caller's own, say).
  virtual void on_workers_started() {}

  /// One entry failed. The copy goes on unless copy_options::fail_fast is set. error.path is
  /// empty when there was no memory to build it.
  virtual void on_error(const entry_error& /*error*/) {}

  /// Whether on_entry() is wanted. Asked once at the start; when false (the default) the engine
  /// does not build per-entry paths at all.
  virtual bool wants_entries() const { return false; }

  /// One entry was created in the destination (with dry_run: would be); dst_path is its full
  /// destination path. Only called when wants_entries() is true.
  virtual void on_entry(entry_kind /*kind*/, std::string_view /*dst_path*/) {}

  /// One destination entry was removed by delete_extraneous (with dry_run: would be). Only called
  /// when wants_entries() is true; serialized with on_entry() and on_error().
  virtual void on_remove(std::string_view /*dst_path*/) {}
};

}  // namespace treecopy
