"""A large encrypted salon (issue 15): opale-bot in one encrypted room with 500 members and 1,000
devices, on a local Synapse. Run by tests/bench/salon_bench.sh (the virtualenv, nice -n 10).

Set-up. The e2e harness (tests/e2e/harness.py) starts Synapse with its rate limits lifted. The
members are, besides the bot:
  alice            a matrix-nio client with encryption on: she created the room and asks;
  bob (2 devices), carol   matrix-nio clients that only read: at the end each reads the
                   room's history (/messages) and counts the bot's replies it can decrypt;
  member0001...    registered with the shared secret (one device each), logged in again for
                   more devices, each device with signed device keys and 3 signed one-time keys
                   uploaded over plain HTTP (ed25519 and curve25519 keys made here; nobody
                   decrypts with them, but the bot queries, claims and encrypts for each as for
                   any other device).
The room is created by alice with m.room.encryption (rotation_period_msgs set, see --rotation-msgs)
and public join rules, every member joins, then alice invites opale-bot, which talks to Synapse
through a recording relay (tests/bench/http_tap.py) so that each of its requests is counted
with its size.

Measurement. Alice asks one question at a time and waits for the reply; a reply's latency runs
from the question's origin_server_ts to the moment alice has the reply decrypted (same machine,
same clock), so that alice's own key sharing before her question is left out:
  first reply     the first question: the bot queries the 500 users' keys, claims 1,000
                  one-time keys, builds 1,000 Olm sessions and sends the room key to 1,000
                  devices before it can answer;
  steady state    --questions more; a reply that opens a new Megolm session (the bot rotates
                  after rotation_period_msgs of its messages) is counted apart;
  after a leave   --leaves times: a member leaves and alice asks at once (without syncing in
                  between, so her own session is not re-shared first); the bot must rotate and
                  give the new session to the ~1,000 remaining devices; then a few steady
                  questions.
Peak RSS is VmHWM of the bot's process at the end. The bot's key requests are read from the
relay's records. Prints figures, asserts nothing.
Usage: salon_bench.py OPALE_BOT KB_DIR [--members 500] [--devices 1000] [--questions 100]
                      [--leaves 5] [--rotation-msgs 20]"""
import argparse
import asyncio
import concurrent.futures
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from statistics import mean
from types import SimpleNamespace

import nacl.public
from nio import (MegolmEvent, RoomCreateResponse, RoomMessagesResponse, RoomSendResponse,
                 SyncResponse)
from nio.exceptions import EncryptionError
from signedjson.key import generate_signing_key
from signedjson.sign import sign_json
from unpaddedbase64 import encode_base64

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
import harness  # noqa: E402  (Synapse, process control and nio users of the e2e tier)
from matrix_bench import QUESTION, User, memory, percentile  # noqa: E402

PASSWORD = "bench-password"
READERS = {"bob": 2, "carol": 1}  # nio users who only read: their devices
ONE_TIME_KEYS = 3  # per simulated device: alice claims one, the bot another


def simulated_device_keys(user_id, device_id):
    """The /keys/upload body of a device: signed device keys and signed one-time keys."""
    signing = generate_signing_key(device_id)

    def curve():
        return encode_base64(bytes(nacl.public.PrivateKey.generate().public_key))

    keys = {"user_id": user_id, "device_id": device_id,
            "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
            "keys": {f"curve25519:{device_id}": curve(),
                     f"ed25519:{device_id}": encode_base64(signing.verify_key.encode())}}
    sign_json(keys, user_id, signing)
    one_time = {f"signed_curve25519:AAAAA{i}": sign_json({"key": curve()}, user_id, signing)
                for i in range(ONE_TIME_KEYS)}
    return {"device_keys": keys, "one_time_keys": one_time}


