"""treecopy.copytree(): shutil.copytree() semantics with file data copied in parallel.

With copy_function=shutil.copy2 (the default) into a destination that does not exist yet, the whole
tree is one engine call: see _shutil.py. Otherwise (another copy_function, or dirs_exist_ok=True
merging into an existing tree, or where shutil's walk shows through: an exception from ignore()
midway, a cycle through followed symlinks) the walk below runs: it follows CPython's shutil._copytree() step by
step (same order of ignore() calls, same error tuples, same use of DirEntry objects), so that
behaviour is identical. Each regular file (or symlink followed to one) is then queued to a native
pool of worker threads that copy it with the treecopy engine, with the GIL released (copy2 only),
and directory metadata (shutil.copystat) is applied once every file is written, deepest directory
first. Everything else (symlinks copied as links, special files, custom copy functions) runs here
exactly as shutil runs it.
"""

import os
import shutil
import stat
import sys
import time

from . import _shutil, _treecopy

# How often, at most, the progress callable is called.
_PROGRESS_INTERVAL = 0.1


class _Copier:
    """One copytree() call: the walk, the pool it feeds, and the errors in shutil's order."""

    def __init__(self, symlinks, ignore, copy_function, ignore_dangling_symlinks, dirs_exist_ok, jobs,
                 progress, audit, serial=False):
        self.audit = audit
        self.symlinks = symlinks
        self.ignore = ignore
        self.copy_function = copy_function
        self.ignore_dangling_symlinks = ignore_dangling_symlinks
        self.dirs_exist_ok = dirs_exist_ok
        self.progress = progress
        # shutil passes DirEntry objects to its own copy functions, path strings to others.
        self.use_srcentry = copy_function is shutil.copy2 or copy_function is shutil.copy
        # Only copy2's semantics are the engine's (data, mode, times, xattrs; no owner). serial: each
        # file copied by copy_function itself, on this thread (an audit hook sees its events).
        self.pool = _treecopy.FilePool(jobs) if copy_function is shutil.copy2 and not serial else None
        self.count_bytes = serial and progress is not None
        # Errors carry a sequence number taken in walk order: sorting by it gives shutil's order even
        # though pool failures and directory metadata come back later.
        self.seq = 0
        self.errors = []        # (seq, (src, dst, reason))
        self.queued = {}        # seq -> (srcname, dstname) of files in the pool
        self.dir_stats = []     # (seq, src, dst), children before parents
        self.found = 0
        self.done_here = 0
        self.bytes_found = 0
        self.bytes_here = 0
        self.started = time.monotonic()
        self.next_progress = self.started + _PROGRESS_INTERVAL

    # -- the walk, as shutil._copytree() ------------------------------------------------------------

    def copytree(self, src, dst):
        """shutil.copytree() on one directory; counted as found by the caller."""
        self.audit(src, dst)
        with os.scandir(src) as itr:
            entries = list(itr)
        self.copy_entries(entries, src, dst)

    def copy_entries(self, entries, src, dst):
        if self.ignore is not None:
            ignored_names = self.ignore(os.fspath(src), [x.name for x in entries])
        else:
            ignored_names = set()

        os.makedirs(dst, exist_ok=self.dirs_exist_ok)
        self.done_here += 1
        for srcentry in entries:
            if srcentry.name in ignored_names:
                continue
            srcname = os.path.join(src, srcentry.name)
            dstname = os.path.join(dst, srcentry.name)
            srcobj = srcentry if self.use_srcentry else srcname
            self.found += 1
            self.maybe_progress()
            try:
                is_symlink = srcentry.is_symlink()
                if is_symlink:
                    linkto = os.readlink(srcname)
                    if self.symlinks:
                        os.symlink(linkto, dstname)
                        shutil.copystat(srcobj, dstname, follow_symlinks=not self.symlinks)
                        self.done_here += 1
                    else:
                        # As shutil: linkto is tested relative to the current directory.
                        if not os.path.exists(linkto) and self.ignore_dangling_symlinks:
                            self.found -= 1
                            continue
                        if srcentry.is_dir():
                            self.copytree(srcobj, dstname)
                        else:
                            self.copy_file(srcentry, srcobj, srcname, dstname, followed=True)
                elif srcentry.is_dir():
                    self.copytree(srcobj, dstname)
                else:
                    self.copy_file(srcentry, srcobj, srcname, dstname, followed=False)
            except shutil.Error as err:
                self.done_here += 1
                for error in err.args[0]:
                    self.add_error(error)
            except OSError as why:
                self.done_here += 1
                self.add_error((srcname, dstname, str(why)))
        if self.pool is None:
            # Files were written synchronously: set the directory's metadata now, as shutil does.
            self.copystat_dir(self.take_seq(), src, dst)
        else:
            # Files may still be in flight: set it after the pool is drained, children first.
            self.dir_stats.append((self.take_seq(), src, dst))

    def copy_file(self, srcentry, srcobj, srcname, dstname, followed):
        if self.pool is None:
            size = self.regular_size(srcentry) if self.count_bytes else 0
            self.bytes_found += size
            self.copy_function(srcobj, dstname)
            self.done_here += 1
            self.bytes_here += size
            return
        if followed:
            # copy2 follows the link: copy its target when that is a regular file.
            try:
                st = os.stat(srcname)
            except OSError:
                st = None
            regular = st is not None and stat.S_ISREG(st.st_mode)
            source = os.path.realpath(srcname) if regular else None
        else:
            regular = srcentry.is_file(follow_symlinks=False)
            st = srcentry.stat(follow_symlinks=False) if regular and self.progress else None
            source = srcname
        if not regular:
            # Special files and dangling links: copy2 itself raises shutil's exact error (or copies
            # a device's data, as shutil does).
            shutil.copy2(srcobj, dstname)
            self.done_here += 1
            return
        if st is not None:
            self.bytes_found += st.st_size
        seq = self.take_seq()
        self.queued[seq] = (srcname, dstname)
        # The destination can only exist when it was there before (dirs_exist_ok): copy2 then
        # overwrites it, and the engine replaces it.
        self.pool.submit(seq, os.fsencode(source), os.fsencode(dstname), self.dirs_exist_ok)

    @staticmethod
    def regular_size(srcentry):
        """The size copy2 copies from a regular file (a link followed to one), else 0. DirEntry.stat
        raises no audit event, and copy2 uses the result it caches."""
        try:
            st = srcentry.stat()
        except OSError:
            return 0
        return st.st_size if stat.S_ISREG(st.st_mode) else 0

    # -- after the walk --------------------------------------------------------------------------

    def finish(self):
        """Waits for the pool, applies directory metadata, raises shutil.Error if anything failed."""
        if self.pool is not None:
            self.pool.wait(self.emit_progress if self.progress else None, _PROGRESS_INTERVAL)
            self.collect_pool_failures()
            for seq, src, dst in self.dir_stats:
                self.copystat_dir(seq, src, dst)
        if self.progress is not None:
            self.emit_progress(final=True)
        if self.errors:
            self.errors.sort(key=lambda e: e[0])
            raise shutil.Error([error for _, error in self.errors])

    def cancel(self):
        """Stops the pool after an exception (KeyboardInterrupt, a failing progress callable)."""
        if self.pool is not None:
            self.pool.cancel()
            self.pool.wait()

    def finish_before_raising(self):
        """After an exception of the walk itself (ignore(), an audit hook), as shutil leaves the
        tree when it propagates: the files queued so far copied, the directories already completed
        with their metadata, their ancestors without; the failures are dropped with shutil.Error."""
        if self.pool is not None:
            self.pool.wait()
            for seq, src, dst in self.dir_stats:
                try:
                    shutil.copystat(src, dst)
                except OSError:
                    pass

    def collect_pool_failures(self):
        for seq, err, on_destination, _setup, _operation, _path, message in self.pool.take_failures():
            srcname, dstname = self.queued.pop(seq)
            why = OSError(err, message, dstname if on_destination else srcname)
            self.errors.append((seq, (srcname, dstname, str(why))))

    def copystat_dir(self, seq, src, dst):
        try:
            shutil.copystat(src, dst)
        except OSError as why:
            self.errors.append((seq, (src, dst, str(why))))

    def take_seq(self):
        self.seq += 1
        return self.seq

    def add_error(self, error):
        self.errors.append((self.take_seq(), error))

    # -- progress --------------------------------------------------------------------------------

    def maybe_progress(self):
        if self.progress is not None and self.found % 64 == 0:
            if time.monotonic() >= self.next_progress:
                self.emit_progress()

    def emit_progress(self, final=False):
        self.in_progress_call = True
        now = time.monotonic()
        self.next_progress = now + _PROGRESS_INTERVAL
        files_done, bytes_done, failures = self.pool.counters() if self.pool else (0, 0, 0)
        self.progress(_treecopy.Progress(
            entries_found=self.found,
            entries_done=self.done_here + files_done,
            bytes_found=self.bytes_found,
            bytes_done=self.bytes_here + bytes_done,
            errors=len(self.errors) + (0 if final else failures),
            scan_complete=final or self.pool is not None and not self.walking,
            elapsed=now - self.started))
        self.in_progress_call = False

    walking = True
    in_progress_call = False  # an exception now is the progress callable's, which stops the copy


