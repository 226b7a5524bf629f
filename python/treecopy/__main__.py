"""``python -m treecopy SRC DST [OPTIONS]``: the treecopy command, with its options, output and exit
codes (``python -m treecopy --help``).

The command runs in this process through the extension ``treecopy._cli``, which links the
command-line tool's own code: nothing to find on ``PATH``, and no difference from the program to
drift. A build of the package without that extension runs the ``treecopy`` program found on
``PATH`` in its place (exec: the same process, hence the same exit codes and signals).
"""

import os
import shutil
import signal
import sys


def _default_signals():
    # Python ignores SIGPIPE and SIGXFSZ; the treecopy program does not (`treecopy -v ... | head`
    # ends it as it ends cp), and an ignored signal would stay ignored across exec too.
    for name in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)


def main(argv=None):
    """Runs the treecopy command with argv (default: sys.argv[1:]); returns its exit code."""
    args = [os.fsencode(a) for a in (sys.argv[1:] if argv is None else argv)]
    try:
        from . import _cli
    except ImportError:
        _cli = None
    sys.stdout.flush()
    sys.stderr.flush()
    _default_signals()
    if _cli is not None:
        return _cli.main([b"treecopy"] + args)
    program = shutil.which("treecopy")
    if program is None:
        sys.stderr.write("treecopy: this build of the Python package has no command-line tool "
                         "(treecopy._cli), and no treecopy program is on PATH\n")
        return 2
    os.execv(program, [program] + args)
    return 2  # not reached


if __name__ == "__main__":
    code = main()
    # The command closed stdout, as the program does at its end: Python must not flush or close it
    # again at exit (that would fail on the closed descriptor and change the exit code).
    os._exit(code)