class Population:
    """The simulated members, made over plain HTTP by a few threads (Synapse is the limit)."""

    def __init__(self, synapse, count, devices):
        self.synapse = synapse
        self.localparts = [f"member{i:04d}" for i in range(1, count + 1)]
        extra = devices - count  # every member has one device, some have more
        self.device_counts = {name: 1 + extra // count + (i < extra % count)
                              for i, name in enumerate(self.localparts)}
        self.tokens = {}  # localpart: the access token of its first device

    def make(self, localpart, room_id):
        user_id = f"@{localpart}:{harness.SERVER_NAME}"
        first = self.synapse.register(localpart, PASSWORD)
        sessions = [(first["access_token"], first["device_id"])]
        for _ in range(self.device_counts[localpart] - 1):
            login = self.synapse.http("POST", "/_matrix/client/v3/login", {
                "type": "m.login.password", "password": PASSWORD,
                "identifier": {"type": "m.id.user", "user": localpart}})
            sessions.append((login["access_token"], login["device_id"]))
        for token, device_id in sessions:
            self.synapse.http("POST", "/_matrix/client/v3/keys/upload",
                              simulated_device_keys(user_id, device_id), token)
        self.synapse.http("POST", f"/_matrix/client/v3/join/{room_id}", {}, sessions[0][0])
        self.tokens[localpart] = sessions[0][0]

    def make_all(self, room_id, threads=6):
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            futures = [pool.submit(self.make, name, room_id) for name in self.localparts]
            for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
                future.result()
                if done % 100 == 0:
                    harness.log(f"{done}/{len(futures)} simulated members ready")

    def leave(self, localpart, room_id):
        self.synapse.http("POST", f"/_matrix/client/v3/rooms/{room_id}/leave", {},
                          self.tokens[localpart])


class Reply(SimpleNamespace):
    """One question and its reply: kind, latency_ms, server_ms, session_id, asked_ts, and the
    CPU time (ms) of the bot and of Synapse from the question sent to the reply seen (bot_cpu,
    synapse_cpu), and of the bot from the previous reply seen to the question (bot_cpu_before:
    a rotation done ahead of the question counts there)."""


def cpu_ms(pid):
    """User and system CPU time of a process so far, in ms (clock ticks of 10 ms)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


class Clocks:
    """The CPU time of the bot and of Synapse, read between questions."""

    def __init__(self, bot_pid, synapse_pid):
        self.pids = (bot_pid, synapse_pid)
        self.last = self.read()

    def read(self):
        return tuple(cpu_ms(pid) for pid in self.pids)

    def lap(self):
        now = self.read()
        spent = tuple(b - a for a, b in zip(self.last, now))
        self.last = now
        return spent


async def ask(user, room_id, kind, wall_offset, clocks):
    """One question from alice; the reply's latency from the question's origin_server_ts."""
    content = {"msgtype": "m.text", "body": f"{harness.BOT} {QUESTION}",
               "m.mentions": {"user_ids": [harness.BOT]}}
    sent = await user.client.room_send(room_id, "m.room.message", content,
                                       ignore_unverified_devices=True)
    if not isinstance(sent, RoomSendResponse):
        raise RuntimeError(f"question not sent: {sent}")
    bot_cpu_before, synapse_cpu_before = clocks.lap()  # alice's own key sharing is in Synapse's
    asked_ts = reply = None
    deadline = time.monotonic() + 120
    while asked_ts is None or reply is None:
        now, events = await user.sync()
        for event in events.get(room_id, []):
            source = event.source
            if source.get("event_id") == sent.event_id:
                asked_ts = source["origin_server_ts"]
            if source.get("sender") == harness.BOT and \
                    harness.in_reply_to(source) == sent.event_id and reply is None:
                if not getattr(event, "decrypted", False):
                    raise RuntimeError(f"a reply came unencrypted: {source}")
                reply = (now + wall_offset, source["origin_server_ts"], event.session_id)
        if now > deadline:
            raise TimeoutError(f"no reply to the {kind} question")
    seen, answered_ts, session_id = reply
    bot_cpu, synapse_cpu = clocks.lap()
    return Reply(kind=kind, latency_ms=seen * 1000 - asked_ts, server_ms=answered_ts - asked_ts,
                 session_id=session_id, asked_ts=asked_ts, bot_cpu=bot_cpu,
                 bot_cpu_before=bot_cpu_before, synapse_cpu=synapse_cpu)


async def nio_user(synapse, work, localpart, store_name=None):
    return await harness.Human.login(synapse.url, localpart, PASSWORD,
                                     work / "nio" / (store_name or localpart))


async def catch_up(human, since=None):
    """Syncs until nothing is new, with the crypto upkeep; returns (next token, events)."""
    events = []
    while True:
        response = await human.client.sync(timeout=0, since=since)
        if not isinstance(response, SyncResponse):
            raise RuntimeError(f"sync of {human.user_id}: {response}")
        since = response.next_batch
        await human.crypto_upkeep()
        new = [event for room in response.rooms.join.values() for event in room.timeline.events]
        events += new
        if not new and not response.to_device_events:
            return since, events


async def history(human, room_id, since):
    """The room's events from the sync token `since` to now, through /messages (a /sync gives
    at most 100), once the room keys that came meanwhile are in."""
    start, _ = await catch_up(human, since)
    events = []
    while True:
        page = await human.client.room_messages(room_id, start=start, end=since, limit=100)
        if not isinstance(page, RoomMessagesResponse):
            raise RuntimeError(f"/messages for {human.user_id}: {page}")
        events += page.chunk
        if not page.chunk or not page.end:
            return events
        start = page.end


def readable_replies(human, events):
    """The bot's encrypted messages among `events`: (decrypted, not decrypted) counts."""
    decrypted = unreadable = 0
    for event in events:
        if event.source.get("sender") != harness.BOT:
            continue
        if getattr(event, "decrypted", False):
            decrypted += 1
        elif isinstance(event, MegolmEvent):
            try:  # a room key that came later in the catch-up
                human.client.decrypt_event(event)
                decrypted += 1
            except EncryptionError:
                unreadable += 1
    return decrypted, unreadable


