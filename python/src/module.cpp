// treecopy._treecopy: the native half of the Python package. Binds copy_tree() (run on its own
// thread while the calling thread waits with the GIL released, delivering progress and Ctrl-C), the
// report and progress types, and the file pool that treecopy.copytree() uses for shutil semantics.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "copytree_listing.hpp"
#include "copytree_prewalk.hpp"
#include "file_pool.hpp"
#include "treecopy/treecopy.hpp"
#include "wait.hpp"

namespace py = pybind11;
using namespace std::chrono_literals;

namespace treecopy_py {
namespace {

// How often a waiting Python thread wakes to run signal handlers.
constexpr std::chrono::milliseconds signal_tick = 50ms;

// File-system bytes to a str the way os.fsdecode() does (undecodable bytes as surrogates).
py::str fs_decode(const std::string& s) {
  PyObject* o = PyUnicode_DecodeFSDefaultAndSize(s.data(), static_cast<Py_ssize_t>(s.size()));
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

double seconds(std::chrono::nanoseconds ns) { return std::chrono::duration<double>(ns).count(); }

// An OSError subclass chosen by errno (FileNotFoundError, FileExistsError, ...), as Python's own.
py::object make_os_error(int err, const std::string& message, const std::string& filename) {
  return py::reinterpret_borrow<py::object>(PyExc_OSError)(err, message, fs_decode(filename));
}

// The errno of an entry error, 0 when the reason is treecopy's own (treecopy::errc).
int errno_of(const treecopy::entry_error& e) {
  return e.code.category() == std::generic_category() ? e.code.value() : 0;
}

// The library's spellings; the messages are the module's.
treecopy::reflink_mode parse_reflink(const std::string& s) {
  if (std::optional<treecopy::reflink_mode> mode = treecopy::parse_reflink_mode(s)) return *mode;
  throw py::value_error("reflink must be 'auto', 'always' or 'never', not '" + s + "'");
}

treecopy::symlink_mode parse_dereference(const py::handle& h) {
  if (py::isinstance<py::bool_>(h))
    return h.cast<bool>() ? treecopy::symlink_mode::always : treecopy::symlink_mode::never;
  const std::string s = py::str(h);
  if (std::optional<treecopy::symlink_mode> mode = treecopy::parse_symlink_mode(s)) return *mode;
  throw py::value_error("dereference must be 'never', 'command_line', 'always' or a bool, not '" +
                        s + "'");
}

// copy_options from treecopy.copy_tree()'s keyword arguments; unknown names are a TypeError.
treecopy::copy_options options_from(const py::dict& kwargs) {
  treecopy::copy_options o;
  for (const auto& [key, value] : kwargs) {
    const std::string name = py::str(key);
    if (name == "progress" || name == "pairs") continue;
    if (name == "jobs")
      o.jobs = value.cast<unsigned>();
    else if (name == "merge")
      o.merge = value.cast<bool>();
    else if (name == "reflink")
      o.reflink = parse_reflink(value.cast<std::string>());
    else if (name == "fail_fast")
      o.fail_fast = value.cast<bool>();
    else if (name == "preserve_ownership")
      o.preserve_ownership = value.cast<bool>();
    else if (name == "preserve_xattrs")
      o.preserve_xattrs = value.cast<bool>();
    else if (name == "preserve_mode")
      o.preserve_mode = value.cast<bool>();
    else if (name == "preserve_timestamps")
      o.preserve_timestamps = value.cast<bool>();
    else if (name == "preserve_links")
      o.preserve_links = value.cast<bool>();
    else if (name == "progress_interval") {
      o.progress_interval =
          std::chrono::milliseconds(static_cast<long>(value.cast<double>() * 1000));
      if (o.progress_interval < 1ms) o.progress_interval = 1ms;
    } else if (name == "max_errors_kept")
      o.max_errors_kept = value.cast<std::size_t>();
    else if (name == "dry_run")
      o.dry_run = value.cast<bool>();
    else if (name == "update")
      o.update = value.cast<bool>();
    else if (name == "checksum")
      o.checksum = value.cast<bool>();
    else if (name == "modify_window")
      o.modify_window =
          std::chrono::nanoseconds(static_cast<long long>(value.cast<double>() * 1e9));
    else if (name == "delete_extraneous")
      o.delete_extraneous = value.cast<bool>();
    else if (name == "gitignore")
      o.gitignore = value.cast<bool>();
    else if (name == "files_from")
      o.files_from = value.cast<std::vector<std::string>>();
    else if (name == "link")
      o.link = value.cast<bool>();
    else if (name == "link_dest")
      o.link_dest = value.cast<std::vector<std::string>>();
    else if (name == "one_file_system")
      o.one_file_system = value.cast<bool>();
    else if (name == "dereference")
      o.dereference = parse_dereference(value);
    else if (name == "filters") {
      // [("include" | "exclude", pattern), ...], tried in order.
      for (const auto& rule : value) {
        auto pair = rule.cast<std::pair<std::string, std::string>>();
        if (pair.first != "include" && pair.first != "exclude")
          throw py::value_error("a filter is ('include' | 'exclude', pattern), not '" + pair.first +
                                "'");
        o.filters.push_back(treecopy::filter_rule{pair.first == "include", pair.second});
      }
    } else {
      throw py::type_error("copy_tree() got an unexpected keyword argument '" + name + "'");
    }
  }
  return o;
}

// Progress snapshots from the engine's sampler thread, handed to the waiting Python thread.
class bridge_observer final : public treecopy::copy_observer {
 public:
  bridge_observer(std::mutex& mutex, std::condition_variable& cv) : mutex_(mutex), cv_(cv) {}

  bool on_progress(const treecopy::progress_snapshot& snapshot) override {
    {
      std::lock_guard lock(mutex_);
      latest_ = snapshot;
    }
    cv_.notify_one();
    return true;  // stopping goes through the stop_token
  }

  // The newest snapshot not yet delivered, if any. Call with the mutex held.
  std::optional<treecopy::progress_snapshot> take() { return std::exchange(latest_, std::nullopt); }

 private:
  std::mutex& mutex_;
  std::condition_variable& cv_;
  std::optional<treecopy::progress_snapshot> latest_;
};

// copy_tree() for Python: see treecopy.copy_tree() for the documentation.
treecopy::copy_report py_copy_tree(const py::bytes& src, const py::bytes& dst,
                                   const treecopy::copy_options& options,
                                   const py::object& progress,
                                   const std::vector<treecopy::copy_pair>& pairs = {}) {
  const std::string src_s = src;
  const std::string dst_s = dst;
  std::mutex mutex;
  std::condition_variable cv;
  bridge_observer observer(mutex, cv);
  const bool observe = !progress.is_none();
  std::stop_source stop;
  treecopy::copy_report report;
  std::exception_ptr failure;
  bool done = false;

  std::thread worker([&] {
    try {
      report = pairs.empty() ? treecopy::copy_tree(src_s, dst_s, options,
                                                   observe ? &observer : nullptr, stop.get_token())
                             : treecopy::copy_trees(pairs, options, observe ? &observer : nullptr,
                                                    stop.get_token());
    } catch (...) {
      failure = std::current_exception();
    }
    {
      std::lock_guard lock(mutex);
      done = true;
    }
    cv.notify_one();
  });

  pending_exception pending;
  try {
    wait_interruptibly(
        mutex, cv, signal_tick, [&] { return done; },
        [&](bool) {
          std::optional<treecopy::progress_snapshot> snapshot;
          {
            std::lock_guard lock(mutex);
            snapshot = observer.take();
          }
          // A callback that returns False asks to stop, as copy_observer::on_progress does.
          if (snapshot && observe) {
            py::object keep_going = progress(*snapshot);
            if (!keep_going.is_none() && !keep_going.cast<bool>()) stop.request_stop();
          }
        },
        [&] { stop.request_stop(); }, pending);
  } catch (...) {
    // Only a C++ failure of the wait itself gets here: never leave the worker running.
    stop.request_stop();
    py::gil_scoped_release release;
    worker.join();
    throw;
  }
  {
    py::gil_scoped_release release;
    worker.join();
  }
  pending.rethrow();
  if (failure) std::rethrow_exception(failure);
  return report;
}

// FilePool.wait(): blocks until every queued file is copied, calling tick() about every interval
// seconds on the calling thread; Ctrl-C or an exception from tick() cancels the pool and is raised.
void pool_wait(file_pool& pool, const py::object& tick, double interval) {
  auto tick_every = std::chrono::milliseconds(static_cast<long>(interval * 1000));
  if (tick_every < 1ms) tick_every = 1ms;
  auto wake_every = std::min<std::chrono::milliseconds>(tick_every, signal_tick);
  auto next_tick = std::chrono::steady_clock::now() + tick_every;
  pending_exception pending;
  wait_interruptibly(
      pool.mutex(), pool.changed(), wake_every, [&] { return pool.idle_locked(); },
      [&](bool finished) {
        if (tick.is_none()) return;
        auto now = std::chrono::steady_clock::now();
        if (finished || now >= next_tick) {
          next_tick = now + tick_every;
          tick();
        }
      },
      [&] { pool.cancel(); }, pending);
  pending.rethrow();
}

// FilePool.submit(): queues one file, waiting (GIL released, Ctrl-C honoured) while the queue is
// full.
bool pool_submit(file_pool& pool, std::uint64_t seq, const py::bytes& src, const py::bytes& dst,
                 bool merge) {
  file_job job{seq, std::string(src), std::string(dst), merge};
  while (!pool.try_submit(std::move(job))) {
    if (pool.cancelled()) return false;
    pending_exception pending;
    wait_interruptibly(
        pool.mutex(), pool.changed(), signal_tick,
        [&] { return pool.has_room_or_cancelled_locked(); }, [](bool) {}, [&] { pool.cancel(); },
        pending);
    pending.rethrow();
    job = file_job{seq, std::string(src), std::string(dst), merge};
  }
  return true;
}

void bind_progress(py::module_& m) {
  py::class_<treecopy::progress_snapshot>(m, "Progress", "A snapshot of a running copy.")
      .def(py::init([](std::uint64_t entries_found, std::uint64_t entries_done,
                       std::uint64_t bytes_found, std::uint64_t bytes_done, std::uint64_t errors,
                       bool scan_complete, double elapsed) {
             treecopy::progress_snapshot s;
             s.entries_found = entries_found;
             s.entries_done = entries_done;
             s.bytes_found = bytes_found;
             s.bytes_done = bytes_done;
             s.errors = errors;
             s.scan_complete = scan_complete;
             s.elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::duration<double>(elapsed));
             return s;
           }),
           py::arg("entries_found") = 0, py::arg("entries_done") = 0, py::arg("bytes_found") = 0,
           py::arg("bytes_done") = 0, py::arg("errors") = 0, py::arg("scan_complete") = false,
           py::arg("elapsed") = 0.0)
      .def_readonly("entries_found", &treecopy::progress_snapshot::entries_found,
                    "Entries seen in source directories so far.")
      .def_readonly("entries_done", &treecopy::progress_snapshot::entries_done,
                    "Entries finished (copied or failed).")
      .def_readonly("bytes_found", &treecopy::progress_snapshot::bytes_found,
                    "Sizes of the regular files seen so far.")
      .def_readonly("bytes_done", &treecopy::progress_snapshot::bytes_done,
                    "File data written so far.")
      .def_readonly("errors", &treecopy::progress_snapshot::errors, "Entries that failed so far.")
      .def_readonly("skipped", &treecopy::progress_snapshot::skipped,
                    "Entries skipped so far (up to date, filtered).")
      .def_readonly("scan_complete", &treecopy::progress_snapshot::scan_complete,
                    "Every source directory has been listed.")
      .def_property_readonly(
          "elapsed", [](const treecopy::progress_snapshot& s) { return seconds(s.elapsed); },
          "Seconds since the copy started.")
      .def("__repr__", [](const treecopy::progress_snapshot& s) {
        return "Progress(entries_done=" + std::to_string(s.entries_done) + "/" +
               std::to_string(s.entries_found) + ", bytes_done=" + std::to_string(s.bytes_done) +
               "/" + std::to_string(s.bytes_found) + ", errors=" + std::to_string(s.errors) +
               (s.scan_complete ? ", scan_complete" : "") + ")";
      });
}

void bind_entry_error(py::module_& m) {
  py::class_<treecopy::entry_error>(m, "EntryError", "One entry that could not be copied.")
      .def_property_readonly(
          "path", [](const treecopy::entry_error& e) { return fs_decode(e.path); },
          "The path that failed (source for reads, destination for writes), as os.fsdecode() "
          "gives.")
      .def_property_readonly(
          "path_bytes", [](const treecopy::entry_error& e) { return py::bytes(e.path); },
          "The same path as bytes.")
      .def_property_readonly(
          "operation", [](const treecopy::entry_error& e) { return treecopy::to_string(e.op); },
          "What failed, as a verb for messages: 'open', 'create', 'set times of', ...")
      .def_property_readonly(
          "operation_id", [](const treecopy::entry_error& e) { return treecopy::to_id(e.op); },
          "What failed, as a stable name: 'open_source', 'create', 'set_times', ...")
      .def_property_readonly(
          "side", [](const treecopy::entry_error& e) { return treecopy::to_id(e.side); },
          "Which tree path is in: 'source' (reading failed) or 'destination' (writing failed).")
      .def_property_readonly(
          "errno", [](const treecopy::entry_error& e) { return errno_of(e); },
          "The errno value; 0 for treecopy's own reasons (source_changed).")
      .def_property_readonly(
          "strerror", [](const treecopy::entry_error& e) { return e.code.message(); },
          "The system's message for errno.")
      .def_property_readonly(
          "directory_cycle",
          [](const treecopy::entry_error& e) { return e.code == treecopy::errc::directory_cycle; },
          "A directory not copied because it is (same device and inode) one being copied above it.")
      .def("message", &treecopy::entry_error::message, "\"create '/dst/a': Permission denied\".")
      .def(
          "to_os_error",
          [](const treecopy::entry_error& e) {
            return make_os_error(errno_of(e), e.code.message(), e.path);
          },
          "The failure as the OSError subclass Python would raise for it.")
      .def("__repr__",
           [](const treecopy::entry_error& e) { return "EntryError(" + e.message() + ")"; });
}

// Report.to_dict(): the report as plain data (for json.dumps).
py::dict report_dict(const py::object& self) {
  py::dict d;
  for (const char* name : {"copied", "entries", "bytes_copied", "skipped", "removed", "error_count",
                           "elapsed", "cancelled", "ok"})
    d[name] = self.attr(name);
  py::list errors;
  for (const auto& e : self.cast<const treecopy::copy_report&>().errors) {
    py::dict item;
    item["path"] = fs_decode(e.path);
    item["operation"] = treecopy::to_string(e.op);
    item["operation_id"] = treecopy::to_id(e.op);
    item["side"] = treecopy::to_id(e.side);
    item["errno"] = errno_of(e);
    item["message"] = e.message();
    errors.append(item);
  }
  d["errors"] = errors;
  return d;
}

void bind_report(py::module_& m) {
  py::class_<treecopy::copy_report>(m, "Report", "What copy_tree() did.")
      .def_property_readonly(
          "copied",
          [](const treecopy::copy_report& r) {
            py::dict d;
            for (std::size_t k = 0; k < treecopy::entry_kind_count; ++k) {
              auto kind = static_cast<treecopy::entry_kind>(k);
              d[treecopy::to_string(kind)] = r.copied[kind];
            }
            return d;
          },
          "Entries created, per kind: {'file': n, 'directory': n, 'symlink': n, ...}.")
      .def_property_readonly(
          "entries", [](const treecopy::copy_report& r) { return r.copied.total(); },
          "Entries created, all kinds.")
      .def_readonly("bytes_copied", &treecopy::copy_report::bytes_copied,
                    "File data written or cloned.")
      .def_readonly("skipped", &treecopy::copy_report::skipped,
                    "Entries left as they were (update: already equal; filters).")
      .def_readonly("removed", &treecopy::copy_report::removed,
                    "Destination entries removed (delete_extraneous).")
      .def_readonly("error_count", &treecopy::copy_report::error_count,
                    "Entries that failed (may exceed len(errors)).")
      .def_readonly("errors", &treecopy::copy_report::errors, "The first max_errors_kept failures.")
      .def_property_readonly(
          "elapsed", [](const treecopy::copy_report& r) { return seconds(r.elapsed); },
          "Seconds taken.")
      .def_readonly("cancelled", &treecopy::copy_report::cancelled, "The copy was stopped early.")
      .def_property_readonly("ok", &treecopy::copy_report::ok, "Every entry copied, not stopped.")
      .def("__bool__", &treecopy::copy_report::ok)
      .def("to_dict", &report_dict, "The report as plain data (for json.dumps).")
      .def("__repr__", [](const treecopy::copy_report& r) {
        return "Report(entries=" + std::to_string(r.copied.total()) +
               ", bytes_copied=" + std::to_string(r.bytes_copied) +
               ", error_count=" + std::to_string(r.error_count) +
               (r.cancelled ? ", cancelled" : "") + ")";
      });
}

void bind_pool(py::module_& m) {
  py::class_<file_pool>(m, "FilePool", "Worker threads copying single files (used by copytree()).")
      .def(py::init([](unsigned workers, const std::string& reflink, bool preserve_xattrs) {
             treecopy::copy_options o;
             o.reflink = parse_reflink(reflink);
             o.preserve_xattrs = preserve_xattrs;
             o.preserve_ownership = false;  // shutil.copy2 never copies ownership
             return std::make_unique<file_pool>(workers, o);
           }),
           py::arg("workers"), py::arg("reflink") = "auto", py::arg("preserve_xattrs") = true)
      .def("submit", &pool_submit, py::arg("seq"), py::arg("src"), py::arg("dst"), py::arg("merge"))
      .def("wait", &pool_wait, py::arg("tick") = py::none(), py::arg("interval") = 0.1)
      .def("cancel", &file_pool::cancel)
      .def("counters",
           [](const file_pool& p) {
             pool_counters c = p.counters();
             return py::make_tuple(c.files_done, c.bytes_done, c.failures);
           })
      .def("take_failures", [](file_pool& p) {
        py::list out;
        for (const file_failure& f : p.take_failures())
          out.append(py::make_tuple(
              f.seq, f.code.category() == std::generic_category() ? f.code.value() : 0,
              f.on_destination, f.setup, treecopy::to_string(f.op), fs_decode(f.path),
              f.code.message()));
        return out;
      });
}

// The engine path of treecopy.copytree() and treecopy.copy2()/copyfile()
// (python/treecopy/_shutil.py).
void bind_shutil(py::module_& m) {
  py::class_<copytree_listing>(
      m, "CopytreeListing", "copytree()'s per-directory hook: ignore() results, special entries.")
      .def(
          py::init<const py::dict&, py::object, bool, bool, std::string, const py::object&, bool>(),
          py::arg("ignored"), py::arg("live"), py::arg("follow_links"), py::arg("skip_dangling"),
          py::arg("cycles_below") = std::string(), py::arg("patterns") = py::none(),
          py::arg("as_bytes") = false)
      .def("take_deferred", &copytree_listing::take_deferred)
      .def("rethrow", &copytree_listing::rethrow);
  m.def("copytree_prewalk", &copytree_prewalk, py::arg("src"), py::arg("top_ignored"),
        py::arg("ignore"), py::arg("symlinks"), py::arg("ignore_dangling_symlinks"),
        py::arg("max_depth"),
        "The walk before copytree()'s engine call that calls ignore(): see _shutil._PreWalk.");
  m.def(
      "copytree_walk",
      [](const py::bytes& src, const py::bytes& dst, const py::dict& kwargs,
         copytree_listing& listing) {
        py::object progress = py::none();
        if (kwargs.contains("progress")) progress = kwargs["progress"];
        treecopy::copy_options options = options_from(kwargs);
        // Called from the engine's workers; the Python object outlives the copy.
        copytree_listing* hook = &listing;
        options.on_listing =
            [hook](std::string_view rel, int fd, std::span<const treecopy::listed_entry> entries,
                   std::vector<bool>& leave_out) { (*hook)(rel, fd, entries, leave_out); };
        return py_copy_tree(src, dst, options, progress);
      },
      py::arg("src"), py::arg("dst"), py::arg("options"), py::arg("listing"),
      "copy_tree() with copytree()'s per-directory hook. Use treecopy.copytree() instead.");
  m.def(
      "copy_file",
      [](const py::bytes& src, const py::bytes& dst, bool metadata,
         const std::string& reflink) -> py::object {
        treecopy::file_copy_options o;
        o.metadata = metadata;
        o.reflink = parse_reflink(reflink);
        const std::string s = src, d = dst;
        std::optional<treecopy::entry_error> err;
        {
          py::gil_scoped_release release;
          err = treecopy::copy_file(s, d, o);
        }
        if (!err) return py::none();
        return py::make_tuple(errno_of(*err), err->side == treecopy::entry_side::destination,
                              err->code.message());
      },
      py::arg("src"), py::arg("dst"), py::arg("metadata"), py::arg("reflink") = "auto",
      "copy_file(src: bytes, dst: bytes, metadata) -> None or (errno, on_destination, message).");
}

}  // namespace
}  // namespace treecopy_py

