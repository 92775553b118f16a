"""Reply latency of opale-bot against a minimal matrix-nio bot on the same local Synapse.

Run by tests/bench/matrix_bench.sh, which makes the virtualenv. It starts a Synapse (the e2e
harness, tests/e2e/harness.py), opale-bot and tests/bench/nio_bot.py, then for each bot: a room
with the user and the bot, 20 warm-up questions, then N measured ones (200), one at a time.
For each question it measures, on the user's side (matrix-nio):
  (a) echo: from the send until the user's own message comes back in the user's /sync;
  (b) reply: from the send until the bot's reply arrives in the user's /sync.
A reply crosses the server twice, so 2 x echo is the floor. Peak RSS is VmHWM of each bot.
Usage: matrix_bench.py OPALE_BOT KB_DIR [N]"""
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from nio import AsyncClient, SyncResponse

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
import harness  # noqa: E402  (the e2e tier's Synapse and process control)

QUESTION = "Comment créer le tiers DDFIP ?"


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


def peak_rss_mib(pid):
    return status_mib(pid, "VmHWM")


def rss_split(pid):
    """Current RSS as (own memory, shared libraries and files), in MiB."""
    return status_mib(pid, "RssAnon"), status_mib(pid, "RssFile")


async def wait_for(client, since, room_id, predicate, deadline):
    """Syncs until an event of room_id satisfies predicate; returns (event, since)."""
    while time.monotonic() < deadline:
        sync = await client.sync(timeout=30000, since=since)
        if not isinstance(sync, SyncResponse):
            continue
        since = sync.next_batch
        room = sync.rooms.join.get(room_id)
        for event in (room.timeline.events if room else []):
            if predicate(event.source):
                return event.source, since
    raise TimeoutError("no matching event")


async def measure(client, since, bot_id, count, warmup):
    created = await client.room_create(invite=[bot_id])
    room_id = created.room_id
    joined = lambda e: e.get("type") == "m.room.member" and e.get("state_key") == bot_id \
        and e.get("content", {}).get("membership") == "join"
    _, since = await wait_for(client, since, room_id, joined, time.monotonic() + 60)
    echoes, replies, server_side = [], [], []
    for i in range(warmup + count):
        content = {"msgtype": "m.text", "body": f"{bot_id} {QUESTION}",
                   "m.mentions": {"user_ids": [bot_id]}}
        start = time.monotonic()
        sent = await client.room_send(room_id, "m.room.message", content)
        event_id = sent.event_id
        echo = reply = asked_ts = answered_ts = None
        deadline = start + 60
        while echo is None or reply is None:
            sync = await client.sync(timeout=30000, since=since)
            if not isinstance(sync, SyncResponse):
                continue
            since = sync.next_batch
            now = time.monotonic()
            room = sync.rooms.join.get(room_id)
            for event in (room.timeline.events if room else []):
                source = event.source
                if source.get("event_id") == event_id and echo is None:
                    echo = now - start
                relates = source.get("content", {}).get("m.relates_to", {})
                if source.get("event_id") == event_id:
                    asked_ts = source.get("origin_server_ts")
                if source.get("sender") == bot_id and \
                        relates.get("m.in_reply_to", {}).get("event_id") == event_id:
                    reply = now - start
                    answered_ts = source.get("origin_server_ts")
            if now > deadline:
                raise TimeoutError(f"no reply to question {i}")
        if i >= warmup:
            echoes.append(echo * 1000)
            replies.append(reply * 1000)
            server_side.append(answered_ts - asked_ts)
    return echoes, replies, server_side, since


def line(name, values):
    return (f"  {name:<28} p50 {percentile(values, 50):7.1f} ms   p95 {percentile(values, 95):7.1f} ms"
            f"   p99 {percentile(values, 99):7.1f} ms")


