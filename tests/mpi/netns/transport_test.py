#!/usr/bin/env python3
"""mpi_netns_transport: MPI ranks placed on several "hosts" (network namespaces made by hosts.sh)
really are apart, and really talk over TCP through the veth pairs.

Usage: transport_test.py HOSTS_SH PROBE [N...]   (N: the host counts to try, default 2 3)
       transport_test.py cleanup HOSTS_SH         (mpi_netns_cleanup, below)

For each N: brings up N hosts of 2 slots, runs PROBE with 2 ranks per host and checks that
  - every rank's Allreduce and 10 MiB ring exchange arrived intact (the probe's ok=1);
  - ranks report the hostnames of the hosts they were placed on, 2 per host, and ranks on
    different hosts different network namespace inodes (none the test's own);
  - each host's interface received (rx_bytes) and sent (tx_bytes) at least the ring bytes its
    ranks got from and gave to ranks on other hosts: the data crossed the veth pairs and the
    bridge, it did not go through shared memory or the machine's loopback;
  - `hosts.sh down` leaves no namespace of the run behind.
With `cleanup` (mpi_netns_cleanup): hosts whose owner dies without `down` are removed by their
watcher (and DIR with what `up` wrote in it); and with the watcher gone too (killed with the owner), the next `up` or `sweep` removes
them, while a live owner's hosts stay.
Exit 77 (skip) when hosts.sh says the machine cannot make the hosts.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
SLOTS = 2
RING_BYTES = 10 << 20
LINE = re.compile(r"rank=(\d+) size=(\d+) host=(\S+) netns=(\d+) ring_from=(\d+) "
                  r"ring_bytes=(\d+) ok=(\d)")


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def counter(host, iface, name):
    out = subprocess.run(["ip", "netns", "exec", host, "cat",
                          f"/sys/class/net/{iface}/statistics/{name}"],
                         check=True, capture_output=True, text=True).stdout
    return int(out)


def counters(hosts, iface):
    return {h: (counter(h, iface, "rx_bytes"), counter(h, iface, "tx_bytes")) for h in hosts}


def netns_list():
    out = subprocess.run(["ip", "netns", "list"], check=True, capture_output=True, text=True)
    return [line.split()[0] for line in out.stdout.splitlines() if line.strip()]


def check_probe_output(stdout, hosts, nranks):
    ranks = {}
    for line in stdout.splitlines():
        m = LINE.fullmatch(line.strip())
        if m:
            r, size, host, ns, prev, nbytes, ok = m.groups()
            ranks[int(r)] = dict(size=int(size), host=host, netns=int(ns), prev=int(prev),
                                 bytes=int(nbytes), ok=ok == "1")
    check(sorted(ranks) == list(range(nranks)), f"one line per rank 0..{nranks - 1}:\n{stdout}")
    check(all(v["ok"] and v["size"] == nranks and v["bytes"] == RING_BYTES
              for v in ranks.values()), f"every exchange intact:\n{stdout}")
    per_host = {h: [r for r, v in ranks.items() if v["host"] == h] for h in hosts}
    check(all(len(rs) == SLOTS for rs in per_host.values()),
          f"{SLOTS} ranks on each of {hosts}:\n{stdout}")
    own = os.stat("/proc/self/ns/net").st_ino
    inodes = {}
    for h, rs in per_host.items():
        seen = {ranks[r]["netns"] for r in rs}
        check(len(seen) == 1, f"the ranks of {h} share one network namespace: {seen}")
        inodes[h] = seen.pop()
    check(len(set(inodes.values())) == len(hosts), f"one network namespace per host: {inodes}")
    check(own not in inodes.values(), f"no rank in the test's own network namespace {own}")
    return ranks


def run_once(hosts_sh, probe, count):
    with tempfile.TemporaryDirectory(prefix="mpi-netns-") as scratch:
        up = subprocess.run([hosts_sh, "up", scratch, str(count), str(SLOTS)],
                            env=dict(os.environ, TREECOPY_HOSTS_OWNER=str(os.getpid())))
        if up.returncode == SKIP:
            return SKIP
        check(up.returncode == 0, f"hosts.sh up {count}: exit {up.returncode}")
        names = []
        try:
            names = open(os.path.join(scratch, "namespaces")).read().split()
            hosts = open(os.path.join(scratch, "hosts")).read().split()
            iface = open(os.path.join(scratch, "iface")).read().strip()
            mca = open(os.path.join(scratch, "mca")).read().split()
            check(len(hosts) == count and set(hosts) <= set(netns_list()),
                  f"{count} hosts made: {hosts}")
            before = counters(hosts, iface)
            nranks = SLOTS * count
            job = subprocess.run([os.path.join(scratch, "head"), "mpirun", *mca,
                                  "-np", str(nranks), probe, str(RING_BYTES)],
                                 capture_output=True, text=True, timeout=240)
            after = counters(hosts, iface)
            print(job.stdout, end="")
            check(job.returncode == 0, f"mpirun exit {job.returncode}:\n{job.stderr}")
            ranks = check_probe_output(job.stdout, hosts, nranks)
            for h in hosts:
                got = sum(RING_BYTES for v in ranks.values()
                          if v["host"] == h and ranks[v["prev"]]["host"] != h)
                gave = sum(RING_BYTES for r, v in ranks.items()
                           if v["host"] != h and ranks[v["prev"]]["host"] == h)
                rx = after[h][0] - before[h][0]
                tx = after[h][1] - before[h][1]
                print(f"{h}: {iface} rx +{rx} (ring from other hosts {got}), "
                      f"tx +{tx} (ring to other hosts {gave})")
                check(got > 0 and gave > 0, f"the ring crosses hosts at {h}")
                check(rx >= got, f"{h} received {rx} bytes on {iface}, less than {got}")
                check(tx >= gave, f"{h} sent {tx} bytes on {iface}, less than {gave}")
        finally:
            down = subprocess.run([hosts_sh, "down", scratch])
        check(down.returncode == 0, f"hosts.sh down: exit {down.returncode}")
        left = set(names) & set(netns_list())
        check(not left, f"hosts.sh down left namespaces: {sorted(left)}")
    return 0


def up_owned_by(hosts_sh, scratch, owner_pid):
    """Brings up one host owned by owner_pid; returns hosts.sh's exit status and the names."""
    up = subprocess.run([hosts_sh, "up", scratch, "1", "1"],
                        env=dict(os.environ, TREECOPY_HOSTS_OWNER=str(owner_pid)))
    if up.returncode != 0:
        return up.returncode, []
    names = open(os.path.join(scratch, "namespaces")).read().split()
    check(len(names) == 2 and set(names) <= set(netns_list()), f"host and head made: {names}")
    return 0, names