async def start_tap(procs, work, synapse):
    port = harness.free_port()
    log = work / "tap.log"
    procs.start("tap", [sys.executable, str(HERE / "http_tap.py"), str(port), str(synapse.port),
                        str(work / "tap")], log, work)
    for _ in range(100):
        if "ready" in log.read_text(errors="replace"):
            return SimpleNamespace(url=f"http://127.0.0.1:{port}")
        await asyncio.sleep(0.1)
    raise RuntimeError("the relay did not start:\n" + log.read_text())


async def run(args):
    work = Path(tempfile.mkdtemp(prefix="opalebot-salon."))
    procs = harness.Procs(work)
    humans = []
    try:
        synapse = harness.Synapse(sys.executable, work, procs)
        synapse.write_configs((1000.0, 1000))
        synapse.generate_keys()
        synapse.start()
        version = synapse.http("GET", "/_synapse/admin/v1/server_version").get("server_version")
        harness.log(f"Synapse {version} at {synapse.url}; work directory {work}")
        for localpart in ["bot", "alice", *READERS]:
            synapse.register(localpart, PASSWORD)
        alice = await nio_user(synapse, work, "alice")
        humans.append(alice)
        readers = []
        for localpart, devices in READERS.items():
            for n in range(1, devices + 1):
                readers.append(await nio_user(synapse, work, localpart, f"{localpart}-{n}"))
        humans += readers
        encryption = {"algorithm": "m.megolm.v1.aes-sha2",
                      "rotation_period_msgs": args.rotation_msgs}
        created = await alice.client.room_create(initial_state=[
            {"type": "m.room.encryption", "state_key": "", "content": encryption},
            {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "public"}}])
        if not isinstance(created, RoomCreateResponse):
            raise RuntimeError(f"room_create: {created}")
        room_id = created.room_id
        for reader in readers:
            await reader.client.join(room_id)

        real = len(READERS) + 1
        population = Population(synapse, args.members - real,
                                args.devices - sum(READERS.values()) - 1)
        started = time.monotonic()
        await asyncio.to_thread(population.make_all, room_id)
        harness.log(f"{len(population.localparts)} simulated members with "
                    f"{sum(population.device_counts.values())} devices made and joined in "
                    f"{time.monotonic() - started:.0f} s")

        tap = await start_tap(procs, work, synapse)
        bot = harness.Bot(args.bot, args.kb, work, procs, tap, PASSWORD,
                          harness.BotSettings(inviters=[alice.user_id], admins=[],
                                              per_second=100.0, burst=100))
        if not await bot.wait_ready(bot.start()):
            raise RuntimeError("opale-bot did not start:\n" + bot.log_text()[-2000:])
        user = User(alice)
        await alice.client.room_invite(room_id, harness.BOT)
        await user.wait_joined({room_id: harness.BOT}, timeout=120)
        reader_tokens = [(await catch_up(reader))[0] for reader in readers]
        await catch_up(alice, user.since)  # alice knows every device before she asks
        user.since = alice.client.next_batch
        harness.log(f"opale-bot joined; {args.members} members, {args.devices} devices")

        wall_offset = time.time() - time.monotonic()
        clocks = Clocks(bot.procs.running["bot"].pid, procs.running["synapse"].pid)
        replies = [await ask(user, room_id, "first", wall_offset, clocks)]
        harness.log(f"first reply after {replies[0].latency_ms:.0f} ms")
        for _ in range(args.questions):
            replies.append(await ask(user, room_id, "steady", wall_offset, clocks))
        leavers = population.localparts[-args.leaves:] if args.leaves else []
        for localpart in leavers:
            population.leave(localpart, room_id)
            replies.append(await ask(user, room_id, "leave", wall_offset, clocks))
            for _ in range(args.after_leave):
                replies.append(await ask(user, room_id, "steady", wall_offset, clocks))
        rss = memory(bot.procs.running["bot"].pid)

        checks = []
        for reader, since in zip(readers, reader_tokens):
            events = await history(reader, room_id, since)
            checks.append((f"{reader.user_id} {reader.client.device_id}",
                           *readable_replies(reader, events)))
        bot.stop()
        procs.stop("tap")
        return SimpleNamespace(version=version, replies=replies, rss=rss, checks=checks,
                               requests=read_tap(work / "tap"), bot_log=bot.log_text())
    finally:
        for human in humans:
            await human.client.close()
        procs.stop_all()
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def read_tap(directory):
    """The relay's records, with the users and devices of each key request counted."""
    requests = []
    for line in (directory / "requests.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["body"]:
            body = json.loads((directory / record["body"]).read_text())
            if "/keys/query" in record["path"]:
                record["users"] = len(body.get("device_keys", {}))
            elif "/keys/claim" in record["path"]:
                targets = body.get("one_time_keys", {})
                record["users"] = len(targets)
                record["devices"] = sum(len(devices) for devices in targets.values())
            else:
                targets = body.get("messages", {})
                record["users"] = len(targets)
                record["devices"] = sum(len(devices) for devices in targets.values())
        requests.append(record)
    return sorted(requests, key=lambda r: r["start"])


def endpoint(path):
    """A request's endpoint, without version, ids and transaction: "rooms/{id}/send"."""
    parts = path.split("/_matrix/client/", 1)[-1].split("/")[1:]
    for end in ("send", "sendToDevice"):  # event type and transaction id
        if end in parts:
            parts = parts[:parts.index(end) + 1]
    return "/".join("{id}" if part.startswith(("%21", "%40", "!", "@")) else part
                    for part in parts)


def describe(record, since):
    """One request: what it carried, how long Synapse took to answer it, and how long it came
    after `since` (the question, or the previous answer)."""
    counted = f"{record['users']} users, " if "users" in record else ""
    if "devices" in record:
        counted += f"{record['devices']} devices, "
    end = record["last_byte"] or record["start"]
    after = f", {(record['start'] - since) * 1000:.0f} ms after the question or the previous " \
        "answer" if record["start"] >= since else ""
    return (f"{record['method']} {endpoint(record['path'])}: {counted}"
            f"{record['sent'] / 1024:.1f} KiB sent, {record['received'] / 1024:.1f} KiB "
            f"received, answered in {(end - record['start']) * 1000:.0f} ms{after}"), end


def listing(requests, asked_ms):
    since = asked_ms / 1000
    for record in requests:
        line, end = describe(record, since)
        since = max(since, end)
        print(f"    {record['start'] * 1000 - asked_ms:+7.0f} ms {line}")


def requests_between(requests, start_ms, asked_ms, end_ms):
    """The requests from start_ms to end_ms but /sync, and sends only from asked_ms."""
    return [r for r in requests if start_ms <= r["start"] * 1000 <= end_ms and
            endpoint(r["path"]) != "sync" and
            (r["start"] * 1000 >= asked_ms or not endpoint(r["path"]).endswith("/send"))]


def report(args, result):
    replies = result.replies
    first = replies[0]
    previous = first.session_id
    for reply in replies[1:]:
        reply.new_session = reply.session_id != previous
        previous = reply.session_id
    plain = [r for r in replies[1:] if r.kind == "steady" and not r.new_session]
    steady = [r.latency_ms for r in plain]
    rotated = [r for r in replies[1:] if r.kind == "steady" and r.new_session]
    leaves = [r for r in replies[1:] if r.kind == "leave"]
    p50 = percentile(steady, 50)
    print(f"Encrypted salon: {args.members} members and {args.devices} devices besides "
          f"opale-bot, Synapse {result.version} (SQLite)")
    print(f"  Megolm rotation: the room's m.room.encryption sets rotation_period_msgs "
          f"{args.rotation_msgs} (the bot follows it; without it, 100 messages or a week), and "
          f"every member who leaves")
    print("  reply latency: from the question's origin_server_ts to the reply decrypted by "
          "alice")
    print(f"  first reply (keys of every device fetched and served): {first.latency_ms:.0f} ms "
          f"(server timestamps {first.server_ms} ms); CPU meanwhile: bot {first.bot_cpu:.0f} "
          f"ms, Synapse {first.synapse_cpu:.0f} ms")
    print(f"  steady state, {len(steady)} replies: p50 {p50:.1f} ms, p95 "
          f"{percentile(steady, 95):.1f} ms, p99 {percentile(steady, 99):.1f} ms, max "
          f"{max(steady):.1f} ms")
    print(f"    CPU per reply, mean: bot {mean(r.bot_cpu for r in plain):.1f} ms (and "
          f"{mean(r.bot_cpu_before for r in plain):.1f} ms between a reply and the next "
          f"question), Synapse {mean(r.synapse_cpu for r in plain):.1f} ms")
    for name, group in (("after a rotation by message count", rotated),
                        ("right after a member left", leaves)):
        if not group:
            continue
        values = [r.latency_ms for r in group]
        print(f"  {name}, {len(group)} replies: "
              + ", ".join(f"{v:.0f}" for v in values)
              + f" ms; max {max(values) / p50:.1f} x the steady p50")
        print("    bot CPU from the previous reply to this one: "
              + ", ".join(f"{r.bot_cpu_before + r.bot_cpu:.0f}" for r in group) + " ms")
        if name.startswith("right after"):
            renewed = sum(r.new_session for r in group)
            print(f"    {renewed} of {len(group)} came in a new Megolm session")
    print(f"  peak RSS (VmHWM) {result.rss['peak']:.1f} MiB ({result.rss['own']:.1f} MiB own, "
          f"{result.rss['files']:.1f} MiB libraries and files at the end)")
    worst = max([r.latency_ms for r in rotated + leaves], default=0)
    print(f"  target, no reply after a rotation slower than 2 x p50 ({2 * p50:.0f} ms): "
          f"{'met' if worst <= 2 * p50 else 'MISSED'} (slowest {worst:.0f} ms)")
    print(f"  target, RSS under 64 MiB: {'met' if result.rss['peak'] < 64 else 'MISSED'}")
    for who, decrypted, unreadable in result.checks:
        print(f"  reader {who}: {decrypted} messages of the bot decrypted ({len(replies)} "
              f"replies), {unreadable} not")

    requests = result.requests
    print("opale-bot's requests (through the relay), the whole run:")
    counts = Counter((r["method"], endpoint(r["path"])) for r in requests)
    for (method, name), count in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"  {count:5d} x {method} {name}")
    for name in ("keys/query", "keys/claim", "sendToDevice"):
        group = [r for r in requests if endpoint(r["path"]) == name]
        if group:
            print(f"  {name}: " + "; ".join(
                f"{r.get('users', 0)} users" + (f" {r['devices']} devices" if "devices" in r
                                               else "") + f" {r['sent'] / 1024:.0f} KiB"
                for r in group))
    print("  the first reply, request by request (sync left out):")
    reply_ts = first.asked_ts + first.server_ms
    listing(requests_between(requests, first.asked_ts, first.asked_ts, reply_ts + 50),
            first.asked_ts)
    for reply in rotated[:2] + leaves[:2]:
        print(f"  a {reply.kind} reply in a new session ({reply.latency_ms:.0f} ms), the "
              f"requests from 2 s before its question to its reply (earlier replies left out):")
        listing(requests_between(requests, reply.asked_ts - 2000, reply.asked_ts,
                                 reply.asked_ts + reply.server_ms + 50), reply.asked_ts)
    sessions = [line for line in result.bot_log.splitlines() if "new megolm session" in line]
    print(f"  the bot's log: {len(sessions)} 'new megolm session' lines (sessions found due: "
          f"age, message count or a device gone; a leave drops the session without a line)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bot")
    parser.add_argument("kb")
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--leaves", type=int, default=5)
    parser.add_argument("--after-leave", type=int, default=3,
                        help="steady questions after each leave's question")
    parser.add_argument("--rotation-msgs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    report(args, result)


if __name__ == "__main__":
    main()
