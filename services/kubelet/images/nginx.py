"""The `nginx` image of the process runtime: a small HTTP server that behaves like nginx's image.

Standard library only (it runs under `python -S -E`, so it starts in milliseconds). Guarantees:
- Listens on `--listen IP:PORT` (the kubelet passes the pod IP and the container port, default 80)
  and serves nginx's default "Welcome to nginx!" page on `/` and `/index.html` (GET, HEAD), nginx's
  404 page elsewhere, 405 for other methods; HTTP/1.1 keep-alive; `Server: nginx/1.27.3`.
- Logs each request to stdout in the official image's `main` log format (nginx's `combined` plus
  `"$http_x_forwarded_for"`), and its notices and errors to stderr as nginx does.
- SIGTERM: fast shutdown; SIGQUIT (the image's STOPSIGNAL): graceful shutdown, in-flight requests
  finish. Both exit 0. A failed bind prints nginx's `[emerg] bind() ... failed` and exits 1.
"""

import os
import signal
import socket
import sys
import threading
import time

VERSION = "1.27.3"
INDEX = b"""<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
"""
STARTED = time.time()
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
KEEPALIVE_SECONDS = 65.0
PID = os.getpid()
active = 0
active_lock = threading.Lock()


def error_page(status: str) -> bytes:
    return (
        f"<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n<center><h1>{status}</h1></center>\r\n"
        f"<hr><center>nginx/{VERSION}</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


def http_date(t: float) -> str:
    g = time.gmtime(t)
    return f"{DAYS[g.tm_wday]}, {g.tm_mday:02d} {MONTHS[g.tm_mon - 1]} {g.tm_year} {time.strftime('%H:%M:%S', g)} GMT"


def local_time(t: float) -> str:
    g = time.gmtime(t)
    return f"{g.tm_mday:02d}/{MONTHS[g.tm_mon - 1]}/{g.tm_year}:{time.strftime('%H:%M:%S', g)} +0000"


def notice(level: str, message: str) -> None:
    stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime())
    os.write(2, f"{stamp} [{level}] {PID}#{PID}: {message}\n".encode())


def access_log(peer: str, request_line: str, status: int, sent: int, headers: dict) -> None:
    line = (
        f'{peer} - - [{local_time(time.time())}] "{request_line}" {status} {sent} '
        f'"{headers.get("referer", "-")}" "{headers.get("user-agent", "-")}" '
        f'"{headers.get("x-forwarded-for", "-")}"\n'
    )
    os.write(1, line.encode())


def read_head(conn: socket.socket, buf: bytes) -> tuple[bytes | None, bytes]:
    """Read up to the end of the request headers; (None, rest) on a closed connection."""
    while b"\r\n\r\n" not in buf:
        if len(buf) > 16384:
            return None, b""
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def parse(head: bytes) -> tuple[str, str, str, dict]:
    lines = head.decode("latin-1").split("\r\n")
    request_line = lines[0]
    parts = request_line.split()
    method, target, version = (parts + ["", "", ""])[:3]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return request_line, method, target.split("?", 1)[0], {**headers, "_version": version}


def respond(method: str, path: str) -> tuple[int, str, bytes]:
    if method not in ("GET", "HEAD"):
        return 405, "405 Not Allowed", error_page("405 Not Allowed")
    if path in ("/", "/index.html"):
        return 200, "200 OK", INDEX
    return 404, "404 Not Found", error_page("404 Not Found")


def handle_one(conn: socket.socket, peer: str, head: bytes) -> bool:
    """Answer one request; True if the connection stays open."""
    request_line, method, path, headers = parse(head)
    status, status_text, body = respond(method, path)
    keep = headers["_version"] == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    fields = [f"HTTP/1.1 {status_text}", f"Server: nginx/{VERSION}", f"Date: {http_date(time.time())}",
              "Content-Type: text/html", f"Content-Length: {len(body)}"]
    if status == 200:
        fields += [f"Last-Modified: {http_date(STARTED)}", f'ETag: "{int(STARTED):x}-{len(body):x}"',
                   "Accept-Ranges: bytes"]
    fields.append(f"Connection: {'keep-alive' if keep else 'close'}")
    payload = ("\r\n".join(fields) + "\r\n\r\n").encode() + (b"" if method == "HEAD" else body)
    conn.sendall(payload)
    access_log(peer, request_line, status, 0 if method == "HEAD" else len(body), headers)
    return keep


def serve_connection(conn: socket.socket, peer: str) -> None:
    global active
    conn.settimeout(KEEPALIVE_SECONDS)
    buf = b""
    try:
        while True:
            head, buf = read_head(conn, buf)
            if head is None:
                return
            with active_lock:
                active += 1
            try:
                keep = handle_one(conn, peer, head)
            finally:
                with active_lock:
                    active -= 1
            if not keep:
                return
    except OSError:
        return
    finally:
        conn.close()


class Stop(Exception):
    def __init__(self, graceful: bool) -> None:
        self.graceful = graceful


def on_signal(signum: int, _frame) -> None:
    name = signal.Signals(signum).name
    if signum == signal.SIGQUIT:
        notice("notice", f"signal {signum} ({name}) received, shutting down")
        raise Stop(graceful=True)
    notice("notice", f"signal {signum} ({name}) received, exiting")
    raise Stop(graceful=False)


def bind(listen: str) -> socket.socket:
    host, _, port = listen.rpartition(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host or "0.0.0.0", int(port)))
    except OSError as exc:
        message = f"bind() to {host or '0.0.0.0'}:{port} failed ({exc.errno}: {os.strerror(exc.errno)})"
        notice("emerg", message)
        os.write(2, f"nginx: [emerg] {message}\n".encode())
        sys.exit(1)
    sock.listen(511)
    return sock


def main(argv: list[str]) -> int:
    listen = "0.0.0.0:80"
    if "-v" in argv or "-V" in argv:
        os.write(2, f"nginx version: nginx/{VERSION}\n".encode())
        return 0
    if "--listen" in argv:
        listen = argv[argv.index("--listen") + 1]
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGQUIT, on_signal)
    sock = bind(listen)
    for message in ('using the "epoll" event method', f"nginx/{VERSION}",
                    "OS: Linux", "start worker processes", f"start worker process {PID}"):
        notice("notice", message)
    try:
        while True:
            conn, addr = sock.accept()
            threading.Thread(target=serve_connection, args=(conn, addr[0]), daemon=True).start()
    except Stop as stop:
        sock.close()
        if stop.graceful:
            notice("notice", "gracefully shutting down")
            deadline = time.monotonic() + 5
            while active and time.monotonic() < deadline:
                time.sleep(0.01)
        notice("notice", "exiting")
        notice("notice", "exit")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