def wait_gone(names, what):
    # The watcher notices its owner's exit within about a second; a generous bound, not a timing.
    for _ in range(600):
        if not set(names) & set(netns_list()):
            return
        time.sleep(0.1)
    raise Failure(f"{what}: still there: {sorted(set(names) & set(netns_list()))}")


def run_cleanup(hosts_sh):
    with tempfile.TemporaryDirectory(prefix="mpi-netns-") as scratch:
        owners = []
        try:
            # The owner dies without `down`: its watcher removes the hosts.
            owner = subprocess.Popen(["sleep", "600"])
            owners.append(owner)
            rc, names = up_owned_by(hosts_sh, os.path.join(scratch, "a"), owner.pid)
            if rc == SKIP:
                return SKIP
            check(rc == 0, f"hosts.sh up: exit {rc}")
            owner.kill()
            owner.wait()
            wait_gone(names, "hosts of a dead owner, after its watcher")
            # Then the watcher removes DIR's files, and DIR, which holds nothing else.
            for _ in range(600):
                if not os.path.exists(os.path.join(scratch, "a")):
                    break
                time.sleep(0.1)
            check(not os.path.exists(os.path.join(scratch, "a")), "the watcher removed DIR")

            # Owner and watcher killed: a stale run that the next `up` sweeps away, while the
            # hosts of a live owner stay.
            live = subprocess.Popen(["sleep", "600"])
            owners.append(live)
            rc, live_names = up_owned_by(hosts_sh, os.path.join(scratch, "live"), live.pid)
            check(rc == 0, f"hosts.sh up: exit {rc}")
            owner = subprocess.Popen(["sleep", "600"])
            owners.append(owner)
            rc, names = up_owned_by(hosts_sh, os.path.join(scratch, "b"), owner.pid)
            check(rc == 0, f"hosts.sh up: exit {rc}")
            watcher = int(open(os.path.join(scratch, "b", "watcher")).read())
            os.killpg(watcher, signal.SIGKILL)
            owner.kill()
            owner.wait()
            check(set(names) <= set(netns_list()), "the stale run is there before the sweep")
            rc, new_names = up_owned_by(hosts_sh, os.path.join(scratch, "c"), os.getpid())
            check(rc == 0, f"hosts.sh up: exit {rc}")
            check(not set(names) & set(netns_list()), f"up swept the stale run: {names}")
            check(set(live_names) <= set(netns_list()), "up left a live owner's hosts alone")
            subprocess.run([hosts_sh, "down", os.path.join(scratch, "c")], check=True)
            subprocess.run([hosts_sh, "down", os.path.join(scratch, "live")], check=True)
            check(not set(new_names + live_names) & set(netns_list()), "down removed them")
        finally:
            for p in owners:
                p.kill()
                p.wait()
            for run in ("a", "b", "c", "live"):
                if os.path.isdir(os.path.join(scratch, run)):
                    subprocess.run([hosts_sh, "down", os.path.join(scratch, run)])
    return 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "cleanup":
        try:
            rc = run_cleanup(sys.argv[2])
        except Failure as e:
            print(f"FAILED: {e}", file=sys.stderr)
            return 1
        if rc == 0:
            print("cleanup: ok")
        return rc
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    hosts_sh, probe = sys.argv[1], sys.argv[2]
    counts = [int(n) for n in sys.argv[3:]] or [2, 3]
    try:
        for count in counts:
            if run_once(hosts_sh, probe, count) == SKIP:
                return SKIP
            print(f"{count} hosts: ok")
    except Failure as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
