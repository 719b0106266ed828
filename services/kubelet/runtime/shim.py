"""The container shim: one small process per container, like containerd-shim.

Run as `python -S -I shim.py <container-dir> <status-fd>` (standard library only, so it starts in
a few milliseconds and does not need the kubelet's packages). Guarantees:

- It detaches (double fork), so the container outlives the kubelet that started it, and the kubelet
  never has a zombie to reap.
- It starts the container's process in its own session and process group, with the environment,
  working directory and argv of `<container-dir>/spec.json`, stdin from /dev/null unless `stdin`.
- With `stdin` the container's stdin is a pipe the shim holds open (the container blocks reading
  it, never sees EOF) until an attacher asks to close it. With `tty` the container's stdin, stdout
  and stderr are a pseudo-terminal the shim holds the master of (its controlling terminal; its
  output is logged as stdout, what the terminal showed, echo included).
- Either way the shim listens on `<container-dir>/attach.sock` (containerd's stdio fifos and
  attach, in one socket): each client gets every output chunk from then on, and may send stdin,
  resize (the pty's window size; the kernel sends SIGWINCH) and close-stdin frames (`frame`).
  Clients are disconnected when the container has exited and its output is drained.
- Every line the container writes to stdout/stderr is appended to the log file in the CRI log
  format: `<RFC3339Nano> stdout|stderr F|P <line>` (`P` for a partial line longer than 16 KiB).
- `started.json` (pid, start time) is written before the kubelet is told "started" on the status
  fd; `exit.json` (exitCode, finishedAt, signal) is written before the shim exits, so whoever
  sees the shim gone finds the exit recorded. A process killed by signal N exits 128+N (137 for
  SIGKILL), as containerd reports it.
- When the container's main process exits, the rest of its process group is killed, as the end
  of a container's PID namespace would.
- With `mounts`, the container gets a mount namespace of its own with them bind-mounted; with a
  `cgroup`, it runs in that memory cgroup, and an OOM kill there is recorded as `OOMKilled`.
"""

import contextlib
import errno
import fcntl
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import termios
import time

MAX_LINE = 16 * 1024
DRAIN_SECONDS = 0.5
ATTACH_SOCKET = "attach.sock"
# Frame types on the attach socket: the channel numbers of Kubernetes' stream protocol.
STDIN, STDOUT, STDERR, RESIZE, CLOSE_STDIN = 0, 1, 2, 4, 255
HEADER = struct.Struct(">BI")  # type, payload length


