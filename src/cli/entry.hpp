// The whole treecopy command as one function, for the program's main() and for hosts that run the
// command in their own process (python -m treecopy).
#pragma once

#include "run.hpp"

namespace treecopy_cli {

/// Parses argv, runs the copy and prints what the command prints; returns its exit code. Like
/// the program, it closes stdout at the end (a write error found then still counts): the caller
/// writes nothing more there and exits with the code.
int cli_main(int argc, char** argv);
/// The same with another copy function (treecopy-mpi).
int cli_main(int argc, char** argv, const copy_function& copy);

}  // namespace treecopy_cli
