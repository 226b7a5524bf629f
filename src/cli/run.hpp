// One run of the treecopy command once its line is parsed: chooses the progress view, checks and
// opens the progress file, runs copy_tree() with a stop token wired to SIGINT/SIGTERM, and prints
// the end of the run.
#pragma once

#include <functional>
#include <stop_token>
#include <string>

#include "options.hpp"

namespace treecopy_cli {

/// What copies: treecopy::copy_tree() for treecopy, a distributed copy for treecopy-mpi. Same
/// contract as copy_tree() (throws setup_error for bad input, before anything is created).
using copy_function = std::function<treecopy::copy_report(
    const std::string& src, const std::string& dst, const treecopy::copy_options& options,
    treecopy::copy_observer* observer, std::stop_token stop)>;

/// Runs the copy a describes; prints the summary; returns the exit code.
int run(cli_args& a);
/// The same with another copy function, for one (SRC, DST) pair (several → exit 2); none:
/// copy_trees().
int run(cli_args& a, const copy_function& copy);

/// Flushes and closes stdout, as GNU tools do at exit: an error the kernel reports only now (NFS,
/// a full disk) loses output like any other (see write_error()).
void close_stdout();

}  // namespace treecopy_cli