def frame(kind: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def socket_path(dir_fd: int) -> str:
    """The attach socket's path through an open fd of its directory: a container directory's own
    path may be longer than a unix socket address may be (108 bytes)."""
    return f"/proc/self/fd/{dir_fd}/{ATTACH_SOCKET}"


def set_window_size(fd: int, payload: bytes) -> None:
    """A resize frame (`{"Width": w, "Height": h}`) applied to the pty."""
    size = json.loads(payload)
    rows, cols = int(size.get("Height") or 24), int(size.get("Width") or 80)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def rfc3339nano(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    digits = f"{frac:09d}".rstrip("0")
    return f"{base}.{digits}Z" if digits else f"{base}Z"


def write_json(path: str, data: dict) -> None:
    """Write `data` atomically: readers see the old file, or the whole new one."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def proc_start_ticks(pid: int) -> int:
    """The process' start time in clock ticks since boot: with the pid, it names one process."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    return int(stat.rsplit(")", 1)[1].split()[19])


class LogWriter:
    """Turns the container's output streams into CRI-format lines in one log file."""

    def __init__(self, path: str) -> None:
        self.file = open(path, "ab", buffering=0)
        self.pending = {"stdout": b"", "stderr": b""}

    def feed(self, stream: str, data: bytes) -> None:
        buf = self.pending[stream] + data
        out = []
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                break
            out.extend(self._chunks(stream, buf[:nl], b"F"))
            buf = buf[nl + 1:]
        while len(buf) > MAX_LINE:
            out.append(self._line(stream, buf[:MAX_LINE], b"P"))
            buf = buf[MAX_LINE:]
        self.pending[stream] = buf
        if out:
            self.file.write(b"".join(out))

    def _chunks(self, stream: str, line: bytes, tag: bytes) -> list:
        parts = []
        while len(line) > MAX_LINE:
            parts.append(self._line(stream, line[:MAX_LINE], b"P"))
            line = line[MAX_LINE:]
        parts.append(self._line(stream, line, tag))
        return parts

    def _line(self, stream: str, data: bytes, tag: bytes) -> bytes:
        return b"%s %s %s %s\n" % (rfc3339nano(time.time_ns()).encode(), stream.encode(), tag, data)

    def close(self) -> None:
        for stream, rest in self.pending.items():
            if rest:
                self.file.write(self._line(stream, rest, b"F"))
        self.file.close()


def daemonize() -> None:
    """Fork so the kubelet's child exits at once; the shim lives on, adopted by init."""
    if os.fork() > 0:
        os._exit(0)


CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18


def mount_setup(spec: dict):
    """A preexec_fn: a mount namespace of the container's own, its volumes bind-mounted in it,
    then the container's user (dropped after mounting, which needs root)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def check(result: int, what: str) -> None:
        if result != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    def setup() -> None:
        try:
            mount_all()
        except OSError as exc:  # only a generic error crosses back to Popen: say it on stderr (the log)
            os.write(2, f"kubemu: setting up the container's volumes failed: {exc.strerror}\n".encode())
            raise

    def mount_all() -> None:
        check(libc.unshare(CLONE_NEWNS), "unshare the mount namespace")
        check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
        for source, target, readonly in spec["mounts"]:
            if os.path.isdir(source):
                os.makedirs(target, exist_ok=True)
            elif not os.path.exists(target):
                os.makedirs(os.path.dirname(target) or "/", exist_ok=True)
                open(target, "a").close()
            check(libc.mount(source.encode(), target.encode(), None, MS_BIND | MS_REC, None), f"mount {target}")
            if readonly:
                check(libc.mount(None, target.encode(), None, MS_BIND | MS_REMOUNT | MS_RDONLY, None),
                      f"remount {target} read-only")
        if spec.get("user") is not None:
            os.setgroups([])
            os.setgid(spec.get("group") or 0)
            os.setuid(spec["user"])

    return setup


def join_cgroup(cgroup: str):
    def join() -> None:
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    return join


def controlling_tty() -> None:
    """In the container's process, a session leader by now: the pty on its stdin becomes its terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def start(spec: dict, tty_slave: int | None = None) -> subprocess.Popen:
    ids = {}
    steps = [controlling_tty] if tty_slave is not None else []
    if spec.get("cgroup"):
        steps.append(join_cgroup(spec["cgroup"]))
    if spec.get("mounts"):
        steps.append(mount_setup(spec))
    elif spec.get("user") is not None and steps:  # setuid after the other steps, which may need root
        steps.append(lambda: (os.setgroups([]), os.setgid(spec.get("group") or 0), os.setuid(spec["user"])))
    if steps:
        ids = {"preexec_fn": lambda: [step() for step in steps]}
    elif spec.get("user") is not None:
        ids = {"user": spec["user"], "group": spec.get("group") or 0, "extra_groups": []}
    return subprocess.Popen(
        spec["argv"],
        **ids,
        env=spec["env"],
        cwd=spec["cwd"],
        stdin=tty_slave if tty_slave is not None else subprocess.PIPE if spec.get("stdin") else subprocess.DEVNULL,
        stdout=tty_slave if tty_slave is not None else subprocess.PIPE,
        stderr=tty_slave if tty_slave is not None else subprocess.PIPE,
        start_new_session=True,
        close_fds=True,
    )


def listen(cdir: str) -> socket.socket:
    dir_fd = os.open(cdir, os.O_PATH | os.O_DIRECTORY)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket_path(dir_fd))
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(socket_path(dir_fd))
    finally:
        os.close(dir_fd)
    listener.listen(16)
    return listener


def report(status_fd: int, data: dict) -> None:
    with os.fdopen(status_fd, "w") as f:
        f.write(json.dumps(data) + "\n")


def start_error(cdir: str, status_fd: int, spec: dict, exc: OSError) -> None:
    """The process could not be started: record it as containerd does (exit 128, StartError)."""
    cmd = spec["argv"][0] if spec["argv"] else ""
    if isinstance(exc, FileNotFoundError) and spec["cwd"] and not os.path.isdir(spec["cwd"]):
        why = f'chdir to cwd ("{spec["cwd"]}") set in config.json failed: no such file or directory'
    elif isinstance(exc, FileNotFoundError):
        why = f'exec: "{cmd}": executable file not found in $PATH'
    elif isinstance(exc, PermissionError):
        why = f'exec: "{cmd}": permission denied'
    else:
        why = f'exec: "{cmd}": {exc.strerror or exc}'
    message = (
        "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
        f"runc create failed: unable to start container process: {why}: unknown"
    )
    now = time.time_ns()
    write_json(os.path.join(cdir, "exit.json"), {
        "exitCode": 128, "reason": "StartError", "message": message, "startedAt": now, "finishedAt": now,
    })
    report(status_fd, {"error": message})


class Stdio:
    """The container's stdio as the shim holds it: output to the log and to attached clients;
    stdin, resize and close-stdin from clients."""

    def __init__(self, proc: subprocess.Popen, logs: LogWriter, master: int | None,
                 listener: socket.socket | None) -> None:
        self.proc, self.logs, self.master, self.listener = proc, logs, master, listener
        self.sel = selectors.DefaultSelector()
        self.outputs = 0
        self.clients: dict[socket.socket, bytes] = {}  # each with the bytes of its unfinished frame
        if master is not None:
            self.stdin = master
            self._register(master, "stdout")
        else:
            self.stdin = proc.stdin.fileno() if proc.stdin else None
            self._register(proc.stdout.fileno(), "stdout")
            self._register(proc.stderr.fileno(), "stderr")
        if listener is not None:
            self.sel.register(listener, selectors.EVENT_READ, "accept")

    def _register(self, fd: int, stream: str) -> None:
        self.sel.register(fd, selectors.EVENT_READ, stream)
        self.outputs += 1

    def pump(self) -> None:
        """Serve until the container exits and its output is drained (or DRAIN_SECONDS pass)."""
        pidfd = os.pidfd_open(self.proc.pid)
        self.sel.register(pidfd, selectors.EVENT_READ, "exit")
        deadline = None
        while deadline is None or (self.outputs and time.monotonic() < deadline):
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            for key, _ in self.sel.select(timeout):
                if key.data == "exit":
                    self.sel.unregister(pidfd)
                    kill_group(self.proc.pid)
                    deadline = time.monotonic() + DRAIN_SECONDS
                elif key.data == "accept":
                    self._accept()
                elif key.data == "client":
                    self._from_client(key.fileobj)
                else:
                    self._output(key.fd, key.data)
        os.close(pidfd)
        for client in list(self.clients):
            self._drop(client)
        self.sel.close()

    def _output(self, fd: int, stream: str) -> None:
        try:
            data = os.read(fd, 65536)
        except OSError as exc:  # EIO from a pty master: nothing holds the terminal any more
            if exc.errno != errno.EIO:
                raise
            data = b""
        if not data:
            self.sel.unregister(fd)
            self.outputs -= 1
            return
        self.logs.feed(stream, data)
        out = frame(STDOUT if stream == "stdout" else STDERR, data)
        for client in list(self.clients):
            try:
                client.sendall(out)
            except OSError:  # gone, or too slow for the timeout: it misses no more than itself
                self._drop(client)

    def _accept(self) -> None:
        client, _ = self.listener.accept()
        client.settimeout(1.0)
        self.clients[client] = b""
        self.sel.register(client, selectors.EVENT_READ, "client")

    def _drop(self, client: socket.socket) -> None:
        self.clients.pop(client, None)
        self.sel.unregister(client)
        client.close()

    def _from_client(self, client: socket.socket) -> None:
        try:
            data = client.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        buf = self.clients[client] + data
        while len(buf) >= HEADER.size:
            kind, size = HEADER.unpack_from(buf)
            if len(buf) < HEADER.size + size:
                break
            self.handle(kind, buf[HEADER.size:HEADER.size + size])
            buf = buf[HEADER.size + size:]
        self.clients[client] = buf

    def handle(self, kind: int, payload: bytes) -> None:
        try:
            if kind == STDIN and self.stdin is not None and payload:
                os.write(self.stdin, payload)  # blocks while the container does not read
            elif kind == RESIZE and self.master is not None:
                set_window_size(self.master, payload)
            elif kind == CLOSE_STDIN and self.stdin is not None and self.master is None:
                self.proc.stdin.close()  # EOF for the container (a terminal is not closed: containerd's rule)
                self.stdin = None
        except (OSError, ValueError):
            pass  # the container has closed its stdin, or a bad resize: nothing to deliver


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def oom_killed(cgroup: str | None) -> bool:
    """Did the kernel's OOM killer act in the container's memory cgroup (v1 `oom_kill N`)?"""
    if not cgroup:
        return False
    try:
        with open(os.path.join(cgroup, "memory.oom_control")) as f:
            counts = dict(line.split() for line in f if line.strip())
    except OSError:
        return False
    return int(counts.get("oom_kill", "0")) > 0


def remove_cgroup(cgroup: str | None) -> None:
    for _ in range(50):  # the killed processes may take a moment to leave it
        try:
            os.rmdir(cgroup)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


def exit_record(proc: subprocess.Popen, started_ns: int, cgroup: str | None = None) -> dict:
    code = proc.wait()
    sig = -code if code < 0 else 0
    record = {
        "exitCode": 128 + sig if sig else code,
        "signal": sig,
        "startedAt": started_ns,
        "finishedAt": time.time_ns(),
    }
    if oom_killed(cgroup):
        record["reason"] = "OOMKilled"
    if cgroup:
        remove_cgroup(cgroup)
    return record


def main() -> None:
    cdir, status_fd = sys.argv[1], int(sys.argv[2])
    with open(os.path.join(cdir, "spec.json")) as f:
        spec = json.load(f)
    daemonize()
    logs = LogWriter(spec["logPath"])
    master, slave = os.openpty() if spec.get("tty") else (None, None)
    try:
        proc = start(spec, slave)
    except (OSError, subprocess.SubprocessError) as exc:
        logs.close()
        why = "error setting up volume mounts (see the container log)"
        start_error(cdir, status_fd, spec, exc if isinstance(exc, OSError) else OSError(0, why))
        return
    # Ignored only now: an ignored signal would stay ignored in the container across exec.
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)
    if slave is not None:
        os.close(slave)  # the container's now: the master sees EIO once nothing holds it
    listener = listen(cdir) if spec.get("stdin") or spec.get("tty") else None
    started_ns = time.time_ns()
    started = {"pid": proc.pid, "pidStart": proc_start_ticks(proc.pid), "startedAt": started_ns,
               "shimPid": os.getpid(), "shimStart": proc_start_ticks(os.getpid())}
    write_json(os.path.join(cdir, "started.json"), started)
    report(status_fd, started)
    Stdio(proc, logs, master, listener).pump()
    if listener is not None:
        listener.close()
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(cdir, ATTACH_SOCKET))
    record = exit_record(proc, started_ns, spec.get("cgroup"))
    logs.close()
    write_json(os.path.join(cdir, "exit.json"), record)


if __name__ == "__main__":
    main()
