// One run of the treecopy command once its line is parsed: chooses the progress view, checks and
// opens the progress file, runs copy_tree() with a stop token wired to SIGINT/SIGTERM, and prints
// the end of the run.
#pragma once

#include "options.hpp"

namespace treecopy_cli {

/// Runs the copy a describes; prints the summary; returns the exit code.
int run(cli_args& a);

/// Flushes and closes stdout, as GNU tools do at exit: an error the kernel reports only now (NFS,
/// a full disk) loses output like any other (see write_error()).
void close_stdout();

}  // namespace treecopy_cli
