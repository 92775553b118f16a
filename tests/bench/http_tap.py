"""A recording HTTP/1.1 relay between opale-bot and Synapse, for the salon benchmark
(tests/bench/salon_bench.py): Synapse's access log has no request sizes, and the bot logs no
requests, so this relay writes one JSON line per request the bot makes (method, path, bytes sent,
bytes received, when it was sent, when the first byte of the answer came, when the last came).
The bodies of the key requests (/keys/query, /keys/claim, /sendToDevice) are kept in files for
the benchmark to count users and devices in. Bytes are passed on as they come; only the request
heads are read (requests are framed by Content-Length, which libcurl always sends).
Usage: http_tap.py LISTEN_PORT UPSTREAM_PORT OUT_DIR   (prints "ready" once listening)"""
import asyncio
import itertools
import json
import signal
import sys
import time
from pathlib import Path

KEPT_BODIES = ("/keys/query", "/keys/claim", "/sendToDevice/")


class Tap:
    def __init__(self, upstream_port, out):
        self.upstream_port = upstream_port
        self.out = out
        self.log = (out / "requests.jsonl").open("a", buffering=1)
        self.numbers = itertools.count(1)
        self.connections = itertools.count(1)
        self.open = {}  # connection number: its request still being answered

    def flush(self):
        """Writes the requests still open (at SIGTERM: the benchmark is done with them)."""
        for record in self.open.values():
            self.write(record)
        self.open.clear()

    def write(self, record):
        if record is not None:
            self.log.write(json.dumps(record) + "\n")

    async def connection(self, client_reader, client_writer):
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        current = {"record": None}
        connection = next(self.connections)

        async def answers():
            while data := await up_reader.read(65536):
                record = current["record"]
                now = time.time()
                if record is not None:
                    if record["first_byte"] is None and not data.startswith(b"HTTP/1.1 100"):
                        record["first_byte"] = now
                    record["last_byte"] = now
                    record["received"] += len(data)
                client_writer.write(data)
                await client_writer.drain()
            client_writer.close()

        async def answered():
            try:
                await answering
            except ConnectionError:
                pass

        answering = asyncio.create_task(answers())
        try:
            while True:
                head = await client_reader.readuntil(b"\r\n\r\n")
                self.write(current["record"])
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                record = {"n": next(self.numbers), "connection": connection, "method": method,
                          "path": path.split("?")[0], "sent": len(head) + length,
                          "start": time.time(), "body_sent": None, "first_byte": None,
                          "last_byte": None, "received": 0, "body": None}
                current["record"] = self.open[connection] = record
                up_writer.write(head)
                keep = any(part in path for part in KEPT_BODIES)
                body = []
                remaining = length
                while remaining > 0:
                    chunk = await client_reader.read(min(remaining, 65536))
                    if not chunk:
                        raise ConnectionError("client closed inside a body")
                    remaining -= len(chunk)
                    up_writer.write(chunk)
                    if keep:
                        body.append(chunk)
                await up_writer.drain()
                record["body_sent"] = time.time()
                if keep:
                    name = self.out / f"body-{record['n']}.json"
                    name.write_bytes(b"".join(body))
                    record["body"] = name.name
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            up_writer.close()
            await answered()
            self.write(self.open.pop(connection, None))


async def main(listen_port, upstream_port, out):
    out.mkdir(parents=True, exist_ok=True)
    tap = Tap(upstream_port, out)
    server = await asyncio.start_server(tap.connection, "127.0.0.1", listen_port)
    stopped = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set_result, None)
    print("ready", flush=True)
    await stopped
    tap.flush()
    server.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])))
