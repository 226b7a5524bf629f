// Implementation of reporter.hpp.
#include "engine/reporter.hpp"

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <utility>

namespace treecopy::engine {

std::size_t spread_counter::draw_cell() noexcept {
  // Threads draw cells in the order they first count: a copy's workers get different ones.
  static std::atomic<std::size_t> next{0};
  return thread_cell_ = next.fetch_add(1, std::memory_order_relaxed) % cell_count;
}

std::string rel_path(const dir_node* node, const dir_node* root) {
  std::vector<const std::string*> parts;
  std::size_t len = 0;
  for (const dir_node* n = node; n && n != root && !n->is_top && !(n->parent && n->parent->is_top);
       n = n->parent) {
    parts.push_back(&n->name);
    len += n->name.size() + 1;
  }
  std::string out;
  out.reserve(len);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (!out.empty()) out += '/';
    out += **it;
  }
  return out;
}

reporter::reporter(const setup_result& setup, const copy_options& options, copy_observer* observer,
                   stop_flags& stop)
    : setup_(setup),
      opt_(options),
      observer_(observer),
      stop_(stop),
      want_entries_(observer && observer->wants_entries()) {}

reporter::~reporter() { stop_sampler(); }

std::string reporter::display_path(const dir_node* node, std::string_view name,
                                   bool dst_side) const {
  // The pair node belongs to, from its virtual parent (the reporter's own setup when it has none).
  const setup_result* pair = &setup_;
  for (const dir_node* n = node; n; n = n->parent)
    if (n->is_top) {
      if (n->pair) pair = n->pair;
      break;
    }
  std::string out = dst_side ? pair->dst_display : pair->src_display;
  if (node->is_top) return out;  // the entry is SRC/DST itself
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  std::string rel = rel_path(node);
  if (!rel.empty()) (out += '/') += rel;
  if (!name.empty()) (out += '/') += name;
  return out;
}

void reporter::report(dir_node* node, std::string_view name, bool dst_side, operation op,
                      std::error_code code) {
  if (code == std::errc::operation_canceled && stop_.stopping())
    return;  // an entry cut short by a stop is not a failure
  count_.errors.fetch_add(1, std::memory_order_relaxed);
  count_.entries_done.fetch_add(1, std::memory_order_relaxed);
  // An empty path allocates nothing: without memory for the path the error is still told.
  entry_error e{std::string(), op, code, dst_side ? entry_side::destination : entry_side::source};
  try {
    e.path = display_path(node, name, dst_side);
  } catch (...) {
  }
  try {
    std::lock_guard lock(report_mu_);
    if (observer_) observer_->on_error(e);
    if (errors_.size() < opt_.max_errors_kept) errors_.push_back(std::move(e));
  } catch (...) {
    // Out of memory while reporting: the error is still counted.
  }
  if (opt_.fail_fast) stop_.request_stop();
}

void reporter::report_refused(const entry_error& e) {
  count_.errors.fetch_add(1, std::memory_order_relaxed);
  try {
    std::lock_guard lock(report_mu_);
    if (observer_) observer_->on_error(e);
    if (errors_.size() < opt_.max_errors_kept) errors_.push_back(e);
  } catch (...) {
  }
  if (opt_.fail_fast) stop_.request_stop();
}

void reporter::tell_entry(dir_node* node, std::string_view name, entry_kind kind) {
  try {
    std::string path = display_path(node, node->is_top ? std::string_view{} : name, true);
    std::lock_guard lock(report_mu_);
    observer_->on_entry(kind, path);
  } catch (...) {
  }
}

void reporter::removed(const dir_node* node, std::string_view path) {
  count_.removed.fetch_add(1, std::memory_order_relaxed);
  if (!want_entries_) return;
  try {
    std::string shown = display_path(node, path, true);
    std::lock_guard lock(report_mu_);
    observer_->on_remove(shown);
  } catch (...) {
    // An observer's failure must not escape into the task scheduler.
  }
}

void reporter::start_sampler() {
  if (!observer_) return;
  try {
    observer_->on_workers_started();
  } catch (...) {
    // An observer's failure must not stop a copy that has barely begun.
  }
  try {
    sampler_ = std::jthread([this](const std::stop_token& done) { sample_progress(done); });
  } catch (const std::system_error&) {
  }
}

void reporter::stop_sampler() {
  if (!sampler_.joinable()) return;
  sampler_.request_stop();
  sampler_.join();
}

copy_report reporter::finish() {
  stop_sampler();
  copy_report rep;
  for (std::size_t k = 0; k < entry_kind_count; ++k)
    rep.copied.by_kind[k] = count_.copied[k].load(std::memory_order_relaxed);
  rep.bytes_copied = count_.bytes_done.load(std::memory_order_relaxed);
  rep.error_count = count_.errors.load(std::memory_order_relaxed);
  rep.skipped = count_.skipped.load(std::memory_order_relaxed);
  rep.removed = count_.removed.load(std::memory_order_relaxed);
  rep.errors = std::move(errors_);
  rep.cancelled = stop_.cancelled();
  rep.elapsed = std::chrono::steady_clock::now() - start_;
  if (observer_) {
    try {
      observer_->on_progress(snapshot());
    } catch (...) {
    }
  }
  return rep;
}

progress_snapshot reporter::snapshot() const {
  progress_snapshot s;
  s.entries_found = count_.entries_found.load(std::memory_order_relaxed);
  s.entries_done = count_.entries_done.load(std::memory_order_relaxed);
  s.bytes_done = count_.bytes_done.load(std::memory_order_relaxed);
  // Sizes are counted from st_size, which files that grow or lie (/proc) exceed: what was copied
  // is found too.
  s.bytes_found = std::max(count_.bytes_found.load(std::memory_order_relaxed), s.bytes_done);
  s.errors = count_.errors.load(std::memory_order_relaxed);
  s.skipped = count_.skipped.load(std::memory_order_relaxed);
  s.scan_complete = count_.dirs_unlisted.load(std::memory_order_relaxed) == 0;
  s.elapsed = std::chrono::steady_clock::now() - start_;
  return s;
}

void reporter::sample_progress(const std::stop_token& done) {
  std::unique_lock lock(sampler_mu_);
  while (!done.stop_requested()) {
    sampler_cv_.wait_for(lock, done, opt_.progress_interval, [] { return false; });
    if (done.stop_requested()) break;
    try {
      if (!observer_->on_progress(snapshot())) stop_.cancel();
    } catch (...) {
      stop_.cancel();  // an observer that fails cannot watch the rest: stop rather than run blind
    }
  }
}

}  // namespace treecopy::engine
