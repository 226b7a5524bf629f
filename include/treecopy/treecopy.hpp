// The treecopy library: copy a directory tree in parallel with the fidelity of `cp -a`.
#pragma once

#include <filesystem>
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

/// The library's version, "MAJOR.MINOR.PATCH".
const char* version() noexcept;

}  // namespace treecopy