async def setup_and_measure(binary, kb, count, warmup):
    work = Path(tempfile.mkdtemp(prefix="opalebot-bench."))
    procs = harness.Procs(work)
    try:
        synapse = harness.Synapse(sys.executable, work, procs)
        synapse.write_configs((1000.0, 1000))
        synapse.generate_keys()
        synapse.start()
        for user in ("alice", "bot", "niobot"):
            synapse.register(user, "bench-password")
        # The outgoing budget is lifted for the measurement: at Tchap's 1 request per second
        # the budget, not the bot, would set the pace of 200 back-to-back questions.
        bot = harness.Bot(binary, kb, work, procs, synapse, "bench-password",
                          harness.BotSettings(inviters=["@alice:localhost"], admins=[],
                                              per_second=100.0, burst=100))
        if not await bot.wait_ready(bot.start()):
            raise RuntimeError("opale-bot did not start:\n" + bot.log_text()[-2000:])
        nio_log = work / "nio_bot.log"
        nio = procs.start("niobot", [sys.executable, str(HERE / "nio_bot.py"), synapse.url,
                                     "@niobot:localhost", "bench-password"], nio_log, work)
        for _ in range(300):
            if "ready" in nio_log.read_text(errors="replace"):
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("the nio bot did not start:\n" + nio_log.read_text()[-2000:])

        client = AsyncClient(synapse.url, "@alice:localhost")
        await client.login("bench-password")
        since = (await client.sync(timeout=0)).next_batch
        results = {}
        for name, bot_id in (("opale-bot", harness.BOT), ("nio-bot", "@niobot:localhost")):
            echoes, replies, server_side, since = await measure(client, since, bot_id, count,
                                                                 warmup)
            results[name] = (echoes, replies, server_side)
        await client.close()
        rss = {"opale-bot": peak_rss_mib(procs.running["bot"].pid),
               "nio-bot": peak_rss_mib(nio.pid),
               "opale-bot split": rss_split(procs.running["bot"].pid),
               "nio-bot split": rss_split(nio.pid)}
        return results, rss
    finally:
        for name in list(procs.running):
            procs.stop(name)
        shutil.rmtree(work, ignore_errors=True)


async def main():
    binary, kb = sys.argv[1:3]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    warmup = 20
    results, rss = await setup_and_measure(binary, kb, count, warmup)

    opale_echo, opale_reply, opale_server = results["opale-bot"]
    nio_echo, nio_reply, nio_server = results["nio-bot"]
    all_echoes = opale_echo + nio_echo
    print(f"Matrix reply latency: {count} questions after {warmup} warm-ups, one at a time")
    print(line("(a) echo (user's own msg)", all_echoes))
    print(line("(b) opale-bot reply", opale_reply))
    print(line("(c) nio bot reply (fixed)", nio_reply))
    print("  server timestamps, reply minus question (origin_server_ts):")
    print(line("  opale-bot", opale_server))
    print(line("  nio bot", nio_server))
    overhead = percentile(opale_reply, 50) - 2 * percentile(all_echoes, 50)
    print(f"  opale-bot overhead at p50, (b) - 2 x (a): {overhead:.1f} ms (target <= 10 ms)")
    opale_rss, nio_rss = rss["opale-bot"], rss["nio-bot"]
    print(f"  peak RSS: opale-bot {opale_rss:.1f} MiB, nio bot {nio_rss:.1f} MiB "
          f"(ratio {nio_rss / opale_rss:.2f}, target >= 3)")
    for name in ("opale-bot", "nio-bot"):
        own, files = rss[name + " split"]
        print(f"    {name}: {own:.1f} MiB of its own memory, {files:.1f} MiB of mapped "
              f"libraries and files")
    checks = {
        "overhead p50 <= 10 ms": overhead <= 10,
        "(b) < (c) at p50": percentile(opale_reply, 50) < percentile(nio_reply, 50),
        "(b) < (c) at p99": percentile(opale_reply, 99) < percentile(nio_reply, 99),
        "RSS <= 1/3 of nio": opale_rss * 3 <= nio_rss,
    }
    for name, ok in checks.items():
        print(f"  target {name}: {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    asyncio.run(main())
