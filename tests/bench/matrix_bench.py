"""Reply latency of opale-bot against a minimal matrix-nio bot on the same local Synapse.

For each bot: a room with the user and the bot, 20 warm-up questions, then 200 measured ones,
one at a time. For each question it measures, on the user's side (matrix-nio):
  (a) echo: from the send until the user's own message comes back in the user's /sync;
  (b) reply: from the send until the bot's reply arrives in the user's /sync.
A reply crosses the server twice, so 2 × echo is the floor. Peak RSS is VmHWM of each bot.
Usage: matrix_bench.py HOMESERVER USER PASSWORD OPALE_BOT_ID OPALE_PID NIO_BOT_ID NIO_PID [N]"""
import asyncio
import statistics
import sys
import time

from nio import AsyncClient, SyncResponse

QUESTION = "Comment créer le tiers DDFIP ?"


def percentile(values, p):
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


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
    echoes, replies = [], []
    for i in range(warmup + count):
        content = {"msgtype": "m.text", "body": f"{bot_id} {QUESTION}",
                   "m.mentions": {"user_ids": [bot_id]}}
        start = time.monotonic()
        sent = await client.room_send(room_id, "m.room.message", content)
        event_id = sent.event_id
        echo = reply = None
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
                if source.get("sender") == bot_id and \
                        relates.get("m.in_reply_to", {}).get("event_id") == event_id:
                    reply = now - start
            if now > deadline:
                raise TimeoutError(f"no reply to question {i}")
        if i >= warmup:
            echoes.append(echo * 1000)
            replies.append(reply * 1000)
    return echoes, replies, since


def line(name, values):
    return (f"  {name:<28} p50 {percentile(values, 50):7.1f} ms   p95 {percentile(values, 95):7.1f} ms"
            f"   p99 {percentile(values, 99):7.1f} ms")


async def main():
    homeserver, user, password, opale_id, opale_pid, nio_id, nio_pid = sys.argv[1:8]
    count = int(sys.argv[8]) if len(sys.argv) > 8 else 200
    warmup = 20
    client = AsyncClient(homeserver, user)
    await client.login(password)
    since = (await client.sync(timeout=0)).next_batch
    results = {}
    for name, bot_id in (("opale-bot", opale_id), ("nio-bot", nio_id)):
        echoes, replies, since = await measure(client, since, bot_id, count, warmup)
        results[name] = (echoes, replies)
    await client.close()

    opale_echo, opale_reply = results["opale-bot"]
    nio_echo, nio_reply = results["nio-bot"]
    all_echoes = opale_echo + nio_echo
    print(f"Matrix reply latency: {count} questions after {warmup} warm-ups, one at a time")
    print(line("(a) echo (user's own msg)", all_echoes))
    print(line("(b) opale-bot reply", opale_reply))
    print(line("(c) nio bot reply (fixed)", nio_reply))
    overhead = percentile(opale_reply, 50) - 2 * percentile(all_echoes, 50)
    print(f"  opale-bot overhead at p50, (b) - 2 x (a): {overhead:.1f} ms (target <= 10 ms)")
    opale_rss, nio_rss = peak_rss_mib(int(opale_pid)), peak_rss_mib(int(nio_pid))
    print(f"  peak RSS: opale-bot {opale_rss:.1f} MiB, nio bot {nio_rss:.1f} MiB "
          f"(ratio {nio_rss / opale_rss:.1f}, target >= 3)")
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
