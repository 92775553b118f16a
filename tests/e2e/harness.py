"""Process control and Matrix helpers for the end-to-end tier (tests/e2e/run.sh).

Everything here runs inside the e2e virtualenv (matrix-synapse + matrix-nio). Each process we
start gets a file <work>/pids/<name> holding its PID for as long as it runs, so that run.sh's
trap can kill it by PID if this Python process dies first.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from nio import (AsyncClient, AsyncClientConfig, MegolmEvent, RoomSendResponse, SyncResponse,
                 UploadResponse)
from nio.crypto.attachments import decrypt_attachment, encrypt_attachment

# nio logs every retry while Synapse is down ("Timed out, sleeping…"): keep the output readable.
logging.getLogger("nio").setLevel(logging.ERROR)

SERVER_NAME = "localhost"
BOT = "@bot:localhost"


def log(msg: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text[-lines:])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Results


class Results:
    """Named checks. Each one prints PASS/FAIL at once and is appended to <work>/results."""

    def __init__(self, path: Path, on_fail: Callable[[], str]):
        self.path = path
        self.on_fail = on_fail
        self.passed = 0
        self.failed = 0

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"PASS {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail}", flush=True)
            context = self.on_fail()
            if context:
                print(context, flush=True)
        with self.path.open("a") as f:
            f.write(f"{'PASS' if ok else 'FAIL'} {name}\n")
        return ok


# --------------------------------------------------------------------------------------------
# Processes


class Procs:
    def __init__(self, work: Path):
        self.dir = work / "pids"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], log_path: Path, cwd: Path,
              env: dict[str, str] | None = None) -> subprocess.Popen:
        old = self.running.get(name)
        if old is not None:
            assert old.poll() is not None, f"{name} already running"
            self.running.pop(name)
        out = log_path.open("ab")
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=cwd, env=env, start_new_session=True)
        out.close()
        (self.dir / name).write_text(f"{proc.pid}\n")
        self.running[name] = proc
        return proc

    def track(self, name: str, pid: int) -> None:
        """A process started with asyncio (the js-sdk users): listed for run.sh's trap only."""
        (self.dir / name).write_text(f"{pid}\n")

    def untrack(self, name: str) -> None:
        (self.dir / name).unlink(missing_ok=True)

    def exit_code(self, name: str) -> int | None:
        proc = self.running.get(name)
        return None if proc is None else proc.poll()

    def alive(self, name: str) -> bool:
        proc = self.running.get(name)
        return proc is not None and proc.poll() is None

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 15.0) -> float | None:
        """Sends `sig` to the process (by PID), waits; SIGKILL after `timeout`. Returns the
        seconds it took to exit after `sig`, or None if it had to be SIGKILLed (or was gone)."""
        proc = self.running.pop(name, None)
        if proc is None:
            return None
        took: float | None = None
        if proc.poll() is None:
            t0 = time.monotonic()
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
                took = time.monotonic() - t0
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        (self.dir / name).unlink(missing_ok=True)
        return took

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name, signal.SIGTERM, 10)


# --------------------------------------------------------------------------------------------
# Synapse


def synapse_config(data: Path, port: int, secret: str, rc_message: tuple[float, int] | None) -> str:
    lifted = "{per_second: 9999, burst_count: 9999}"
    msg = lifted if rc_message is None else \
        f"{{per_second: {rc_message[0]}, burst_count: {rc_message[1]}}}"
    return f"""# Written by tests/e2e/harness.py (matrix.md §9).
server_name: "{SERVER_NAME}"
pid_file: {data}/homeserver.pid
public_baseurl: http://127.0.0.1:{port}/
listeners:
  - port: {port}
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources: [{{names: [client], compress: false}}]
database: {{name: sqlite3, args: {{database: {data}/homeserver.db}}}}
media_store_path: {data}/media_store
signing_key_path: {data}/localhost.signing.key
log_config: {data}/log.yaml
report_stats: false
trusted_key_servers: []
suppress_key_server_warning: true
macaroon_secret_key: "{secrets.token_hex(16)}"
form_secret: "{secrets.token_hex(16)}"
registration_shared_secret: "{secret}"
enable_registration: false
bcrypt_rounds: 4
presence: {{enabled: false}}
url_preview_enabled: false
rc_message: {msg}
rc_registration: {lifted}
rc_login:
  address: {lifted}
  account: {lifted}
  failed_attempts: {lifted}
rc_joins: {{local: {lifted}, remote: {lifted}}}
rc_joins_per_room: {lifted}
rc_invites: {{per_room: {lifted}, per_user: {lifted}, per_issuer: {lifted}}}
rc_room_creation: {lifted}
rc_3pid_validation: {lifted}
rc_admin_redaction: {lifted}
rc_presence: {{per_user: {lifted}}}
"""