def _audit(src, dst):
    sys.audit("shutil.copytree", src, dst)


def copytree(src, dst, symlinks=False, ignore=None, copy_function=None, ignore_dangling_symlinks=False,
             dirs_exist_ok=False, *, jobs=None, progress=None):
    """A drop-in replacement for shutil.copytree() that copies files in parallel.

    Arguments, return value (dst), exceptions and resulting metadata are those of shutil.copytree():
    see its documentation. copy_function=None means shutil.copy2. With shutil.copy2 the engine walks
    and copies the tree with `jobs` workers (default: treecopy.default_jobs()) and the GIL released,
    calling ignore() in shutil's order; any other copy_function is called from the calling thread,
    one file at a time, in shutil's order.

    progress: a callable receiving a treecopy.Progress snapshot about every 0.1 s and once at the
    end, always on the calling thread; an exception it raises stops the copy and propagates.
    KeyboardInterrupt stops the worker threads cleanly (files being written are finished or
    removed) and propagates; the destination is left partly copied, as with shutil.
    """
    if copy_function is None:
        copy_function = shutil.copy2
    if jobs is None or jobs == 0:
        jobs = _treecopy.default_jobs()
    elif jobs < 0:
        raise ValueError("jobs must be positive, not %r" % (jobs,))
    if copy_function is shutil.copy2 and _shutil.audit_hooked():
        # Each file's audit events (shutil.copyfile, open, os.utime...) are shutil's own: with a
        # hook to see them, shutil copies (see python/README.md); with progress, the walk below
        # (shutil's, step by step) calls copy2 on this thread and progress between entries.
        if progress is None:
            return shutil.copytree(src, dst, symlinks, ignore, copy_function,
                                   ignore_dangling_symlinks, dirs_exist_ok)
        return _walk(src, dst, symlinks, ignore, copy_function, ignore_dangling_symlinks,
                     dirs_exist_ok, jobs, progress, _audit, serial=True)
    if copy_function is shutil.copy2 and not (dirs_exist_ok and os.path.lexists(dst)):
        # The whole tree in one engine call (see _shutil.py); merging keeps the walk below.
        def python_walk(audit, replayed_ignore):
            return _walk(src, dst, symlinks, replayed_ignore, copy_function, ignore_dangling_symlinks,
                         dirs_exist_ok, jobs, progress, audit)

        return _shutil.copytree(src, dst, symlinks, ignore, ignore_dangling_symlinks, jobs, progress,
                                python_walk)
    return _walk(src, dst, symlinks, ignore, copy_function, ignore_dangling_symlinks, dirs_exist_ok,
                 jobs, progress, _audit)


def _walk(src, dst, symlinks, ignore, copy_function, ignore_dangling_symlinks, dirs_exist_ok, jobs,
          progress, audit, serial=False):
    """shutil._copytree()'s walk, each file copied by copy_function (copy2: by the pool, unless
    serial)."""
    copier = _Copier(symlinks, ignore, copy_function, ignore_dangling_symlinks, dirs_exist_ok, jobs,
                     progress, audit, serial)
    try:
        copier.found = 1  # the top directory
        copier.copytree(src, dst)
        copier.walking = False
    except Exception:
        if copier.in_progress_call:
            copier.cancel()
        else:
            copier.finish_before_raising()
        raise
    except BaseException:
        copier.cancel()
        raise
    copier.finish()
    return dst