PYBIND11_MODULE(_treecopy, m) {
  using namespace treecopy_py;
  m.doc() = "Native part of treecopy: the parallel copy engine and its types.";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const treecopy::setup_error& e) {
      // OSError's str() names the file itself: drop the engine's own "'path': " prefix.
      std::string message = e.what();
      const std::string prefix = treecopy::quote(e.path()) + ": ";
      if (message.starts_with(prefix)) message.erase(0, prefix.size());
      py::object err = make_os_error(e.code().value(), message, e.path());
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(err.ptr())), err.ptr());
    }
  });

  bind_progress(m);
  bind_entry_error(m);
  bind_report(m);
  bind_pool(m);
  bind_shutil(m);

  m.def("version", &treecopy::version, "The library's version, 'MAJOR.MINOR.PATCH'.");
  m.def("default_jobs", &treecopy::default_jobs, "Workers used when jobs is 0 or None.");
  m.def(
      "copy_tree",
      [](const py::bytes& src, const py::bytes& dst, const py::dict& kwargs) {
        py::object progress = py::none();
        if (kwargs.contains("progress")) progress = kwargs["progress"];
        std::vector<treecopy::copy_pair> pairs;  // copy_tree([(src, dst), ...])
        if (kwargs.contains("pairs"))
          for (const auto& p :
               kwargs["pairs"].cast<std::vector<std::pair<std::string, std::string>>>())
            pairs.push_back({p.first, p.second});
        return py_copy_tree(src, dst, options_from(kwargs), progress, pairs);
      },
      py::arg("src"), py::arg("dst"), py::arg("options"),
      "copy_tree(src: bytes, dst: bytes, ...) -> Report. Use treecopy.copy_tree() instead.");
}
