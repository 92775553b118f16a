"""Reply latency and memory of opale-bot against a minimal matrix-nio bot on the same local
Synapse, in plaintext rooms and in end-to-end encrypted ones (issues 3 and 7).

Run by tests/bench/matrix_bench.sh, which makes the virtualenv. It starts a Synapse (the e2e
harness, tests/e2e/harness.py) and five bots, each on its own account and in its own room with
the user:
  opale-bot            plaintext room;
  nio bot              plaintext room (tests/bench/nio_bot.py; the comparison of issue 3);
  nio bot, same fiche  plaintext room, a nio bot that answers with opale-bot's reply (the fiche,
                       text and HTML, taken from a first question to opale-bot): the frameworks
                       compared with the same reply to carry;
  opale-bot encrypted  encrypted room (m.megolm.v1.aes-sha2), a second opale-bot process;
  nio bot encrypted    encrypted room, a second nio bot with encryption on (nio_bot.py STORE_DIR).
The user asks 20 warm-up questions then N measured ones (200) to each bot, one question at a
time, the bots taken in turn (the order rotating each round), so that a load on the machine
weighs the same on every series. The user is a matrix-nio client with encryption on (as Element
is), the same for every bot. For each question it measures, on its side:
  (a) echo: from the send until the user's own message comes back in the user's /sync;
  (b) reply: from the send until the bot's reply arrives in the user's /sync; in an encrypted
      room, until the user has decrypted it (a reply whose room key comes in a later /sync
      counts at that /sync). The user's encryption of the question is inside (a) and (b).
A reply crosses the server twice, so 2 x echo is the floor. Peak RSS is VmHWM of each bot: each
process served its own room only.
Usage: matrix_bench.py OPALE_BOT KB_DIR [N]"""
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from nio import MegolmEvent, RoomCreateResponse, RoomSendResponse, SyncResponse
from nio.exceptions import EncryptionError

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
import harness  # noqa: E402  (the e2e tier's Synapse, process control and nio users)