# Access log (one line per request, with the user and the status code) to a file; warnings
# of the rest. The "429" check of the rate-limit scenario reads it.
SYNAPSE_LOG_CONFIG = """version: 1
formatters:
  precise: {format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'}
handlers:
  file: {class: logging.FileHandler, formatter: precise, filename: LOGFILE, encoding: utf8}
loggers:
  synapse.access.http: {level: INFO}
  synapse.storage.SQL: {level: WARNING}
root: {level: WARNING, handlers: [file]}
disable_existing_loggers: false
"""


class Synapse:
    def __init__(self, venv_python: str, work: Path, procs: Procs):
        self.python = venv_python
        self.data = work / "synapse"
        self.data.mkdir(parents=True, exist_ok=True)
        self.procs = procs
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret = secrets.token_hex(16)
        self.log = self.data / "homeserver.log"  # Synapse's own log (access log included)
        self.console = self.data / "console.log"  # its stdout/stderr
        (self.data / "log.yaml").write_text(SYNAPSE_LOG_CONFIG.replace("LOGFILE", str(self.log)))
        self.configs = {
            "normal": self.data / "hs.yaml",
            "ratelimited": self.data / "hs-ratelimited.yaml",
        }

    def write_configs(self, rc_message_limited: tuple[float, int]) -> None:
        self.configs["normal"].write_text(synapse_config(self.data, self.port, self.secret, None))
        self.configs["ratelimited"].write_text(
            synapse_config(self.data, self.port, self.secret, rc_message_limited))

    def generate_keys(self) -> None:
        subprocess.run([self.python, "-m", "synapse.app.homeserver", "-c", str(self.configs["normal"]),
                        "--generate-keys"], cwd=self.data, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    def start(self, which: str = "normal", timeout: float = 90.0) -> float:
        """Starts Synapse and waits for /health; returns the seconds it took."""
        t0 = time.monotonic()
        with self.console.open("a") as f:
            f.write(f"===== start ({which}) at {time.strftime('%H:%M:%S')}\n")
        self.procs.start("synapse", [self.python, "-m", "synapse.app.homeserver",
                                     "-c", str(self.configs[which])], self.console, self.data)
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if not self.procs.alive("synapse"):
                raise RuntimeError("Synapse exited during start-up:\n" + tail(self.console) +
                                   "\n" + tail(self.log))
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.read().strip() == b"OK":
                        return time.monotonic() - t0
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"Synapse /health not OK after {timeout:.0f} s:\n" + tail(self.console) +
                           "\n" + tail(self.log))

    def stop(self) -> None:
        self.procs.stop("synapse", signal.SIGTERM, 20)

    # -- HTTP helpers (blocking; used in set-up only)

    def http(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: HTTP {e.code} {e.read()[:300]!r}") from None

    def register(self, user: str, password: str, admin: bool = False) -> dict:
        """Shared-secret registration (docs/admin_api/register_api.md)."""
        nonce = self.http("GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(self.secret.encode(), digestmod=hashlib.sha1)
        for part in (nonce, user, password):
            mac.update(part.encode())
            mac.update(b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        return self.http("POST", "/_synapse/admin/v1/register", {
            "nonce": nonce, "username": user, "password": password, "admin": admin,
            "mac": mac.hexdigest()})

    def count_429(self, user: str, since_offset: int = 0) -> int:
        """429 answers to `user` in Synapse's access log (from byte offset `since_offset`)."""
        try:
            with self.log.open("rb") as f:
                f.seek(since_offset)
                text = f.read().decode(errors="replace")
        except FileNotFoundError:
            return 0
        return sum(1 for line in text.splitlines()
                   if "synapse.access.http" in line and f"{{{user}}}" in line and " 429 " in line)

    def log_size(self) -> int:
        try:
            return self.log.stat().st_size
        except FileNotFoundError:
            return 0


# --------------------------------------------------------------------------------------------
# The bot


@dataclass
class BotSettings:
    inviters: list[str]
    admins: list[str]
    per_second: float = 20.0
    burst: int = 20
    only_cross_signed_devices: bool = False
    metrics_port: int = 0  # > 0: metrics.ecoute on 127.0.0.1 (issue 16)


class Bot:
    def __init__(self, binary: str, kb: str, work: Path, procs: Procs, synapse: Synapse,
                 password: str, settings: BotSettings):
        self.binary = binary
        self.kb = kb
        self.dir = work / "bot"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.procs = procs
        self.log = self.dir / "bot.log"
        self.config = self.dir / "bot.yaml"
        self.starts = 0
        self.pickle_key_file = self.dir / "pickle.key"
        self.pickle_key_file.write_text(secrets.token_hex(24) + "\n")
        self.pickle_key_file.chmod(0o600)
        self.url = synapse.url
        self.password = password
        self.write_config(self.config, settings)

    def write_config(self, path: Path, settings: BotSettings) -> Path:
        """The bot's YAML for `settings`; the state (database, crypto) is the same for all."""
        path.write_text(f"""# Written by tests/e2e/harness.py
homeserver:
  url: "{self.url}"
account:
  user_id: "{BOT}"
  password: "{self.password}"
  device_name: "opale-bot"
state:
  database: "{self.dir / 'state.db'}"
encryption:
  pickle_key_file: "{self.pickle_key_file}"
  undecryptable_after_seconds: 5
  only_cross_signed_devices: {json.dumps(settings.only_cross_signed_devices)}
knowledge:
  directory: "{self.kb}"
rooms:
  allowed: []
  inviters: {json.dumps(settings.inviters)}
roles:
  admins: {json.dumps(settings.admins)}
  support: []
behaviour:
  reply_mode: thread
  answer_without_mention: false
  max_backlog_age_seconds: 600
rate_limit:
  per_second: {settings.per_second}
  burst: {settings.burst}
sync:
  timeout_seconds: 10
""")
        if settings.metrics_port > 0:
            with path.open("a") as f:
                f.write(f'metrics:\n  ecoute: "127.0.0.1:{settings.metrics_port}"\n')
        return path

    def config_check(self) -> subprocess.CompletedProcess:
        return subprocess.run([self.binary, "config", "check", str(self.config)],
                              capture_output=True, text=True, timeout=30)

    def start(self, extra: list[str] | None = None, config: Path | None = None) -> int:
        """Starts the bot (with `config`, default the main one); returns the log offset where
        this run's output begins."""
        self.starts += 1
        with self.log.open("a") as f:
            f.write(f"===== e2e: start #{self.starts} at {time.strftime('%H:%M:%S')}\n")
        offset = self.log.stat().st_size
        env = dict(os.environ)
        env.setdefault("SPDLOG_LEVEL", "info")
        self.procs.start("bot", [self.binary, "run", "--config", str(config or self.config)] +
                         (extra or []),
                         self.log, self.dir, env)
        return offset

    async def wait_ready(self, offset: int, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(r"\bready\b", self.log_text(offset)):
                return True
            if not self.procs.alive("bot"):
                return False
            await asyncio.sleep(0.2)
        return False

    def log_text(self, offset: int = 0) -> str:
        with self.log.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def alive(self) -> bool:
        return self.procs.alive("bot")

    def exit_code(self) -> int | None:
        return self.procs.exit_code("bot")

    def kill9(self) -> None:
        self.procs.stop("bot", signal.SIGKILL, 10)

    def stop(self, timeout: float = 10.0) -> float | None:
        return self.procs.stop("bot", signal.SIGTERM, timeout)


# --------------------------------------------------------------------------------------------
# Humans (matrix-nio)


def relates(ev: dict) -> dict:
    rel = ev.get("content", {}).get("m.relates_to")
    return rel if isinstance(rel, dict) else {}


def in_reply_to(ev: dict) -> str | None:
    irt = relates(ev).get("m.in_reply_to")
    return irt.get("event_id") if isinstance(irt, dict) else None


@dataclass
class Human:
    """A matrix-nio client, with a background /sync loop that records every timeline event."""
    user_id: str
    client: AsyncClient
    events: list[tuple[str, dict]] = field(default_factory=list)  # (room_id, raw event)
    decrypted: set[str] = field(default_factory=set)  # event ids that came encrypted and decrypted
    undecryptable: set[str] = field(default_factory=set)  # encrypted events nio could not read
    invites: set[str] = field(default_factory=set)
    highlights: dict[str, int] = field(default_factory=dict)  # room -> unread highlight count
    sync_errors: int = 0
    _task: asyncio.Task | None = None
    _stop: bool = False

    @classmethod
    async def login(cls, url: str, localpart: str, password: str, store: Path) -> "Human":
        """Logs in with end-to-end encryption (vodozemac), its keys kept under `store`."""
        cfg = AsyncClientConfig(max_timeout_retry_wait_time=2, request_timeout=30,
                                encryption_enabled=True, store_sync_tokens=False)
        store.mkdir(parents=True, exist_ok=True)
        client = AsyncClient(url, f"@{localpart}:{SERVER_NAME}", store_path=str(store), config=cfg)
        resp = await client.login(password, device_name=f"e2e-{localpart}")
        if not getattr(resp, "access_token", None):
            raise RuntimeError(f"login {localpart}: {resp}")
        if client.should_upload_keys:
            await client.keys_upload()
        human = cls(client.user_id, client)
        first = await client.sync(timeout=0)
        if not isinstance(first, SyncResponse):
            raise RuntimeError(f"first sync {localpart}: {first}")
        return human

    def start_sync(self) -> None:
        self._task = asyncio.create_task(self._sync_loop())

    async def _sync_loop(self) -> None:
        while not self._stop:
            try:
                resp = await self.client.sync(timeout=2000)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep syncing through Synapse restarts
                self.sync_errors += 1
                await asyncio.sleep(0.5)
                continue
            if not isinstance(resp, SyncResponse):
                self.sync_errors += 1
                await asyncio.sleep(0.5)
                continue
            for room_id, room in resp.rooms.join.items():
                unread = getattr(room, "unread_notifications", None)
                if unread is not None and getattr(unread, "highlight_count", None) is not None:
                    self.highlights[room_id] = unread.highlight_count
                for ev in room.timeline.events:
                    src = getattr(ev, "source", None)
                    if isinstance(ev, MegolmEvent):  # nio could not decrypt it
                        self.undecryptable.add(ev.event_id)
                    elif getattr(ev, "decrypted", False):
                        self.decrypted.add(ev.event_id)
                    if isinstance(src, dict):
                        self.events.append((room_id, src))
            for room_id in resp.rooms.invite:
                self.invites.add(room_id)
            await self.crypto_upkeep()

    async def crypto_upkeep(self) -> None:
        """What nio's sync_forever does after each sync: keys up, devices known, to-device out."""
        try:
            if self.client.should_upload_keys:
                await self.client.keys_upload()
            if self.client.should_query_keys:
                await self.client.keys_query()
            if self.client.should_claim_keys:
                await self.client.keys_claim(self.client.get_users_for_key_claiming())
            await self.client.send_to_device_messages()
        except Exception:  # noqa: BLE001 - counted, the next sync tries again
            self.sync_errors += 1

    async def close(self) -> None:
        self._stop = True
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        await self.client.close()

    # -- queries on the recorded timeline

    def from_bot(self, room_id: str | None = None) -> list[dict]:
        return [ev for rid, ev in self.events
                if ev.get("sender") == BOT and (room_id is None or rid == room_id)
                and ev.get("type") == "m.room.message"]

    def replies_to(self, event_id: str) -> list[dict]:
        return [ev for ev in self.from_bot() if in_reply_to(ev) == event_id]

    # -- actions

    async def send(self, room_id: str, body: str, mention: bool = False,
                   relates_to: dict | None = None, msgtype: str = "m.text",
                   extra: dict | None = None) -> str:
        content: dict[str, Any] = {"msgtype": msgtype, "body": body,
                                   "m.mentions": {"user_ids": [BOT]} if mention else {}}
        if relates_to:
            content["m.relates_to"] = relates_to
        if extra:
            content.update(extra)
        resp = await self.client.room_send(room_id, "m.room.message", content,
                                           ignore_unverified_devices=True)
        if not isinstance(resp, RoomSendResponse):
            raise RuntimeError(f"{self.user_id} send failed: {resp}")
        return resp.event_id

    async def send_file(self, room_id: str, path: Path, caption: str | None = None) -> str:
        """Uploads `path` and posts it as an m.file; `caption` (spec v1.10) goes in body."""
        data = path.read_bytes()
        upload, _ = await self.client.upload(lambda *_: data, content_type="text/csv",
                                             filename=path.name, filesize=len(data))
        content = {"msgtype": "m.file", "body": caption or path.name, "filename": path.name,
                   "url": upload.content_uri, "info": {"mimetype": "text/csv", "size": len(data)}}
        resp = await self.client.room_send(room_id, "m.room.message", content,
                                           ignore_unverified_devices=True)
        assert isinstance(resp, RoomSendResponse), f"file send failed: {resp}"
        return resp.event_id

    async def send_encrypted_file(self, room_id: str, path: Path, caption: str | None = None,
                                  mimetype: str = "text/csv") -> str:
        """Uploads `path` encrypted (AES-CTR, as clients do in encrypted rooms: the server gets
        only ciphertext, typed application/octet-stream) and posts it with its `file` object
        instead of a `url`."""
        data = path.read_bytes()
        ciphertext, keys = encrypt_attachment(data)
        upload, _ = await self.client.upload(lambda *_: ciphertext,
                                             content_type="application/octet-stream",
                                             filesize=len(ciphertext))
        if not isinstance(upload, UploadResponse):
            raise RuntimeError(f"{self.user_id} upload failed: {upload}")
        file = dict(keys)
        file["url"] = upload.content_uri
        content = {"msgtype": "m.file", "body": caption or path.name, "filename": path.name,
                   "file": file, "info": {"mimetype": mimetype, "size": len(data)}}
        resp = await self.client.room_send(room_id, "m.room.message", content,
                                           ignore_unverified_devices=True)
        assert isinstance(resp, RoomSendResponse), f"file send failed: {resp}"
        return resp.event_id

    async def download_encrypted(self, file: dict) -> tuple[bytes, bytes]:
        """The ciphertext of an encrypted attachment's `file` object (from the authenticated
        media API) and its plaintext; raises when the hash or the key does not match."""
        server, _, media = file.get("url", "mxc://").removeprefix("mxc://").partition("/")
        request = urllib.request.Request(
            f"{self.client.homeserver}/_matrix/client/v1/media/download/{server}/{media}",
            headers={"Authorization": f"Bearer {self.client.access_token}"})
        ciphertext = await asyncio.to_thread(
            lambda: urllib.request.urlopen(request, timeout=30).read())
        plain = decrypt_attachment(ciphertext, file["key"]["k"], file["hashes"]["sha256"],
                                   file["iv"])
        return ciphertext, plain

    async def send_image(self, room_id: str, name: str, data: bytes,
                         relates_to: dict | None = None) -> str:
        """Uploads a PNG and posts it as an m.image, as a client's screenshot button does."""
        upload, _ = await self.client.upload(lambda *_: data, content_type="image/png",
                                             filename=name, filesize=len(data))
        content: dict[str, Any] = {"msgtype": "m.image", "body": name, "url": upload.content_uri,
                                   "info": {"mimetype": "image/png", "size": len(data)}}
        if relates_to:
            content["m.relates_to"] = relates_to
        resp = await self.client.room_send(room_id, "m.room.message", content,
                                           ignore_unverified_devices=True)
        assert isinstance(resp, RoomSendResponse), f"image send failed: {resp}"
        return resp.event_id

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        resp = await self.client.room_send(room_id, "m.reaction", ignore_unverified_devices=True,
                                           content={
            "m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}})
        if not isinstance(resp, RoomSendResponse):
            raise RuntimeError(f"{self.user_id} reaction failed: {resp}")
        return resp.event_id

    async def membership_of(self, room_id: str, user_id: str) -> str | None:
        resp = await self.client.room_get_state_event(room_id, "m.room.member", user_id)
        content = getattr(resp, "content", None)
        return content.get("membership") if isinstance(content, dict) else None


async def wait_for(pred: Callable[[], bool], timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(step)
    return pred()


# --------------------------------------------------------------------------------------------
# Humans on Element's engine (matrix-js-sdk with its Rust crypto, js/tchap_user.mjs)

JS_CLIENT = Path(__file__).resolve().parent / "js" / "tchap_user.mjs"


class JsUser:
    """One device of a user on matrix-js-sdk (Node), driven over JSON lines. `events` keeps, by
    event id, the device's latest view of each timeline event: clear content, decryption
    failure code, the shield getEncryptionInfoForEvent gives, and getPushActionsForEvent."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, procs: Procs, log_path: Path):
        self.name = name
        self.proc = proc
        self.procs = procs
        self.log = log_path
        self.events: dict[str, dict] = {}
        self.ready: dict = {}
        self._ready: asyncio.Future = asyncio.get_running_loop().create_future()
        self._replies: dict[int, asyncio.Future] = {}
        self._next_id = 0
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, name: str, procs: Procs, work: Path, url: str, user_id: str,
                    password: str, device_name: str, bootstrap: bool,
                    timeout: float = 90) -> "JsUser":
        """Logs a new device in (cross-signing bootstrapped if `bootstrap`); returns once its
        first sync is done. Node and the npm packages come from js/ensure.sh (via run.sh)."""
        node = os.environ.get("OPALEBOT_E2E_NODE")
        modules = os.environ.get("OPALEBOT_E2E_JS_MODULES")
        if not node or not modules:
            raise RuntimeError("OPALEBOT_E2E_NODE and OPALEBOT_E2E_JS_MODULES are not set "
                               "(run.sh sets them after js/ensure.sh)")
        log_path = work / "js" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = [node, str(JS_CLIENT), "--homeserver", url, "--user", user_id,
                "--password", password, "--device-name", device_name, "--modules", modules,
                "--max-seconds", "700"] + (["--bootstrap"] if bootstrap else [])
        with log_path.open("ab") as err:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=err, start_new_session=True, limit=16 * 1024 * 1024)
        procs.track(f"js-{name}", proc.pid)
        user = cls(name, proc, procs, log_path)
        try:
            user.ready = await asyncio.wait_for(asyncio.shield(user._ready), timeout)
        except (asyncio.TimeoutError, RuntimeError) as e:
            await user.close()
            lines = [line for line in tail(log_path, 400).splitlines()
                     if "DEBUG" not in line and not line.startswith(" ")]
            raise RuntimeError(f"js-sdk user {name} not ready ({e or 'timeout'}):\n" +
                               "\n".join(lines[-20:])) from None
        return user

    async def _read(self) -> None:
        assert self.proc.stdout
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "event" in msg:
                self.events[msg["event"]["event_id"]] = msg["event"]
            elif "ready" in msg and not self._ready.done():
                self._ready.set_result(msg["ready"])
            elif "reply" in msg:
                fut = self._replies.pop(msg["reply"], None)
                if fut and not fut.done():
                    if "error" in msg:
                        fut.set_exception(RuntimeError(f"{self.name}: {msg['error']}"))
                    else:
                        fut.set_result(msg.get("ok", {}))
        gone = RuntimeError(f"js-sdk user {self.name} exited")
        if not self._ready.done():
            self._ready.set_exception(gone)
        for fut in self._replies.values():
            if not fut.done():
                fut.set_exception(gone)
        self._replies.clear()

    def alive(self) -> bool:
        return self.proc.returncode is None and not self._reader.done()

    async def call(self, op: str, timeout: float = 60, **args: Any) -> dict:
        if not self.alive():
            raise RuntimeError(f"js-sdk user {self.name} has exited")
        self._next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self._replies[self._next_id] = fut
        assert self.proc.stdin
        self.proc.stdin.write((json.dumps({"id": self._next_id, "op": op, "seconds": timeout,
                                           **args}) + "\n").encode())
        await self.proc.stdin.drain()
        return await asyncio.wait_for(fut, timeout + 5)

    async def send(self, room_id: str, content: dict) -> str:
        return (await self.call("send", room_id=room_id, content=content))["event_id"]

    def replies_to(self, event_id: str) -> list[dict]:
        """The bot's messages that answer `event_id`, as this device last saw them (decrypted or
        not: the relation travels in clear)."""
        return [ev for ev in self.from_bot() if in_reply_to(ev) == event_id]

    def from_bot(self, room_id: str | None = None) -> list[dict]:
        """The bot's messages, readable or not (`type` stays m.room.encrypted when not)."""
        return [ev for ev in self.events.values()
                if ev.get("sender") == BOT and (room_id is None or ev.get("room_id") == room_id)
                and ev.get("type") in ("m.room.message", "m.room.encrypted")]

    async def close(self) -> None:
        if self.alive():
            try:
                await self.call("quit", timeout=5)
            except Exception:  # noqa: BLE001 - it is going away anyway
                pass
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()
        self.procs.untrack(f"js-{self.name}")
