"""The serial source against a real socket:// port whose server goes away and comes back.

The server sends only once the source says it has opened the port, and the test waits for the
source's own state with deadlines generous enough for a busy machine: no timer is raced."""

import socket
import threading
import time

from edge_monitor.sources import CONNECTED, RECONNECTING, SerialSource
from edge_monitor.wire import LineDecoder, Sample, encode


class LineServer:
    """A TCP 'front end' on loopback that sends lines to whoever connects, then hangs up."""

    def __init__(self, port: int = 0) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]

    def serve_once(self, payload: bytes, opened, hang_up: threading.Event) -> threading.Thread:
        """Accept one connection; send `payload` once `opened()` says the source has opened the
        port; hang up when told to."""

        def run():
            conn, _ = self.sock.accept()
            # pyserial empties the input buffer while it opens a port: bytes that arrive before
            # the open completes are discarded by design, so a test front end waits for it
            end = time.monotonic() + DEADLINE_S
            while not opened() and time.monotonic() < end:
                time.sleep(0.01)
            conn.sendall(payload)
            # a hang-up ends the read that was gathering these bytes with an error (pyserial
            # drops what it had gathered): the front end stays until the source took them
            hang_up.wait(DEADLINE_S)
            conn.close()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    def close(self) -> None:
        self.sock.close()


DEADLINE_S = 60.0  # for a state that takes milliseconds on a quiet machine


def poll_until(source: SerialSource, want: int, timeout_s: float = DEADLINE_S) -> list[Sample]:
    got: list[Sample] = []
    end = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < end:
        got += source.poll().samples
        time.sleep(0.01)
    return got


def lines(counters) -> bytes:
    return b"".join(encode(Sample((500,), counter=c)) for c in counters)


def test_unplug_and_replug_loses_nothing_that_was_sent_and_never_raises():
    server = LineServer()
    decoder = LineDecoder(n_channels=1, counter=True)
    source = SerialSource(f"socket://127.0.0.1:{server.port}", decoder, backoff_s=(0.05, 0.2))
    hang_up = threading.Event()
    server.serve_once(lines(range(0, 50)), lambda: source.connects >= 1, hang_up)
    first = poll_until(source, 50)
    hang_up.set()
    assert [s.counter for s in first] == list(range(50))
    # the server hung up: the source notices, reports it, and keeps polling without raising
    deadline = time.monotonic() + DEADLINE_S
    while source.state == CONNECTED and time.monotonic() < deadline:
        source.poll()
        time.sleep(0.01)
    assert source.state == RECONNECTING and source.disconnects == 1
    hang_up = threading.Event()
    server.serve_once(lines(range(50, 100)), lambda: source.connects >= 2, hang_up)
    second = poll_until(source, 50)
    hang_up.set()
    assert [s.counter for s in second] == list(range(50, 100))
    assert source.connects == 2
    source.close()
    server.close()


def test_a_port_that_is_not_there_backs_off_and_reports_why():
    clock = [0.0]
    attempts = []

    def opener(url, **kwargs):
        attempts.append(clock[0])
        raise OSError(f"could not open port {url}")

    source = SerialSource(
        "/dev/ttyUSB9", LineDecoder(1), backoff_s=(1.0, 4.0), clock=lambda: clock[0], opener=opener
    )
    for _ in range(80):
        assert source.poll().state == RECONNECTING
        clock[0] += 0.25  # exact in binary, so the attempt times are too
    assert "ttyUSB9" in source.last_error
    # attempts at 0, then 1, 2 and 4 s apart (capped at 4)
    gaps = [round(b - a, 1) for a, b in zip(attempts, attempts[1:], strict=False)]
    assert gaps[:4] == [1.0, 2.0, 4.0, 4.0]