QUESTION = "Comment créer le tiers DDFIP ?"
ENCRYPTION = {"type": "m.room.encryption", "state_key": "",
              "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
# name: (account, encrypted room)
BOTS = {"opale-bot": (harness.BOT, False), "nio-bot": ("@niobot:localhost", False),
        "nio-bot same fiche": ("@niofiche:localhost", False),
        "opale-bot encrypted": ("@botcrypto:localhost", True),
        "nio-bot encrypted": ("@niocrypto:localhost", True)}


def percentile(values, p):
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def status_mib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def memory(pid):
    """Peak RSS, then the current RSS as own memory and shared libraries and files, in MiB."""
    return {"peak": status_mib(pid, "VmHWM"), "own": status_mib(pid, "RssAnon"),
            "files": status_mib(pid, "RssFile")}


class Run:
    """The measured questions of one bot: latencies in ms, what the user's /sync saw."""

    def __init__(self):
        self.echoes, self.replies, self.server_side = [], [], []
        self.encrypted = 0  # replies that came encrypted and were decrypted
        self.late_keys = 0  # replies undecryptable in their /sync, decrypted later


class User:
    """The asking user: a matrix-nio client with encryption on (harness.Human, no sync loop:
    the measurement syncs itself, then does the crypto upkeep nio's sync_forever would do)."""

    def __init__(self, human):
        self.human = human
        self.client = human.client
        self.since = self.client.next_batch
        self.undecrypted = []  # MegolmEvents still waiting for their room key
        self.last_reply = None  # the source of the last reply ask() saw

    async def sync(self):
        """One /sync; returns (the time it returned, the timeline events of each room), the
        events decrypted where a room key allowed, late room keys included."""
        while True:
            response = await self.client.sync(timeout=30000, since=self.since)
            if isinstance(response, SyncResponse):
                break
        now = time.monotonic()
        self.since = response.next_batch
        events = {room_id: list(room.timeline.events)
                  for room_id, room in response.rooms.join.items()}
        waiting, self.undecrypted = self.undecrypted, []
        for event in waiting:  # room keys that came in this /sync's to-device events
            try:
                decrypted = self.client.decrypt_event(event)
            except EncryptionError:
                self.undecrypted.append(event)
                continue
            decrypted.late_key = True
            events.setdefault(event.room_id, []).append(decrypted)
        for room_id, timeline in events.items():
            for event in timeline:
                if isinstance(event, MegolmEvent):
                    event.room_id = room_id
                    self.undecrypted.append(event)
        await self.human.crypto_upkeep()
        return now, {room_id: [e for e in timeline if not isinstance(e, MegolmEvent)]
                     for room_id, timeline in events.items()}

    async def room_with(self, bot_id, encrypted):
        created = await self.client.room_create(
            invite=[bot_id], initial_state=[ENCRYPTION] if encrypted else [])
        if not isinstance(created, RoomCreateResponse):
            raise RuntimeError(f"room_create: {created}")
        return created.room_id

    async def wait_joined(self, rooms, timeout=60):
        """rooms: {room_id: bot_id}; syncs until each bot has joined its room."""
        waiting = dict(rooms)
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            _, events = await self.sync()
            for room_id, bot_id in list(waiting.items()):
                if any(e.source.get("type") == "m.room.member" and
                       e.source.get("state_key") == bot_id and
                       e.source.get("content", {}).get("membership") == "join"
                       for e in events.get(room_id, [])):
                    del waiting[room_id]
        if waiting:
            raise TimeoutError(f"not joined: {sorted(waiting.values())}")

    async def ask(self, room_id, bot_id, number):
        """One question; returns (echo ms, reply ms, server-side ms, decrypted, late key)."""
        content = {"msgtype": "m.text", "body": f"{bot_id} {QUESTION}",
                   "m.mentions": {"user_ids": [bot_id]}}
        start = time.monotonic()
        sent = await self.client.room_send(room_id, "m.room.message", content,
                                           ignore_unverified_devices=True)
        if not isinstance(sent, RoomSendResponse):
            raise RuntimeError(f"question {number} to {bot_id} not sent: {sent}")
        event_id = sent.event_id
        echo = reply = asked_ts = answered_ts = None
        decrypted = late_key = False
        deadline = start + 60
        while echo is None or reply is None:
            now, events = await self.sync()
            for event in events.get(room_id, []):
                source = event.source
                relates = source.get("content", {}).get("m.relates_to", {})
                if source.get("event_id") == event_id and echo is None:
                    echo = now - start
                    asked_ts = source.get("origin_server_ts")
                if source.get("sender") == bot_id and reply is None and \
                        relates.get("m.in_reply_to", {}).get("event_id") == event_id:
                    reply = now - start
                    answered_ts = source.get("origin_server_ts")
                    self.last_reply = source
                    decrypted = getattr(event, "decrypted", False)
                    late_key = getattr(event, "late_key", False)
            if now > deadline:
                raise TimeoutError(f"no reply from {bot_id} to question {number}")
        return echo * 1000, reply * 1000, answered_ts - asked_ts, decrypted, late_key


async def measure(user, rooms, count, warmup):
    """rooms: {name: (room_id, bot_id)}; returns {name: Run}."""
    runs = {name: Run() for name in rooms}
    names = list(rooms)
    for i in range(warmup + count):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            room_id, bot_id = rooms[name]
            echo, reply, server_side, decrypted, late_key = await user.ask(room_id, bot_id, i)
            if i >= warmup:
                run = runs[name]
                run.echoes.append(echo)
                run.replies.append(reply)
                run.server_side.append(server_side)
                run.encrypted += decrypted
                run.late_keys += late_key
    return runs


async def start_nio_bot(procs, synapse, work, name, user_id, store=None, reply_file=None):
    log = work / f"{name}.log"
    argv = [sys.executable, str(HERE / "nio_bot.py"), synapse.url, user_id, "bench-password"]
    env = dict(os.environ, REPLY_CONTENT_FILE=str(reply_file)) if reply_file else None
    proc = procs.start(name, argv + ([str(store)] if store else []), log, work, env)
    for _ in range(300):
        if "ready" in log.read_text(errors="replace"):
            return proc
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the nio bot {name} did not start:\n" + log.read_text()[-2000:])


async def start_opale_bot(binary, kb, work, synapse, account):
    """An opale-bot on `account`, configured by the e2e harness (encryption on), in its own
    directory and process table (the harness names its process "bot")."""
    procs = harness.Procs(work)
    # The outgoing budget is lifted for the measurement: at Tchap's 1 request per second
    # the budget, not the bot, would set the pace of 200 back-to-back questions.
    bot = harness.Bot(binary, kb, work, procs, synapse, "bench-password",
                      harness.BotSettings(inviters=["@alice:localhost"], admins=[],
                                          per_second=100.0, burst=100))
    if account != harness.BOT:
        config = bot.config.read_text().replace(f'user_id: "{harness.BOT}"',
                                                f'user_id: "{account}"', 1)
        assert f'user_id: "{account}"' in config, "the harness's bot config changed"
        bot.config.write_text(config)
    if not await bot.wait_ready(bot.start()):
        raise RuntimeError(f"opale-bot {account} did not start:\n" + bot.log_text()[-2000:])
    return procs


async def setup_and_measure(binary, kb, count, warmup):
    work = Path(tempfile.mkdtemp(prefix="opalebot-bench."))
    fiche_file = work / "fiche.json"
    procs = harness.Procs(work)
    all_procs = [procs]
    user = None
    try:
        synapse = harness.Synapse(sys.executable, work, procs)
        synapse.write_configs((1000.0, 1000))
        synapse.generate_keys()
        synapse.start()
        synapse.register("alice", "bench-password")
        for account, _ in BOTS.values():
            synapse.register(account[1:].split(":")[0], "bench-password")
        pids = {}
        for name, (account, encrypted) in BOTS.items():
            if name.startswith("opale-bot"):
                bot_procs = await start_opale_bot(binary, kb, work / name.replace(" ", "-"),
                                                  synapse, account)
                all_procs.append(bot_procs)
                pids[name] = bot_procs.running["bot"].pid
            else:
                store = work / "nio" / name.replace(" ", "-") if encrypted else None
                fiche = fiche_file if name == "nio-bot same fiche" else None
                pids[name] = (await start_nio_bot(procs, synapse, work, name.replace(" ", "-"),
                                                  account, store, fiche)).pid
        user = User(await harness.Human.login(synapse.url, "alice", "bench-password",
                                              work / "nio" / "alice"))
        rooms = {name: (await user.room_with(account, encrypted), account)
                 for name, (account, encrypted) in BOTS.items()}
        await user.wait_joined({room_id: bot_id for room_id, bot_id in rooms.values()})
        # A first question to opale-bot: its reply's content becomes the reply of the nio bot
        # that answers with the same fiche.
        await user.ask(*rooms["opale-bot"], -1)
        fiche = {key: value for key, value in user.last_reply["content"].items()
                 if key not in ("m.relates_to", "m.mentions")}
        fiche_file.write_text(json.dumps(fiche, ensure_ascii=False), encoding="utf-8")
        runs = await measure(user, rooms, count, warmup)
        return runs, {name: memory(pid) for name, pid in pids.items()}
    finally:
        if user is not None:
            await user.client.close()
        for procs in reversed(all_procs):
            for name in list(procs.running):
                procs.stop(name)
        shutil.rmtree(work, ignore_errors=True)


def line(name, values):
    return (f"  {name:<30} p50 {percentile(values, 50):7.1f} ms   p95 "
            f"{percentile(values, 95):7.1f} ms   p99 {percentile(values, 99):7.1f} ms")


def slowest(run, warmup, n=3):
    worst = sorted(range(len(run.replies)), key=lambda j: run.replies[j], reverse=True)[:n]
    return ", ".join(f"question {warmup + j}: {run.replies[j]:.1f} ms" for j in sorted(worst))


def row(name, plain, encrypted, unit):
    return (f"  {name:<30} {plain:8.1f} {unit:<4} {encrypted:8.1f} {unit:<4} "
            f"{encrypted - plain:+8.1f} {unit}")


async def main():
    binary, kb = sys.argv[1:3]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    warmup = 20
    results, rss = await setup_and_measure(binary, kb, count, warmup)

    opale, nio = results["opale-bot"], results["nio-bot"]
    all_echoes = opale.echoes + nio.echoes
    print(f"Matrix reply latency: {count} questions after {warmup} warm-ups to each bot, one at a "
          f"time, the {len(BOTS)} bots in turn")
    print("Plaintext rooms:")
    print(line("(a) echo (user's own msg)", all_echoes))
    print(line("(b) opale-bot reply", opale.replies))
    print(line("(c) nio bot reply (fixed)", nio.replies))
    same = results["nio-bot same fiche"]
    print(line("(c2) nio bot, same fiche", same.replies))
    print("  server timestamps, reply minus question (origin_server_ts):")
    print(line("  opale-bot", opale.server_side))
    print(line("  nio bot", nio.server_side))
    print(line("  nio bot, same fiche", same.server_side))
    overhead = percentile(opale.replies, 50) - 2 * percentile(all_echoes, 50)
    print(f"  opale-bot overhead at p50, (b) - 2 x (a): {overhead:.1f} ms (target <= 10 ms)")
    opale_rss, nio_rss = rss["opale-bot"]["peak"], rss["nio-bot"]["peak"]
    print(f"  peak RSS: opale-bot {opale_rss:.1f} MiB, nio bot {nio_rss:.1f} MiB "
          f"(ratio {nio_rss / opale_rss:.2f}, target >= 3)")
    for name in ("opale-bot", "nio-bot"):
        print(f"    {name}: {rss[name]['own']:.1f} MiB of its own memory, "
              f"{rss[name]['files']:.1f} MiB of mapped libraries and files")
    checks = {
        "overhead p50 <= 10 ms": overhead <= 10,
        "(b) < (c) at p50": percentile(opale.replies, 50) < percentile(nio.replies, 50),
        "(b) < (c) at p99": percentile(opale.replies, 99) < percentile(nio.replies, 99),
        "RSS <= 1/3 of nio": opale_rss * 3 <= nio_rss,
    }
    for name, ok in checks.items():
        print(f"  target {name}: {'met' if ok else 'MISSED'}")
    for p in (50, 99):
        print(f"  with the same fiche to carry, (b) - (c2) at p{p}: "
              f"{percentile(opale.replies, p) - percentile(same.replies, p):+.1f} ms")

    crypt, nio_crypt = results["opale-bot encrypted"], results["nio-bot encrypted"]
    print("Encrypted rooms (m.megolm.v1.aes-sha2; a reply counts once the user decrypted it):")
    print(line("(a') echo (user's own msg)", crypt.echoes + nio_crypt.echoes))
    print(line("(b') opale-bot reply", crypt.replies))
    print(line("(c') nio bot reply (e2e on)", nio_crypt.replies))
    print("  server timestamps, reply minus question (origin_server_ts):")
    print(line("  opale-bot", crypt.server_side))
    print(line("  nio bot (e2e on)", nio_crypt.server_side))
    for name, run in (("opale-bot", crypt), ("nio bot", nio_crypt)):
        print(f"  {name}: {run.encrypted}/{count} replies came encrypted and were decrypted, "
              f"{run.late_keys} of them only once a later /sync brought the room key")
    crypt_rss, nio_crypt_rss = rss["opale-bot encrypted"], rss["nio-bot encrypted"]
    print(f"  peak RSS: opale-bot {crypt_rss['peak']:.1f} MiB ({crypt_rss['own']:.1f} own, "
          f"{crypt_rss['files']:.1f} libraries and files), nio bot with e2e "
          f"{nio_crypt_rss['peak']:.1f} MiB ({nio_crypt_rss['own']:.1f} own, "
          f"{nio_crypt_rss['files']:.1f} libraries and files)")

    plain_rss = rss["opale-bot"]
    print("opale-bot, plaintext room vs encrypted room (two processes, both with encryption on "
          "in their configuration, each in its own room):")
    print(f"  {'':<30} {'plaintext':>13} {'encrypted':>13} {'difference':>13}")
    for p in (50, 95, 99):
        print(row(f"reply p{p}", percentile(opale.replies, p), percentile(crypt.replies, p),
                  "ms"))
    print(row("echo p50", percentile(opale.echoes, 50), percentile(crypt.echoes, 50), "ms"))
    print(row("server-side reply p50", percentile(opale.server_side, 50),
              percentile(crypt.server_side, 50), "ms"))
    print(row("peak RSS", plain_rss["peak"], crypt_rss["peak"], "MiB"))
    print(row("  own memory", plain_rss["own"], crypt_rss["own"], "MiB"))
    print(row("  libraries and files", plain_rss["files"], crypt_rss["files"], "MiB"))
    print(f"  slowest encrypted replies (questions counted from 0, warm-ups included): "
          f"{slowest(crypt, warmup)}")
    added_ms = percentile(crypt.replies, 50) - percentile(opale.replies, 50)
    added_mib = crypt_rss["peak"] - plain_rss["peak"]
    print(f"  chiffrement : {added_ms:+.1f} ms p50, {added_mib:+.1f} Mio RSS")


if __name__ == "__main__":
    asyncio.run(main())
