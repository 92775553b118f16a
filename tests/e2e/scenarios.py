"""End-to-end scenarios: a real Synapse, opale-bot, and matrix-nio clients as the humans; in
scenario t, a Tchap user on matrix-js-sdk with its Rust crypto (Element's engine, js/), whose
own view of each reply (decryption, shield, push rules, withheld keys) is checked.

Run by tests/e2e/run.sh inside the e2e virtualenv (run.sh also sets OPALEBOT_E2E_NODE and
OPALEBOT_E2E_JS_MODULES for the js-sdk user):
    python scenarios.py --work DIR --bot OPALE_BOT --kb KB_DIR [--no-bot] [--only a,b,...]
Prints PASS/FAIL per named check and appends them to DIR/results (run.sh prints the totals).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from nio import MegolmEvent, RoomCreateResponse, RoomPreset

from harness import (BOT, Bot, BotSettings, Human, JsUser, Procs, Results, Synapse, free_port,
                     in_reply_to, log, relates, tail, wait_for)

ALICE, BOB, MALLORY, ADMIN = (f"@{u}:localhost" for u in ("alice", "bob", "mallory", "admin"))
BOT_DISPLAY_NAME = "Opale-Bot [Ac-Lille]"  # Tchap names end with a suffix
# Scenario t's user, on matrix-js-sdk (Element's engine): a Tchap-like account.
CLAIRE_LOCALPART = "claire.martin-ac-lille.fr"
CLAIRE = f"@{CLAIRE_LOCALPART}:localhost"
CLAIRE_DISPLAY_NAME = "Claire Martin [Ac-Lille]"
DORA = "@dora:localhost"  # scenario y's Tchap user on Element's engine
# What js-sdk says of an event whose key the sender withheld because this device is not verified
# (DecryptionFailureCode, matrix-js-sdk 37).
WITHHELD_UNVERIFIED = "MEGOLM_KEY_WITHHELD_FOR_UNVERIFIED_DEVICE"
# Questions with known answers: the dev set, then the paraphrase fixture (copies in the repository).
_HERE = Path(__file__).resolve().parent
QUESTION_SETS = [_HERE.parent / "fixtures" / "kb-dev.tsv",
                 _HERE.parent / "fixtures" / "kb-paraphrases.tsv"]

# Synapse's rc_message for the rate-limit scenario (g): well below the bot's own budget
# (BotSettings: 20/s), so Synapse answers 429 and the bot has to obey.
# 2/s keeps 429s certain even when alice's burst is slowed down by a busy machine; 100 replies
# then take about 50 s.
RC_LIMITED = (2, 3)

# Scenario u's iTop (tests/itop/run.sh's test double), as its own process.
ITOP_DOUBLE = _HERE.parent / "itop" / "itop_double.py"


def http_get(url: str) -> tuple[int, str, str]:
    """Status, Content-Type and body of a GET, error statuses included; never through a proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode(errors="replace")


def load_itop_double():
    """The iTop double's module, for the accounts it knows (never printed)."""
    spec = importlib.util.spec_from_file_location("itop_double", ITOP_DOUBLE)
    module = importlib.util.module_from_spec(spec)
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in tests/itop
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes
    return module


def samples(text: str) -> dict[str, float]:
    """Each sample of a Prometheus text exposition, `name{labels}` → value."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def ranges(positions: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3, 7"."""
    out: list[tuple[int, int]] = []
    for p in sorted(positions):
        if out and out[-1][1] == p - 1:
            out[-1] = (out[-1][0], p)
        else:
            out.append((p, p))
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in out)


# Scenario p: a question in a colleague's words that the fixture PDF's steps answer (pages 1
# and 2 of "Créer un tiers fournisseur") and no shipped fiche does, and lines of those steps.
PASSAGE_QUESTION = ("Pour un fournisseur, comment saisir la raison sociale et l'adresse de "
                    "facturation ?")
PASSAGE_STEPS = ("Saisir le SIRET et la raison sociale", "faire valider par l")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Scenario w: the bot's sync timeout, so that the digest (posted between two syncs) is not
# waited for long.
DIGEST_SYNC_SECONDS = 3


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk (the first one), None if it is no PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def short(ev: dict | None, limit: int = 900) -> str:
    text = json.dumps(ev, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


class Run:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.work = Path(args.work)
        self.procs = Procs(self.work)
        self.synapse = Synapse(sys.executable, self.work, self.procs)
        self.bot: Bot | None = None
        self._printed_bot_log = -1
        self.results = Results(self.work / "results", self.failure_context)
        self.asked: set[str] = set()  # every event id we expect the bot may answer
        self.scheduled: set[str] = set()  # the bot's messages that answer nothing (the digest)
        self.group = ""  # alice's group room (alice, bob, bot)
        self.alice: Human
        self.bob: Human
        self.mallory: Human
        self.admin_token = ""
        self.titles: dict[str, str] = {}
        self.js_users: list[JsUser] = []  # scenario t's devices, closed at the end

    # -- failure output

    def failure_context(self) -> str:
        if not self.bot or not self.bot.log.exists():
            return ""
        code = self.bot.exit_code()
        dead = "" if code is None else f"  the bot process has exited (status {code})\n"
        size = self.bot.log_size()
        if size == self._printed_bot_log:
            return dead + "  (bot log: no new lines since the last failure)"
        self._printed_bot_log = size
        lines = "\n".join("    | " + line for line in tail(self.bot.log, 30).splitlines())
        return f"{dead}  bot log tail ({self.bot.log}):\n{lines}"

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        return self.results.check(name, ok, detail)

    # -- helpers

    async def ask(self, who: Human, room: str, body: str, mention: bool = False,
                  relates_to: dict | None = None) -> str:
        eid = await who.send(room, body, mention=mention, relates_to=relates_to)
        self.asked.add(eid)
        return eid

    async def wait_answered(self, ids: list[str], timeout: float, stall: float = 40) -> bool:
        """Until each question has a reply, the timeout, the bot's exit, or `stall` seconds
        without any new reply."""
        progress = {"n": -1, "at": time.monotonic()}

        def done() -> bool:
            n = sum(1 for i in ids if self.alice.replies_to(i))
            if n != progress["n"]:
                progress.update(n=n, at=time.monotonic())
            return (n == len(ids) or (self.bot is not None and not self.bot.alive())
                    or time.monotonic() - progress["at"] > stall)

        await wait_for(done, timeout)
        if self.bot is not None and not self.bot.alive():
            await asyncio.sleep(2)  # replies already sent may still be on their way
        return all(self.alice.replies_to(i) for i in ids)

    async def wait_reply(self, qid: str, timeout: float = 30) -> list[dict]:
        await self.wait_answered([qid], timeout)
        return self.alice.replies_to(qid)

    def check_once(self, prefix: str, ids: list[str], labels: dict[str, str] | None = None) -> None:
        """`prefix.all-answered` and `prefix.no-duplicate` for the questions `ids`."""
        counts = {i: len(self.alice.replies_to(i)) for i in ids}
        missing = [i for i, n in counts.items() if n == 0]
        dups = [i for i, n in counts.items() if n > 1]
        name = (lambda i: f"{i} ({labels[i]!r})") if labels else (lambda i: i)
        self.check(f"{prefix}.all-answered", not missing,
                   f"{len(missing)}/{len(ids)} questions without a reply, at positions "
                   f"{ranges([ids.index(i) + 1 for i in missing])} (in sending order, 1-based): " +
                   ", ".join(name(i) for i in missing[:6]))
        self.check(f"{prefix}.no-duplicate", not dups,
                   f"{len(dups)} questions answered more than once: " +
                   "; ".join(f"{name(i)} ×{counts[i]}: " +
                             ", ".join(ev['event_id'] for ev in self.alice.replies_to(i))
                             for i in dups[:5]))

    def check_reply_shape(self, name: str, reply: dict, question: str, asker: str,
                          root: str) -> None:
        c = reply.get("content", {})
        rel = relates(reply)
        problems = []
        # m.text: the asker's push rules notify it (issue 14); the marker keeps bots from looping
        if c.get("msgtype") != "m.text":
            problems.append(f"msgtype {c.get('msgtype')!r} (want m.text)")
        if c.get("fr.gouv.opale-bot.automated") is not True:
            problems.append("no fr.gouv.opale-bot.automated marker")
        if not isinstance(c.get("body"), str) or not c.get("body"):
            problems.append("no body")
        if c.get("format") != "org.matrix.custom.html" or not isinstance(c.get("formatted_body"), str):
            problems.append("no org.matrix.custom.html formatted_body")
        mentions = c.get("m.mentions", {})
        if not isinstance(mentions, dict) or mentions.get("user_ids") != [asker]:
            problems.append(f"m.mentions {mentions!r} (want user_ids [{asker}])")
        if rel.get("rel_type") != "m.thread":
            problems.append(f"rel_type {rel.get('rel_type')!r}")
        if rel.get("event_id") != root:
            problems.append(f"thread root {rel.get('event_id')!r} (want {root})")
        if rel.get("is_falling_back") is not True:
            problems.append(f"is_falling_back {rel.get('is_falling_back')!r}")
        if in_reply_to(reply) != question:
            problems.append(f"m.in_reply_to {in_reply_to(reply)!r} (want {question})")
        self.check(name, not problems, "; ".join(problems) + "\n  reply: " + short(reply))

    async def wait_joined(self, who: Human, room: str, timeout: float = 30) -> str | None:
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = await who.membership_of(room, BOT)
            if state == "join":
                return state
            await asyncio.sleep(0.3)
        return state

    def expected_text(self, question: str) -> str:
        """What a correct reply body contains, from `opale-bot ask --json` and `kb list`."""
        out = subprocess.run([self.args.bot, "ask", "--kb", self.args.kb, "--json", question],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        answer = json.loads(out)["answer"]
        return self.titles.get(answer, answer) if answer else "ticket"

    # -- set-up

    async def setup(self) -> bool:
        syn = self.synapse
        try:
            syn.write_configs(RC_LIMITED)
            await asyncio.to_thread(syn.generate_keys)
            took = await asyncio.to_thread(syn.start, "normal", 90)
            log(f"Synapse {syn.url} healthy after {took:.1f} s")
            self.check("synapse.start", True)
        except Exception as e:  # noqa: BLE001
            self.check("synapse.start", False, str(e))
            return False
        try:
            self.passwords = {u: secrets.token_hex(8) for u in ("bot", "alice", "bob", "mallory", "admin")}
            for user, pw in self.passwords.items():
                r = await asyncio.to_thread(syn.register, user, pw, user == "admin")
                if user == "admin":
                    self.admin_token = r["access_token"]
            # Only the bot stays subject to rc_message (scenario g).
            for user in (ALICE, BOB, MALLORY, ADMIN):
                await asyncio.to_thread(
                    syn.http, "POST", f"/_synapse/admin/v1/users/{user}/override_ratelimit",
                    {"messages_per_second": 0, "burst_count": 0}, self.admin_token)
            # A Tchap-like display name, suffix included: pills put it whole in `body`.
            await asyncio.to_thread(
                syn.http, "PUT", f"/_synapse/admin/v2/users/{BOT}",
                {"displayname": BOT_DISPLAY_NAME}, self.admin_token)
            self.check("synapse.register-users", True)
        except Exception as e:  # noqa: BLE001
            self.check("synapse.register-users", False, str(e))
            return False
        try:
            nio_stores = self.work / "nio"
            self.alice = await Human.login(syn.url, "alice", self.passwords["alice"],
                                           nio_stores / "alice")
            self.bob = await Human.login(syn.url, "bob", self.passwords["bob"], nio_stores / "bob")
            self.mallory = await Human.login(syn.url, "mallory", self.passwords["mallory"],
                                             nio_stores / "mallory")
            for h in (self.alice, self.bob, self.mallory):
                h.start_sync()
        except Exception as e:  # noqa: BLE001
            self.check("nio.login", False, str(e))
            return False
        return await self.harness_smoke()

    async def harness_smoke(self) -> bool:
        """The harness alone: alice creates a room, invites bob, they exchange messages."""
        r = await self.alice.client.room_create(name="e2e smoke", invite=[BOB])
        if not isinstance(r, RoomCreateResponse):
            return self.check("harness.alice-bob-exchange", False, f"room_create: {r}")
        room = r.room_id
        await wait_for(lambda: room in self.bob.invites, 15)
        j = await self.bob.client.join(room)
        if getattr(j, "room_id", None) != room:
            return self.check("harness.alice-bob-exchange", False, f"bob join: {j}")
        hello = await self.alice.send(room, "bonjour bob")
        back = await self.bob.send(room, "bonjour alice",
                                   relates_to={"m.in_reply_to": {"event_id": hello}})
        ok = await wait_for(lambda: any(ev.get("event_id") == hello for _, ev in self.bob.events) and
                            any(ev.get("event_id") == back for _, ev in self.alice.events), 20)
        return self.check("harness.alice-bob-exchange", ok, "messages not seen by the other side")

    async def start_bot(self, label: str) -> bool:
        assert self.bot
        offset = self.bot.start()
        ok = await self.bot.wait_ready(offset, 60)
        return self.check(f"{label}.bot-ready", ok,
                          "no 'ready' log line within 60 s" +
                          ("" if self.bot.alive() else " (the bot exited)"))

    # -- scenarios

    async def scenario_a(self) -> None:
        """Group room: invite, a mentioned question answered once in its thread, a free-text
        question ignored, a follow-up in the thread answered, the localpart as an address."""
        r = await self.alice.client.room_create(name="e2e group", invite=[BOT, BOB])
        assert isinstance(r, RoomCreateResponse), r
        self.group = room = r.room_id
        await wait_for(lambda: room in self.bob.invites, 15)
        await self.bob.client.join(room)
        state = await self.wait_joined(self.alice, room)
        if not self.check("a.bot-joins-on-alice-invite", state == "join", f"bot membership {state!r}"):
            return
        q_free = await self.ask(self.alice, room, "Comment créer le tiers DDFIP ?")
        t_free = time.monotonic()
        q = await self.ask(self.alice, room, "@bot Comment créer le tiers DDFIP ?", mention=True)
        await self.wait_reply(q)
        await asyncio.sleep(max(0.0, 6 - (time.monotonic() - t_free)))
        replies = self.alice.replies_to(q)
        if not self.check("a.mention-answered-once", len(replies) == 1,
                          f"{len(replies)} replies to {q}: " + "; ".join(short(x) for x in replies)):
            return
        reply = replies[0]
        self.check_reply_shape("a.reply-relations-and-mentions", reply, q, ALICE, q)
        # Synapse's own push rules count the answer for alice (unread_notifications, highlight):
        # she is told it came, even after switching to another task.
        await wait_for(lambda: self.alice.highlights.get(room, 0) > 0, 10)
        self.check("a.asker-notified", self.alice.highlights.get(room, 0) > 0,
                   f"alice's unread highlight count in the salon: "
                   f"{self.alice.highlights.get(room)!r}")
        body = reply["content"].get("body", "")
        want = self.expected_text("Comment créer le tiers DDFIP ?")
        self.check("a.right-entry", "DDFIP" in body and want in body,
                   f"body lacks 'DDFIP' / {want!r}: {body[:300]!r}")
        self.check("a.no-mention-ignored", not self.alice.replies_to(q_free),
                   "free-text question without mention was answered: " +
                   short(self.alice.replies_to(q_free)[:1]))
        # A reply to the bot's answer, inside its thread, without mention: answered in the thread.
        q2 = await self.ask(self.alice, room, "Et pour réactiver un tiers ?", relates_to={
            "rel_type": "m.thread", "event_id": q, "is_falling_back": False,
            "m.in_reply_to": {"event_id": reply["event_id"]}})
        await self.wait_reply(q2)
        r2 = self.alice.replies_to(q2)
        if self.check("a.thread-reply-to-bot-answered", len(r2) == 1, f"{len(r2)} replies"):
            self.check_reply_shape("a.thread-reply-stays-in-thread", r2[0], q2, ALICE, q)
        # The localpart at the start of the body addresses the bot (no m.mentions).
        q3 = await self.ask(self.alice, room, "bot: que veut dire EJ ?")
        await self.wait_reply(q3)
        r3 = self.alice.replies_to(q3)
        self.check("a.localpart-prefix-answered", len(r3) == 1 and
                   "Engagement juridique" in r3[0]["content"].get("body", ""),
                   f"{len(r3)} replies: " + short(r3[:1]))
        # Tchap pills: the display name with its suffix, at the start and in mid-sentence, as a
        # pill (its link in formatted_body) and typed by hand (body only).
        pill = f'<a href="https://matrix.to/#/{BOT}">{BOT_DISPLAY_NAME}</a>'
        for label, before, after, want in (
                ("start", "", ": !aide", "Commandes"),
                ("mid-sentence", "Bonjour ", ", que veut dire EJ ?", "Engagement juridique")):
            q_pill = await self.ask_html(self.alice, room, before + BOT_DISPLAY_NAME + after,
                                         before + pill + after)
            q_typed = await self.ask(self.alice, room, before + BOT_DISPLAY_NAME + after)
            await self.wait_answered([q_pill, q_typed], 30)
            for kind, qid in (("pill", q_pill), ("typed", q_typed)):
                rp = self.alice.replies_to(qid)
                self.check(f"a.{kind}-with-suffix-{label}-answered", len(rp) == 1 and
                           want in rp[0]["content"].get("body", ""),
                           f"{len(rp)} replies: " + short(rp[:1]))
        self.first_reply = reply

    async def ask_html(self, who: Human, room: str, body: str, html: str) -> str:
        """A message as Element and Tchap send a mention: a pill in `formatted_body`."""
        eid = await who.send(room, body, mention=True, extra={
            "format": "org.matrix.custom.html", "formatted_body": html})
        self.asked.add(eid)
        return eid

    async def scenario_b(self) -> None:
        """Direct chat: `!aide` and a question without mention are both answered."""
        r = await self.alice.client.room_create(is_direct=True, invite=[BOT],
                                                preset=RoomPreset.trusted_private_chat)
        assert isinstance(r, RoomCreateResponse), r
        dm = r.room_id
        state = await self.wait_joined(self.alice, dm)
        if not self.check("b.bot-joins-direct-chat", state == "join", f"bot membership {state!r}"):
            return
        q1 = await self.ask(self.alice, dm, "!aide")
        q2 = await self.ask(self.alice, dm, "Comment créer le tiers DDFIP ?")
        await self.wait_answered([q1, q2], 30)
        await asyncio.sleep(2)
        r1, r2 = self.alice.replies_to(q1), self.alice.replies_to(q2)
        self.check("b.dm-aide-answered", len(r1) == 1 and
                   "Commandes" in r1[0]["content"].get("body", ""),
                   f"{len(r1)} replies: " + short(r1[:1]))
        self.check("b.dm-question-without-mention-answered", len(r2) == 1 and
                   "DDFIP" in r2[0]["content"].get("body", ""), f"{len(r2)} replies: " + short(r2[:1]))

    async def scenario_c_invite(self) -> tuple[str, float]:
        r = await self.mallory.client.room_create(name="e2e mallory", invite=[BOT])
        assert isinstance(r, RoomCreateResponse), r
        return r.room_id, time.monotonic()

    async def scenario_c_check(self, room: str, since: float) -> None:
        """mallory's invite is never accepted (checked at least 8 s later)."""
        await asyncio.sleep(max(0.0, 8 - (time.monotonic() - since)))
        state = await self.mallory.membership_of(room, BOT)
        self.check("c.stranger-invite-not-joined", state == "invite", f"bot membership {state!r}")

    async def scenario_d(self) -> None:
        """HTML and script in user text come back escaped."""
        room = self.group
        texts = [("@bot <script>alert(1)</script> !sigle <b>X</b>", True),
                 ("!sigle <script>", False),
                 ('@bot <img src=x onerror="alert(1)"> Comment créer le tiers DDFIP ?', True)]
        ids = [await self.ask(self.alice, room, t, mention=m) for t, m in texts]
        await self.wait_answered(ids, 30)
        await asyncio.sleep(1)
        for n, (qid, (text, _)) in enumerate(zip(ids, texts), 1):
            rs = self.alice.replies_to(qid)
            if not self.check(f"d.html-{n}-answered-once", len(rs) == 1, f"{len(rs)} replies to {text!r}"):
                continue
            c = rs[0]["content"]
            html, body = c.get("formatted_body", ""), c.get("body", "")
            low = html.lower()
            problems = []
            if "<script" in low:
                problems.append("raw <script in formatted_body")
            if "<img" in low:
                problems.append("raw <img in formatted_body")
            if "<script>" in body and "&lt;script&gt;" not in html:
                problems.append("body echoes <script> but formatted_body has no &lt;script&gt;")
            self.check(f"d.html-{n}-escaped", not problems,
                       "; ".join(problems) + f"\n  question: {text!r}\n  reply: " + short(rs[0]))

    async def scenario_h(self) -> None:
        """`!kb recharger`: refused to bob (not admin), accepted from alice (admin)."""
        qb = await self.ask(self.bob, self.group, "!kb recharger")
        await self.wait_reply(qb)
        rb = self.alice.replies_to(qb)
        self.check("h.non-admin-refused", len(rb) == 1 and "réservée" in rb[0]["content"].get("body", "")
                   and rb[0]["content"].get("m.mentions", {}).get("user_ids") == [BOB],
                   f"{len(rb)} replies: " + short(rb[:1]))
        qa = await self.ask(self.alice, self.group, "!kb recharger")
        await self.wait_reply(qa)
        ra = self.alice.replies_to(qa)
        self.check("h.admin-accepted", len(ra) == 1 and "Base rechargée" in ra[0]["content"].get("body", ""),
                   f"{len(ra)} replies: " + short(ra[:1]))

    async def scenario_i(self) -> None:
        """Reactions on a bot reply: no reply to them; `!kb stats` shows them."""
        target = getattr(self, "first_reply", None)
        if not target:
            self.check("i.reactions", False, "no bot reply from scenario a to react to")
            return
        before = len(self.alice.from_bot(self.group))
        up = await self.alice.react(self.group, target["event_id"], "👍")
        down = await self.bob.react(self.group, target["event_id"], "👎")
        await asyncio.sleep(4)
        new = self.alice.from_bot(self.group)[before:]
        self.check("i.reactions-get-no-reply", not new,
                   f"bot sent {len(new)} message(s) after reactions {up}, {down}: " + short(new[:1]))
        q = await self.ask(self.alice, self.group, "!kb stats")
        await self.wait_reply(q)
        rs = self.alice.replies_to(q)
        body = rs[0]["content"].get("body", "") if rs else ""
        self.check("i.kb-stats-answered", len(rs) == 1 and "Vouliez-vous dire" not in body
                   and "inconnue" not in body, f"{len(rs)} replies: " + short(rs[:1]))
        # The entry answered in scenario a got one 👍 (alice) and one 👎 (bob).
        line = next((x for x in body.splitlines() if "tiers-ddfip" in x), "")
        self.check("i.kb-stats-shows-feedback", "👍 1" in line and "👎 1" in line,
                   f"want '👍 1' and '👎 1' on the tiers-ddfip line of: {body[:600]!r}")
        html = rs[0]["content"].get("formatted_body", "").lower() if rs else ""
        self.check("i.kb-stats-escaped", "<script" not in html and "<img" not in html,
                   "raw <script/<img (from scenario d's questions) in: " + short(rs[:1], 1500))

    async def scenario_j(self) -> None:
        """EPLE files from the salon: a reply to a CSV and a CSV with a caption (issue 5)."""
        fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "eple"
        referential = await self.alice.send_file(self.group, fixtures / "vague6_etablissements.csv")
        qb = await self.ask(self.bob, self.group, "!import etablissements",
                            relates_to={"m.in_reply_to": {"event_id": referential}})
        qa = await self.ask(self.alice, self.group, "!import etablissements",
                            relates_to={"m.in_reply_to": {"event_id": referential}})
        await self.wait_answered([qb, qa], 60)
        rb, ra = self.alice.replies_to(qb), self.alice.replies_to(qa)
        self.check("j.import-refused-to-non-admin",
                   len(rb) == 1 and "réservée" in rb[0]["content"].get("body", ""), short(rb[:1]))
        self.check("j.import-reply-to-file",
                   len(ra) == 1 and "61 établissements importés" in ra[0]["content"].get("body", ""),
                   short(ra[:1]))
        captioned = await self.alice.send_file(
            self.group, fixtures / "vague6_indicateurs_2024-01-19.csv", "!import indicateurs")
        self.asked.add(captioned)
        await self.wait_answered([captioned], 60)
        ri = self.alice.replies_to(captioned)
        self.check("j.import-file-with-caption",
                   len(ri) == 1 and "61 relevés" in ri[0]["content"].get("body", ""), short(ri[:1]))
        qv = await self.ask(self.alice, self.group, "!vague 6")
        rv = await self.wait_reply(qv)
        self.check("j.wave-dashboard", len(rv) == 1 and "50 budgets intégrés sur 61 (81,96 %)"
                   in rv[0]["content"].get("body", ""), short(rv[:1]))

    async def scenario_k(self) -> None:
        """A ticket through the guided dialogue in its thread, answers without mention (issue 4)."""
        command = ('!ticket nouveau service=DRASI titre="Écran blanc à la connexion au pré-sas" '
                   'uai=0020013D env=production sphere=ordonnateur profil=gestionnaire '
                   'nom=Dupont prenom=Marie description="La page du pré-sas reste blanche."')
        root = await self.ask(self.alice, self.group, command)
        thread = {"rel_type": "m.thread", "event_id": root, "is_falling_back": True}
        first = await self.wait_reply(root)
        self.check("k.asks-what-is-missing", len(first) == 1 and "fonction" in
                   first[0]["content"].get("body", "") and relates(first[0]).get("event_id") == root,
                   short(first[:1]))
        chatter = await self.bob.send(self.group, "je regarde aussi", relates_to=thread)
        last = ""
        card: list[dict] = []
        for answer in ("gestionnaire", "connexion puis ouverture du pré-sas", "aucun"):
            qid = await self.ask(self.alice, self.group, answer, relates_to=thread)
            card = await self.wait_reply(qid)
            if not card:
                break
        # A screenshot sent in the thread during the dialogue becomes an attachment.
        png = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                            "0000000d4944415478da63f8cfc0f01f0005000201a5f1d6b40000000049454e44"
                            "ae426082")
        shot = await self.alice.send_image(self.group, "capture-pre-sas.png", png, relates_to=thread)
        self.asked.add(shot)
        kept = await self.wait_reply(shot)
        self.check("k.screenshot-kept", len(kept) == 1 and "capture-pre-sas.png" in
                   kept[0]["content"].get("body", ""), short(kept[:1]))
        # ✅ on the summary card confirms it, as "oui" would.
        self.check("k.summary-card", len(card) == 1 and "oui" in card[0]["content"].get("body", ""),
                   short(card[:1]))
        if card:
            before = {ev["event_id"] for ev in self.alice.from_bot(self.group)}
            await self.alice.react(self.group, card[0]["event_id"], "✅")

            def created() -> list[dict]:
                return [ev for ev in self.alice.from_bot(self.group) if ev["event_id"] not in before
                        and "Ticket R-" in ev["content"].get("body", "")]

            await wait_for(lambda: bool(created()), 30)
            done = created()
            last = done[0]["content"].get("body", "") if done else ""
            self.check("k.created-in-the-thread", bool(done) and
                       relates(done[0]).get("event_id") == root, short(done[:1]))
        self.check("k.ticket-created", "Ticket R-" in last and "DRASI" in last, repr(last[:300]))
        await asyncio.sleep(2)
        self.check("k.others-in-the-thread-ignored", not self.alice.replies_to(chatter),
                   short(self.alice.replies_to(chatter)[:1]))
        ql = await self.ask(self.alice, self.group, "!tickets")
        rl = await self.wait_reply(ql)
        self.check("k.listed", len(rl) == 1 and "pré-sas" in rl[0]["content"].get("body", ""),
                   short(rl[:1]))
        ref = re.search(r"R-\d{6}", last)
        if ref:
            qt = await self.ask(self.alice, self.group, f"!ticket {ref.group(0)}")
            rt = await self.wait_reply(qt)
            self.check("k.attachment-on-the-ticket", len(rt) == 1 and "capture-pre-sas.png" in
                       rt[0]["content"].get("body", ""), short(rt[:1]))

    async def scenario_l(self) -> None:
        """A personal reminder "until acknowledged" set in the salon fires once, in its thread,
        notifying its owner; ✅ on it acknowledges it (issue 6)."""
        qid = await self.ask(self.alice, self.group,
                             "!rappel dans 1 minute jusqu'à confirmation vérifier le kit de bascule")
        confirm = await self.wait_reply(qid)
        body = confirm[0]["content"].get("body", "") if confirm else ""
        self.check("l.reminder-set", len(confirm) == 1 and "Rappel" in body, repr(body[:300]))
        ql = await self.ask(self.alice, self.group, "!rappels")
        listed = await self.wait_reply(ql)
        self.check("l.reminder-listed", len(listed) == 1 and "vérifier le kit de bascule" in
                   listed[0]["content"].get("body", ""), short(listed[:1]))

        confirm_id = confirm[0]["event_id"] if confirm else ""

        def fired() -> list[dict]:  # the bot's messages in the reminder's thread but its reply
            return [ev for ev in self.alice.from_bot(self.group)
                    if ev["event_id"] != confirm_id and relates(ev).get("event_id") == qid
                    and "vérifier le kit de bascule" in ev["content"].get("body", "")]

        await wait_for(lambda: bool(fired()), 120)
        await asyncio.sleep(15)  # a second delivery would come within a sync or two
        deliveries = fired()
        self.check("l.fired-once-in-its-thread", len(deliveries) == 1, short(deliveries[:2]))
        self.check("l.pings-its-owner", bool(deliveries) and deliveries[0]["content"].get(
            "m.mentions", {}).get("user_ids") == [ALICE], short(deliveries[:1]))
        # A notice never notifies (push rule .m.rule.suppress_notices): a reminder is an m.text.
        self.check("l.notifies", bool(deliveries) and
                   deliveries[0]["content"].get("msgtype") == "m.text", short(deliveries[:1]))
        if not deliveries:
            return
        before = {ev["event_id"] for ev in self.alice.from_bot(self.group)}
        await self.alice.react(self.group, deliveries[0]["event_id"], "✅")

        def acknowledged() -> list[dict]:
            return [ev for ev in self.alice.from_bot(self.group) if ev["event_id"] not in before
                    and "confirmé" in ev["content"].get("body", "")]

        await wait_for(lambda: bool(acknowledged()), 30)
        acks = acknowledged()
        self.check("l.acknowledged-by-reaction", len(acks) == 1 and
                   relates(acks[0]).get("event_id") == qid, short(acks[:1]))
        ql2 = await self.ask(self.alice, self.group, "!rappels")
        after = await self.wait_reply(ql2)
        self.check("l.acknowledged-not-listed", len(after) == 1 and "vérifier le kit de bascule"
                   not in after[0]["content"].get("body", ""), short(after[:1]))

    async def encrypted_room(self, name: str, check: str) -> str:
        """An encrypted room alice creates and invites the bot to; "" (check failed) when the
        bot does not join."""
        encryption = {"type": "m.room.encryption", "state_key": "",
                      "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
        r = await self.alice.client.room_create(name=name, invite=[BOT],
                                                initial_state=[encryption])
        assert isinstance(r, RoomCreateResponse), r
        state = await self.wait_joined(self.alice, r.room_id)
        return r.room_id if self.check(check, state == "join", f"membership {state!r}") else ""

    async def scenario_m(self) -> None:
        """End-to-end encryption (issue 7): an encrypted room where alice's encrypted questions
        get encrypted replies she decrypts, across a restart of the bot; bob joins and reads the
        next reply, leaves and cannot read the one after; a replayed ciphertext is refused; a
        message whose key never comes gets the French notice; a ticket confirmed with an
        encrypted ✅ works as in clear."""
        assert self.bot
        room = await self.encrypted_room("e2e chiffré", "m.bot-joins-encrypted-room")
        if not room:
            return
        q1 = await self.ask(self.alice, room, "!sigle EJ")
        r1 = await self.wait_reply(q1, 45)
        self.check("m.encrypted-question-answered", len(r1) == 1 and "Engagement juridique" in
                   r1[0]["content"].get("body", ""), short(r1[:1]))
        self.check("m.reply-encrypted-and-decrypted", bool(r1) and
                   r1[0]["event_id"] in self.alice.decrypted, short(r1[:1]))
        # Two members, but a salon (not invited as a direct chat): answered in a thread that
        # quotes the question, and chatter there is not for the bot (issue 14).
        self.check("m.reply-relates-to-the-question", bool(r1) and
                   in_reply_to(r1[0]) == q1 and relates(r1[0]).get("rel_type") == "m.thread",
                   short(r1[:1]))
        chatter = await self.alice.send(room, "bonjour à tous, réunion demain 9h")
        await asyncio.sleep(6)
        self.check("m.two-member-salon-is-not-direct", not self.alice.replies_to(chatter),
                   short(self.alice.replies_to(chatter)[:1]))

        # A restart between two questions: the crypto state comes back from the state file.
        self.bot.stop(10)
        offset = self.bot.start()
        self.check("m.restarted", await self.bot.wait_ready(offset), "bot not ready")
        q2 = await self.ask(self.alice, room, "!sigle GFC")
        r2 = await self.wait_reply(q2, 45)
        self.check("m.answered-after-restart", len(r2) == 1 and r2[0]["event_id"] in
                   self.alice.decrypted and "Gestion financière" in
                   r2[0]["content"].get("body", ""), short(r2[:1]))

        # An invited member gets the room key already (Tchap salons share history with invited
        # members), so a reply sent before they join reads once they are in (issue 14).
        await self.alice.client.room_invite(room, BOB)
        await wait_for(lambda: room in self.bob.invites, 15)
        q_inv = await self.ask(self.alice, room, "!sigle DGFiP")
        r_inv = await self.wait_reply(q_inv, 45)
        await self.bob.client.join(room)
        await wait_for(lambda: bool(self.bob.replies_to(q_inv)) and
                       self.bob.replies_to(q_inv)[0]["event_id"] in self.bob.decrypted, 20)
        b_inv = self.bob.replies_to(q_inv)
        self.check("m.invited-member-decrypts-reply-sent-before-joining",
                   len(r_inv) == 1 and len(b_inv) == 1 and b_inv[0]["event_id"] in
                   self.bob.decrypted, short(b_inv[:1] or r_inv[:1]))
        # A new member gets the room key of the next reply.
        await asyncio.sleep(1)
        q3 = await self.ask(self.alice, room, "!sigle EPLE")
        await wait_for(lambda: bool(self.bob.replies_to(q3)), 45)
        b3 = self.bob.replies_to(q3)
        self.check("m.new-member-decrypts", len(b3) == 1 and b3[0]["event_id"] in
                   self.bob.decrypted, short(b3[:1]))

        # A member who left cannot read what is sent after: the bot rotated the session.
        await self.bob.client.room_leave(room)
        await asyncio.sleep(1)
        q4 = await self.ask(self.alice, room, "!sigle DDFIP")
        r4 = await self.wait_reply(q4, 45)
        if r4:
            token = self.alice.client.access_token
            raw = await asyncio.to_thread(
                self.synapse.http, "GET",
                f"/_matrix/client/v3/rooms/{room}/event/{r4[0]['event_id']}", None, token)
            readable = True
            try:
                result = self.bob.client.decrypt_event(MegolmEvent.from_dict(raw))
                readable = not isinstance(result, MegolmEvent)
            except Exception:  # noqa: BLE001 - nio raises when it has no session
                readable = False
            self.check("m.left-member-cannot-decrypt",
                       raw.get("type") == "m.room.encrypted" and not readable, short(raw))
        else:
            self.check("m.left-member-cannot-decrypt", False, "no reply to the question")

        # A ciphertext sent again as a new event (a replay) is refused, never answered.
        token = self.alice.client.access_token
        original = await asyncio.to_thread(
            self.synapse.http, "GET", f"/_matrix/client/v3/rooms/{room}/event/{q1}", None, token)
        replay = await asyncio.to_thread(
            self.synapse.http, "PUT",
            f"/_matrix/client/v3/rooms/{room}/send/m.room.encrypted/replay-{secrets.token_hex(4)}",
            original["content"], token)
        log_offset = self.bot.log_size()
        await asyncio.sleep(6)
        self.check("m.replay-refused", not self.alice.replies_to(replay["event_id"]) and
                   "REPLAY" in self.bot.log_text(log_offset), self.bot.log_text(log_offset)[-600:])

        # A message whose key never comes: the sender is told in French what to do.
        content = dict(original["content"])
        content["session_id"] = "A" * 43
        lost = await asyncio.to_thread(
            self.synapse.http, "PUT",
            f"/_matrix/client/v3/rooms/{room}/send/m.room.encrypted/lost-{secrets.token_hex(4)}",
            content, token)
        self.asked.add(lost["event_id"])
        await wait_for(lambda: bool(self.alice.replies_to(lost["event_id"])), 45)
        told = self.alice.replies_to(lost["event_id"])
        self.check("m.undecryptable-notice", len(told) == 1 and "pas pu lire" in
                   told[0]["content"].get("body", "") and told[0]["event_id"] in
                   self.alice.decrypted, short(told[:1]))

        # EPLE imports behave as in clear, with files encrypted by the client.
        fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "eple"
        referential = await self.alice.send_encrypted_file(
            room, fixtures / "vague6_etablissements.csv")
        qe = await self.ask(self.alice, room, "!import etablissements",
                            relates_to={"m.in_reply_to": {"event_id": referential}})
        re_ = await self.wait_reply(qe, 60)
        self.check("m.import-reply-to-encrypted-file", len(re_) == 1 and
                   "61 établissements importés" in re_[0]["content"].get("body", ""),
                   short(re_[:1]))
        captioned = await self.alice.send_encrypted_file(
            room, fixtures / "vague6_indicateurs_2024-01-19.csv", "!import indicateurs")
        self.asked.add(captioned)
        ri = await self.wait_reply(captioned, 60)
        self.check("m.import-encrypted-file-with-caption", len(ri) == 1 and
                   "61 relevés" in ri[0]["content"].get("body", ""), short(ri[:1]))
        qv = await self.ask(self.alice, room, "!vague 6")
        rv = await self.wait_reply(qv, 45)
        self.check("m.wave-dashboard", len(rv) == 1 and "50 budgets intégrés sur 61 (81,96 %)"
                   in rv[0]["content"].get("body", ""), short(rv[:1]))

        # Tickets behave as in clear: the summary card, then an encrypted ✅ on it.
        command = ('!ticket nouveau service=SI2C titre="Mandat rejeté par la DGFiP après '
                   'bascule" uai=0020013D env=production sphere=ordonnateur profil=gestionnaire '
                   'nom=Dupont prenom=Marie fonction=SG description="Le mandat 42 revient rejeté."'
                   ' operations="aucune" erreurs="aucun"')
        qt = await self.ask(self.alice, room, command)
        card = await self.wait_reply(qt, 45)
        self.check("m.ticket-card", len(card) == 1 and "oui" in card[0]["content"].get("body", ""),
                   short(card[:1]))
        if card:
            before = {ev["event_id"] for ev in self.alice.from_bot(room)}
            self.asked.add(card[0]["event_id"])  # the confirmation quotes the card
            await self.alice.react(room, card[0]["event_id"], "✅")

            def created() -> list[dict]:
                return [ev for ev in self.alice.from_bot(room) if ev["event_id"] not in before
                        and "Ticket R-" in ev["content"].get("body", "")]

            await wait_for(lambda: bool(created()), 45)
            done = created()
            # in the ticket's thread, where the card is
            self.check("m.ticket-created-by-encrypted-reaction", len(done) == 1 and
                       done[0]["event_id"] in self.alice.decrypted and
                       relates(done[0]).get("event_id") == qt, short(done[:1]))

        # --new-login with encryption on (issue 15): a new device, the old one logged out, the
        # same cross-signing identity, and the salon still answered in encrypted form.
        devices_before = await self.bot_devices()
        self.bot.stop(10)
        offset = self.bot.start(["--new-login"])
        if not self.check("m.new-login-ready", await self.bot.wait_ready(offset),
                          self.bot.log_text(offset)[-800:]):
            return
        devices_after = await self.bot_devices()
        self.check("m.new-login-old-device-logged-out",
                   len(devices_after) == len(devices_before) and devices_after != devices_before,
                   f"before {sorted(devices_before)}, after {sorted(devices_after)}")
        await asyncio.sleep(2)  # alice's client learns the new device
        qn = await self.ask(self.alice, room, "!sigle DP")
        rn = await self.wait_reply(qn, 60)
        self.check("m.new-login-answers-encrypted", len(rn) == 1 and
                   rn[0]["event_id"] in self.alice.decrypted and
                   "Demande de paiement" in rn[0]["content"].get("body", ""),
                   short(rn[:1]) + " " + self.bot.log_text(offset)[-600:])

    async def scenario_s(self) -> None:
        """Backup and restore (issue 16): in an encrypted salon, `opale-bot sauvegarde` while the
        bot runs; more questions answered; the bot stopped, the backup copied over the state file
        (its -wal and -shm removed), the bot started again: on the same device, it decrypts and
        answers a new question, and each question has exactly one reply. The restored sync
        position makes the bot fetch the questions answered after the backup again: what it does
        with them is read from its log (bot.sender=debug) and reported."""
        assert self.bot
        room = await self.encrypted_room("e2e sauvegarde", "s.bot-joins-encrypted-room")
        if not room:
            return
        q1 = await self.ask(self.alice, room, "!sigle EJ")
        r1 = await self.wait_reply(q1, 45)
        if not self.check("s.answered-before-backup", len(r1) == 1 and
                          r1[0]["event_id"] in self.alice.decrypted, short(r1[:1])):
            return

        ready = re.findall(r"ready: syncing as \S+ \(device (\S+)\)", self.bot.log_text())
        device_before = ready[-1] if ready else None
        devices_before = await self.bot_devices()
        backup = self.bot.dir / "sauvegarde-s.db"
        command = [self.args.bot, "sauvegarde", str(backup), "--config", str(self.bot.config)]
        made = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True,
                                       timeout=60)
        mode = backup.stat().st_mode & 0o777 if backup.exists() else None
        log(f"s: {made.stdout.strip()}")
        self.check("s.sauvegarde-while-running", made.returncode == 0 and mode == 0o600 and
                   "Sauvegarde de" in made.stdout and self.bot.alive(),
                   f"exit {made.returncode}, mode {mode and oct(mode)}, stdout {made.stdout!r}, "
                   f"stderr {made.stderr!r}, bot alive {self.bot.alive()}")
        again = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True,
                                        timeout=60)
        self.check("s.sauvegarde-refuses-overwrite", again.returncode != 0 and
                   "--remplacer" in again.stderr, f"exit {again.returncode}: {again.stderr!r}")
        if made.returncode != 0:
            return

        # Answered after the backup: the restored state file has no trace of them.
        after = [await self.ask(self.alice, room, body)
                 for body in ("!sigle GFC", "!sigle EPLE", "!fiche tiers-ddfip")]
        answered = await self.wait_answered(after, 60)
        self.check("s.answered-after-backup", answered and all(
            self.alice.replies_to(q)[0]["event_id"] in self.alice.decrypted for q in after),
            "; ".join(short(self.alice.replies_to(q)[:1], 200) for q in after))
        originals = {ev["event_id"] for q in after for ev in self.alice.replies_to(q)}

        self.bot.stop(10)
        state_file = self.bot.dir / "state.db"
        shutil.copyfile(backup, state_file)
        for suffix in ("-wal", "-shm"):
            Path(f"{state_file}{suffix}").unlink(missing_ok=True)
        state_file.chmod(0o600)
        level = os.environ.get("SPDLOG_LEVEL")
        os.environ["SPDLOG_LEVEL"] = "info,bot.sender=debug"  # "sent TXN as EVENT in ROOM"
        try:
            offset = self.bot.start()
        finally:
            if level is None:
                os.environ.pop("SPDLOG_LEVEL", None)
            else:
                os.environ["SPDLOG_LEVEL"] = level
        if not self.check("s.restored-bot-ready", await self.bot.wait_ready(offset, 60),
                          self.bot.log_text(offset)[-800:]):
            return
        ready = re.findall(r"ready: syncing as \S+ \(device (\S+)\)", self.bot.log_text(offset))
        devices_after = await self.bot_devices()
        self.check("s.restored-same-device", bool(ready) and ready[-1] == device_before and
                   devices_after == devices_before,
                   f"device before {device_before}, after {ready[-1:] or None}; account devices "
                   f"before {sorted(devices_before)}, after {sorted(devices_after)}")

        q5 = await self.ask(self.alice, room, "!sigle DP")
        r5 = await self.wait_reply(q5, 60)
        self.check("s.restored-bot-decrypts-and-answers", len(r5) == 1 and
                   r5[0]["event_id"] in self.alice.decrypted and
                   "Demande de paiement" in r5[0]["content"].get("body", ""),
                   short(r5[:1]) + " " + self.bot.log_text(offset)[-600:])
        await asyncio.sleep(8)  # late duplicates
        self.check_once("s", [q1, *after, q5])

        # What the restored bot did with the questions it had answered after the backup.
        sent = re.findall(r"sent (\S+) as (\S+) in " + re.escape(room), self.bot.log_text(offset))
        again_sent = [(txn, eid) for txn, eid in sent if eid in originals]
        new_ids = {eid for _, eid in sent} - originals - {ev["event_id"] for ev in r5}
        log(f"s: after the restore the bot sent {len(sent)} messages in the salon: "
            f"{len(again_sent)} were replies it had already sent after the backup, which Synapse "
            f"recognised by their transaction id and gave back the original event "
            f"({len(originals)} such replies); {len(new_ids)} other new events")
        self.check("s.resent-replies-deduplicated-by-server", not new_ids,
                   f"new events besides the answer to the new question: {sorted(new_ids)}")

    async def scenario_t(self) -> None:
        """Element's engine as the user (issue 14): matrix-js-sdk with its Rust crypto, cross-
        signing bootstrapped, in an encrypted invite-only salon, with the bot sharing room keys
        only with cross-signed devices. Replies decrypt, show no red shield, notify the asker
        by js-sdk's own push rules; a thread reply and a reaction behave as with nio; a restart
        changes nothing; a device the user did not cross-sign gets m.room_key.withheld; after an
        identity reset, the new cross-signed device reads the next reply."""
        assert self.bot
        syn = self.synapse
        password = secrets.token_hex(8)
        await asyncio.to_thread(syn.register, CLAIRE_LOCALPART, password)
        await asyncio.to_thread(
            syn.http, "POST", f"/_synapse/admin/v1/users/{CLAIRE}/override_ratelimit",
            {"messages_per_second": 0, "burst_count": 0}, self.admin_token)
        await asyncio.to_thread(syn.http, "PUT", f"/_synapse/admin/v2/users/{CLAIRE}",
                                {"displayname": CLAIRE_DISPLAY_NAME}, self.admin_token)
        t_config = self.bot.write_config(self.bot.dir / "bot-t.yaml", BotSettings(
            inviters=[ALICE, CLAIRE], admins=[ALICE], only_cross_signed_devices=True))

        async def device(name: str, bootstrap: bool) -> JsUser:
            user = await JsUser.start(name, self.procs, self.work, syn.url, CLAIRE, password,
                                      f"Tchap {name}", bootstrap)
            self.js_users.append(user)
            return user

        async def restart_bot(config: Path, label: str) -> bool:
            self.bot.stop(10)
            offset = self.bot.start(config=config)
            return self.check(label, await self.bot.wait_ready(offset, 60),
                              self.bot.log_text(offset)[-600:])

        async def decrypted_reply(user: JsUser, qid: str, timeout: float = 30) -> dict | None:
            """The bot's reply to `qid` once `user` has decrypted it (None: none decrypted)."""
            def readable() -> list[dict]:
                return [ev for ev in user.replies_to(qid) if ev["decryption_failure"] is None]
            await wait_for(lambda: bool(readable()), timeout)
            got = readable()
            return got[0] if len(got) == 1 else None

        def seen(user: JsUser, qid: str) -> str:
            return short(user.replies_to(qid)[:2])

        try:
            # The bot with Element's recommended setting; its Megolm state is kept.
            if not await restart_bot(t_config, "t.bot-ready-only-cross-signed"):
                return
            phone = await device("phone", bootstrap=True)
            log(f"t: js-sdk user on Node {phone.ready.get('node')}, "
                f"device {phone.ready.get('device_id')}")
            cs = (await phone.call("wait_cross_signed"))["cross_signing"]
            old_master = cs["master_key"]
            self.check("t.js-cross-signing-bootstrapped", cs["ready"] and cs["device_cross_signed"],
                       json.dumps(cs))
            room = (await phone.call("create_room", name="Salon chiffré Tchap",
                                     invite=[BOT]))["room_id"]
            state = await self.bot_membership(room)
            if not self.check("t.bot-joins-encrypted-salon", state == "join", f"{state!r}"):
                return

            # A question with Element's pill at the start, and a command.
            question = "Comment créer le tiers DDFIP ?"
            pill = f'<a href="https://matrix.to/#/{BOT}">{BOT_DISPLAY_NAME}</a>'
            q1 = await phone.send(room, {
                "msgtype": "m.text", "body": f"{BOT_DISPLAY_NAME}: {question}",
                "format": "org.matrix.custom.html", "formatted_body": f"{pill}: {question}",
                "m.mentions": {"user_ids": [BOT]}})
            q2 = await phone.send(room, {"msgtype": "m.text", "body": "!aide", "m.mentions": {}})
            r1 = await decrypted_reply(phone, q1, 45)
            r2 = await decrypted_reply(phone, q2, 30)
            want = await asyncio.to_thread(self.expected_text, question)
            self.check("t.pill-question-reply-decrypted", r1 is not None and r1["encrypted"] and
                       "DDFIP" in r1["content"].get("body", "") and
                       want in r1["content"].get("body", ""), seen(phone, q1))
            self.check("t.aide-reply-decrypted", r2 is not None and r2["encrypted"] and
                       "Commandes" in r2["content"].get("body", ""), seen(phone, q2))
            if r1:
                self.check_reply_shape("t.reply-relations-and-mentions", r1, q1, CLAIRE, q1)
            shields = {label: (r or {}).get("shield") for label, r in (("question", r1),
                                                                      ("aide", r2))}
            log(f"t: js-sdk shields on the bot's replies: {shields}")
            self.check("t.reply-shield-not-red", r1 is not None and r2 is not None and
                       all(isinstance(x, dict) and x.get("colour") in ("NONE", "GREY")
                           for x in shields.values()), json.dumps(shields))
            push = (r1 or {}).get("push")
            log(f"t: js-sdk push actions on the answer: {push}; "
                f"on !aide's: {(r2 or {}).get('push')}")
            self.check("t.asker-notified-by-js-push-rules", bool(push and push.get("notify")),
                       f"getPushActionsForEvent: {push!r}")
            if not r1:
                return

            # A reply in the answer's thread, as js-sdk builds it (no mention): answered there.
            q3 = await phone.send(room, {
                "msgtype": "m.text", "body": "Et pour réactiver un tiers ?", "m.mentions": {},
                "m.relates_to": {"rel_type": "m.thread", "event_id": q1, "is_falling_back": False,
                                 "m.in_reply_to": {"event_id": r1["event_id"]}}})
            r3 = await decrypted_reply(phone, q3, 30)
            if self.check("t.thread-reply-answered", r3 is not None, seen(phone, q3)):
                self.check_reply_shape("t.thread-reply-stays-in-thread", r3, q3, CLAIRE, q1)
            # A reaction from js-sdk (sent in clear): no reply, no crash.
            before = len(phone.from_bot(room))
            await phone.call("react", room_id=room, event_id=r1["event_id"], key="👍")
            await asyncio.sleep(4)
            new = phone.from_bot(room)[before:]
            self.check("t.reaction-no-reply-no-crash", self.bot.alive() and not new,
                       f"bot alive: {self.bot.alive()}; new bot messages: " + short(new[:1]))

            # A second device the user has not cross-signed: the bot withholds the room key
            # and says so (m.room_key.withheld, code m.unverified).
            laptop = await device("laptop", bootstrap=False)
            await asyncio.sleep(2)  # the bot hears of the new device (device_lists.changed)
            q4 = await phone.send(room, {"msgtype": "m.text", "body": "!sigle EJ",
                                         "m.mentions": {}})
            r4 = await decrypted_reply(phone, q4, 30)
            self.check("t.cross-signed-device-decrypts", r4 is not None and
                       "Engagement juridique" in r4["content"].get("body", ""), seen(phone, q4))
            if r4:
                def laptop_view() -> dict:
                    return laptop.events.get(r4["event_id"], {})
                await wait_for(lambda: laptop_view().get("decryption_failure") ==
                               WITHHELD_UNVERIFIED, 15)
                view = laptop_view()
                self.check("t.unsigned-device-refused-key", bool(view) and
                           view.get("decryption_failure") is not None,
                           "the bot shared the room key with a device its owner did not "
                           "cross-sign: " + short(view) if view else
                           "the device never saw the reply")
                log(f"t: the not cross-signed device sees the reply as: "
                    f"{view.get('decryption_failure') or view.get('type')!r}")
                self.check("t.refused-device-gets-withheld",
                           view.get("decryption_failure") == WITHHELD_UNVERIFIED,
                           f"want decryptionFailureReason {WITHHELD_UNVERIFIED}; the device saw "
                           + (f"{view.get('decryption_failure')!r}" if view.get(
                               "decryption_failure") else "no failure: " + short(view)))
            await laptop.call("logout")

            # A restart of the bot: the user still reads the next reply.
            if await restart_bot(t_config, "t.bot-restarted"):
                q5 = await phone.send(room, {"msgtype": "m.text", "body": "!sigle GFC",
                                             "m.mentions": {}})
                r5 = await decrypted_reply(phone, q5, 45)
                self.check("t.restart-still-decrypts", r5 is not None and "Gestion financière"
                           in r5["content"].get("body", ""), seen(phone, q5))

            # Identity reset (issue 14 item 4): the user signs in on a new device and resets her
            # cross-signing identity there, as Element offers when the recovery key is lost. The
            # new device is cross-signed by the new identity; the next reply must reach it.
            tablet = await device("tablet", bootstrap=False)
            reset = (await tablet.call("reset_identity"))["cross_signing"]
            now = (await tablet.call("wait_cross_signed", master_key=reset["master_key"]))[
                "cross_signing"]
            self.check("t.identity-reset-done", now["master_key"] != old_master and
                       now["device_cross_signed"], f"before {old_master}, now {json.dumps(now)}")
            await asyncio.sleep(2)  # the bot hears of the new keys (device_lists.changed)
            q6 = await tablet.send(room, {"msgtype": "m.text", "body": "!sigle EPLE",
                                          "m.mentions": {}})
            r6 = await decrypted_reply(tablet, q6, 30)
            self.check("t.identity-reset-decrypts", r6 is not None and "Établissement public"
                       in r6["content"].get("body", ""),
                       "the new device could not read the reply: " + seen(tablet, q6))
            old = phone.replies_to(q6)
            log("t: the old device (no longer cross-signed) sees the reply after the reset as: " +
                (repr(old[0].get("decryption_failure") or "decrypted") if old else "nothing"))
        finally:
            for user in self.js_users:
                await user.close()
            self.js_users.clear()
            # The scenarios after this one run with the main configuration.
            await restart_bot(self.bot.config, "t.bot-back-on-main-config")

    async def bot_membership(self, room: str, timeout: float = 30) -> str | None:
        """The bot's membership in `room`, from the admin API (for rooms alice is not in)."""
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            r = await asyncio.to_thread(self.synapse.http, "GET",
                                        f"/_synapse/admin/v1/rooms/{room}/state", None,
                                        self.admin_token)
            state = next((ev["content"].get("membership") for ev in r.get("state", [])
                          if ev.get("type") == "m.room.member" and ev.get("state_key") == BOT),
                         None)
            if state == "join":
                return state
            await asyncio.sleep(0.3)
        return state

    async def scenario_n(self) -> None:
        """Metrics and health on the loopback (issue 16): /sante says ok while the bot syncs, a
        question and a command move their counters in /metrics, and nothing names anyone."""
        base = f"http://127.0.0.1:{self.metrics_port}"
        status, _, health = await asyncio.to_thread(http_get, base + "/sante")
        self.check("n.sante-ok-while-syncing", status == 200 and health.strip() == "ok",
                   f"{status} {health!r}")
        status, ctype, text = await asyncio.to_thread(http_get, base + "/metrics")
        self.check("n.metrics-text-format", status == 200 and "version=0.0.4" in ctype
                   and "# TYPE opalebot_questions_total counter" in text,
                   f"{status} {ctype!r} {text[:300]!r}")
        before = samples(text)
        q = await self.ask(self.alice, self.group, "@bot Comment créer le tiers DDFIP ?",
                           mention=True)
        c = await self.ask(self.alice, self.group, "!sigle EJ")
        await self.wait_answered([q, c], 60)
        moved: dict[str, float] = {}
        wanted = {"opalebot_questions_total": 1, 'opalebot_answers_total{tier="sure"}': 1,
                  'opalebot_commands_total{command="sigle"}': 1,
                  "opalebot_reply_latency_seconds_count": 2}
        deadline = time.monotonic() + 10  # the reply may be sent a moment before it is counted
        while True:
            _, _, text = await asyncio.to_thread(http_get, base + "/metrics")
            after = samples(text)
            moved = {k: after.get(k, 0) - before.get(k, 0) for k in wanted}
            if moved == wanted or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        self.check("n.question-counted", moved["opalebot_questions_total"] == 1
                   and moved['opalebot_answers_total{tier="sure"}'] == 1, f"moved: {moved}")
        self.check("n.command-counted", moved['opalebot_commands_total{command="sigle"}'] == 1,
                   f"moved: {moved}")
        self.check("n.reply-latency-observed",
                   moved["opalebot_reply_latency_seconds_count"] == 2, f"moved: {moved}")
        last = after.get("opalebot_last_successful_sync_timestamp_seconds", 0)
        self.check("n.last-sync-recent", abs(time.time() - last) < 60, f"last sync at {last}")
        leaked = [s for s in (ALICE, BOB, BOT, self.group, "DDFIP", self.passwords["bot"])
                  if s in text]
        self.check("n.metrics-name-nobody", not leaked, f"/metrics contains {leaked}")
        status, _, health = await asyncio.to_thread(http_get, base + "/sante")
        self.check("n.sante-still-ok", status == 200, f"{status} {health!r}")
        status, _, _ = await asyncio.to_thread(http_get, base + "/")
        self.check("n.other-paths-404", status == 404, f"GET / gave {status}")

    async def scenario_r(self) -> None:
        """Configuration reload (issue 16): SIGHUP applies a valid file at once (bob becomes an
        admin, a restart-only key is named and kept), refuses an invalid one whole (bob stays an
        admin) and the bot keeps answering throughout."""
        assert self.bot
        room = self.group
        pid = self.procs.running["bot"].pid

        async def kb_stats(label: str) -> str:
            q = await self.ask(self.bob, room, "!kb stats")
            rs = await self.wait_reply(q, 30)
            if not self.check(f"r.{label}-answered", len(rs) == 1, f"{len(rs)} replies"):
                return ""
            return rs[0]["content"].get("body", "")

        async def sighup(wanted: str) -> bool:
            offset = self.bot.log_size()
            os.kill(pid, signal.SIGHUP)
            return await wait_for(lambda: wanted in self.bot.log_text(offset), 30)

        body = await kb_stats("before")
        self.check("r.member-refused-before-reload", "réservée" in body, body[:200])
        # bob made an admin; sync.timeout_seconds changed too, which needs a restart
        settings = BotSettings(inviters=[ALICE], admins=[ALICE, BOB],
                               metrics_port=self.metrics_port)
        path = self.bot.write_config(self.bot.config, settings)
        path.write_text(path.read_text().replace("timeout_seconds: 10", "timeout_seconds: 12"))
        offset = self.bot.log_size()
        applied = await sighup("configuration reloaded")
        self.check("r.valid-file-applied", applied, "no 'configuration reloaded' log line in 30 s")
        text = self.bot.log_text(offset)
        self.check("r.restart-key-named", "redémarrage nécessaire pour : sync.timeout_seconds"
                   in text, "no warning naming sync.timeout_seconds")
        self.check("r.bot-alive-after-sighup", self.bot.alive(), "the bot process exited")
        body = await kb_stats("after")
        self.check("r.new-admin-accepted", "Statistiques de la base" in body, body[:200])
        # invalid: bob left out of the admins, and a reply mode that does not exist
        self.bot.write_config(self.bot.config, BotSettings(inviters=[ALICE], admins=[ALICE],
                                                           metrics_port=self.metrics_port))
        path.write_text(path.read_text().replace("reply_mode: thread", "reply_mode: fil"))
        offset = self.bot.log_size()
        refused = await sighup("configuration not reloaded")
        text = self.bot.log_text(offset)
        self.check("r.invalid-file-refused", refused and "behaviour.reply_mode" in text,
                   "no 'configuration not reloaded' line naming behaviour.reply_mode")
        self.check("r.bot-alive-after-refusal", self.bot.alive(), "the bot process exited")
        body = await kb_stats("after-refusal")
        self.check("r.previous-config-kept", "Statistiques de la base" in body, body[:200])
        q = await self.ask(self.alice, room, "!sigle EJ")
        rs = await self.wait_reply(q, 30)
        self.check("r.still-answers", len(rs) == 1 and "Engagement juridique" in
                   rs[0]["content"].get("body", ""), short(rs[:1]))
        # the main file as it was, for the scenarios after this one (and their restarts)
        self.bot.write_config(self.bot.config, BotSettings(inviters=[ALICE], admins=[ALICE],
                                                           metrics_port=self.metrics_port))
        self.check("r.main-file-reloaded", await sighup("configuration reloaded"),
                   "the original file was not reloaded")

    async def scenario_e(self) -> None:
        """50 questions; SIGKILL in the middle; restart: each answered exactly once and correctly."""
        assert self.bot
        commands = ["!sigle EJ", "!fiche tiers-ddfip", "!sigle GFC", "!aide", "!sigle EPLE"]
        cmd_expect = {"!sigle EJ": "Engagement juridique", "!fiche tiers-ddfip": "DDFIP",
                      "!sigle GFC": "Gestion financière", "!aide": "Commandes",
                      "!sigle EPLE": "Établissement public"}
        questions = []
        qset = next(p for p in QUESTION_SETS if p.exists())
        for line in qset.read_text().splitlines():
            if line.startswith("#") or "\t" not in line:
                continue
            questions.append(line.split("\t", 1)[1].strip())
        items: list[tuple[str, bool, str]] = []  # (body, mention, expected substring)
        qi = 0
        for n in range(50):
            if n % 3 == 0:
                c = commands[(n // 3) % len(commands)]
                items.append((c, False, cmd_expect[c]))
            else:
                q = questions[qi % len(questions)]
                qi += 1
                items.append((f"@bot {q}", True, await asyncio.to_thread(self.expected_text, q)))
        room = self.group
        ids: list[str] = []
        killed_at: list[int] = []

        async def killer() -> None:
            ok = await wait_for(lambda: sum(1 for i in ids if self.alice.replies_to(i)) >= 10, 60, 0.05)
            killed_at.append(sum(1 for i in ids if self.alice.replies_to(i)))
            if ok:
                self.bot.kill9()

        devices_before = await self.bot_devices()
        k = asyncio.create_task(killer())
        t0 = time.monotonic()
        for body, mention, _ in items[:45]:
            ids.append(await self.ask(self.alice, room, body, mention=mention))
        await k
        if not self.check("e.sigkill-mid-run", not self.bot.alive() and 0 < killed_at[0] < 45,
                          f"replies when killed: {killed_at}, bot alive: {self.bot.alive()}"):
            if self.bot.alive():
                self.bot.kill9()
        log(f"e: bot SIGKILLed with {killed_at[0]}/{len(ids)} replies seen")
        for body, mention, _ in items[45:]:  # asked while the bot is down
            ids.append(await self.ask(self.alice, room, body, mention=mention))
        await asyncio.sleep(1)
        if not await self.start_bot("e.restart"):
            return
        await self.wait_answered(ids, 120)
        log(f"e: all answered after {time.monotonic() - t0:.1f} s" if all(
            self.alice.replies_to(i) for i in ids) else "e: timeout waiting for replies")
        await asyncio.sleep(5)  # late duplicates
        labels = {i: items[n][0] for n, i in enumerate(ids)}
        self.check_once("e", ids, labels)
        wrong = []
        for n, qid in enumerate(ids):
            rs = self.alice.replies_to(qid)
            if rs and items[n][2] not in rs[0]["content"].get("body", ""):
                wrong.append(f"{items[n][0]!r} → want {items[n][2]!r}, got "
                             f"{rs[0]['content'].get('body', '')[:120]!r}")
        self.check("e.each-reply-matches-its-question", not wrong,
                   f"{len(wrong)} mismatches:\n    " + "\n    ".join(wrong[:6]))
        devices_after = await self.bot_devices()
        self.check("e.restart-keeps-device", devices_after == devices_before,
                   f"bot devices before the restart {sorted(devices_before)}, "
                   f"after {sorted(devices_after)}")

    async def bot_devices(self) -> set[str]:
        """The bot account's devices (admin API); includes the one shared-secret registration made."""
        r = await asyncio.to_thread(self.synapse.http, "GET", f"/_synapse/admin/v2/users/{BOT}/devices",
                                    None, self.admin_token)
        return {d["device_id"] for d in r.get("devices", [])}

    async def scenario_f(self) -> None:
        """Synapse stops and restarts under the running bot: nothing lost, nothing doubled."""
        assert self.bot
        room = self.group
        before = [await self.ask(self.alice, room, b, mention=m) for b, m in
                  [("!sigle EJ", False), ("@bot Comment créer le tiers DDFIP ?", True),
                   ("!sigle GFC", False), ("!fiche tiers-ddfip", False), ("!sigle EPLE", False)]]
        await asyncio.to_thread(self.synapse.stop)
        log("f: Synapse stopped")
        await asyncio.sleep(4)
        took = await asyncio.to_thread(self.synapse.start, "normal", 90)
        log(f"f: Synapse back after {took:.1f} s")
        after = [await self.ask(self.alice, room, b, mention=m) for b, m in
                 [("!sigle GFC", False), ("@bot que veut dire EJ ?", True), ("!aide", False),
                  ("!sigle EJ", False), ("@bot Comment créer le tiers DDFIP ?", True)]]
        t0 = time.monotonic()
        await self.wait_answered(before + after, 120)
        log(f"f: waited {time.monotonic() - t0:.1f} s for replies")
        await asyncio.sleep(4)
        self.check("f.bot-survives-synapse-restart", self.bot.alive(), "the bot process exited")
        self.check_once("f", before + after)

    async def scenario_g(self) -> None:
        """Synapse with a low rc_message: 100 commands, each answered once; 429s obeyed."""
        assert self.bot
        await asyncio.to_thread(self.synapse.stop)
        syn_off = self.synapse.log_size()
        bot_off = self.bot.log_size()
        took = await asyncio.to_thread(self.synapse.start, "ratelimited", 90)
        log(f"g: Synapse restarted with rc_message {RC_LIMITED} after {took:.1f} s")
        # First make sure the bot is syncing again, so that the burst is not one huge /sync.
        warm = await self.ask(self.alice, self.group, "!sigle EJ")
        warm_ok = bool(await self.wait_reply(warm, 60))
        self.check("g.answers-after-restart", warm_ok, "no reply to a warm-up command within 60 s")
        cmds = ["!sigle EJ", "!sigle GFC", "!sigle EPLE", "!sigle MF2"]
        t0 = time.monotonic()
        ids = [await self.ask(self.alice, self.group, cmds[n % len(cmds)]) for n in range(100)]
        log(f"g: 100 commands sent in {time.monotonic() - t0:.1f} s")
        await self.wait_answered(ids, 180)
        log(f"g: replies after {time.monotonic() - t0:.1f} s")
        await asyncio.sleep(4)
        self.check_once("g", ids)
        n429 = self.synapse.count_429(BOT, syn_off)
        self.check("g.synapse-answered-429", n429 > 0,
                   "Synapse sent the bot no 429 (the scenario did not exercise rate limiting)")
        text = self.bot.log_text(bot_off)
        lines = [line for line in text.splitlines()
                 if "429" in line or "M_LIMIT_EXCEEDED" in line or "rate limited" in line.lower()]
        log(f"g: Synapse sent {n429} × 429 to the bot; bot log lines about it: {len(lines)}")
        self.check("g.bot-logs-429", bool(lines), "no bot log line mentions 429/M_LIMIT_EXCEEDED")
        self.check("g.bot-alive", self.bot.alive(), "the bot process exited")

    # -- scenario u: the admins' alerts room against the iTop double (issue 16)

    def itop_double_start(self, port: int, port_file: Path) -> int:
        """Starts tests/itop/itop_double.py as the scenario's process "itop" (listed for run.sh's
        trap); its port once it listens, 0 when it did not start within 10 s."""
        port_file.unlink(missing_ok=True)
        self.procs.start("itop", [sys.executable, str(ITOP_DOUBLE), "--port", str(port),
                                  "--port-file", str(port_file)],
                         self.work / "itop-double.log", self.work)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.procs.alive("itop"):
            if port_file.exists() and port_file.read_text().strip():
                return int(port_file.read_text())
            time.sleep(0.1)
        return 0

    def alerts_config(self, alerts_room: str, itop_url: str) -> Path:
        """The main configuration plus the alerts room (allowed) and tickets in iTop; bob files
        tickets as the double's Bob Leroy. The iTop password comes from the environment."""
        assert self.bot
        path = self.bot.write_config(self.bot.dir / "bot-u.yaml", BotSettings(
            inviters=[ALICE], admins=[ALICE, ADMIN]))
        text = path.read_text()
        for old, new in (("  allowed: []\n", f"  allowed: {json.dumps([alerts_room])}\n"),
                         ("sync:\n  timeout_seconds: 10\n", "sync:\n  timeout_seconds: 5\n")):
            assert old in text, f"the harness config no longer has {old!r}"
            text = text.replace(old, new)
        text += f"""alertes:
  salon: "{alerts_room}"
tickets:
  backend: itop
  itop:
    url: "{itop_url}"
    user: "matrix-bot"
    timeout_seconds: 5
    emails:
      "{BOB}": "bob.leroy@ac-lille.fr"
"""
        path.write_text(text)
        return path

    async def scenario_u(self) -> None:
        """The admins' alerts room (issue 16): a ticket filed in the iTop double; the double
        stopped, users told iTop cannot be reached and the room told "iTop ne répond plus" once;
        the double back on its port, the next call answered and the room told "iTop répond de
        nouveau" once; an import with errors told too. No secret and no member's text in them."""
        assert self.bot
        itop_password = load_itop_double().USERS["matrix-bot"][0]
        port_file = self.work / "itop-double.port"
        admin: Human | None = None
        env_before = os.environ.get("OPALEBOT_ITOP_PASSWORD")
        try:
            port = await asyncio.to_thread(self.itop_double_start, 0, port_file)
            if not self.check("u.itop-double-started", port > 0,
                              tail(self.work / "itop-double.log", 20)):
                return
            itop_url = f"http://127.0.0.1:{port}"
            admin = await Human.login(self.synapse.url, "admin", self.passwords["admin"],
                                      self.work / "nio" / "admin")
            admin.start_sync()
            # The alerts room is made and the bot invited while it is stopped: the main
            # configuration would leave the admin's invitation (not an inviter) unanswered.
            self.bot.stop(10)
            r = await admin.client.room_create(name="e2e alertes", invite=[BOT])
            assert isinstance(r, RoomCreateResponse), r
            alerts_room = r.room_id
            config = self.alerts_config(alerts_room, itop_url)
            os.environ["OPALEBOT_ITOP_PASSWORD"] = itop_password
            checked = await asyncio.to_thread(
                subprocess.run, [self.args.bot, "config", "check", str(config)],
                capture_output=True, text=True, timeout=30)
            self.check("u.config-check", checked.returncode == 0 and itop_password not in
                       checked.stdout + checked.stderr,
                       f"exit {checked.returncode}: {checked.stdout}{checked.stderr}"
                       .replace(itop_password, "<mot de passe iTop>"))
            offset = self.bot.start(config=config)
            os.environ.pop("OPALEBOT_ITOP_PASSWORD")
            if not self.check("u.bot-ready", await self.bot.wait_ready(offset, 60),
                              self.bot.log_text(offset)[-600:]):
                return
            state = await self.bot_membership(alerts_room)
            if not self.check("u.bot-joins-alerts-room", state == "join", f"{state!r}"):
                return

            def alerts(marker: str) -> list[dict]:
                """The bot's messages in the alerts room that are not replies and say `marker`."""
                return [ev for ev in admin.from_bot(alerts_room) if in_reply_to(ev) is None
                        and marker in ev["content"].get("body", "")]

            # A member files a ticket: it is created in the double.
            title = "Relevé bancaire absent du tableau de bord"
            description = "Le relevé du 12 n'apparaît pas malgré la synchronisation."
            root = await self.ask(self.bob, self.group, (
                f'!ticket nouveau service=SI2C titre="{title}" uai=0590003H env=production '
                'sphere=ordonnateur profil=gestionnaire nom=Leroy prenom=Bob fonction=SG '
                f'description="{description}" operations="aucune" erreurs="aucun"'))
            card = await self.wait_reply(root, 45)
            self.check("u.ticket-card", len(card) == 1 and "oui" in
                       card[0]["content"].get("body", ""), short(card[:1]))
            thread = {"rel_type": "m.thread", "event_id": root, "is_falling_back": True}
            yes = await self.ask(self.bob, self.group, "oui", relates_to=thread)
            done = await self.wait_reply(yes, 45)
            created = done[0]["content"].get("body", "") if done else ""
            _, _, in_itop = await asyncio.to_thread(http_get, itop_url + "/_admin/tickets")
            ref = re.search(r"R-\d{6}", created)
            self.check("u.ticket-created-in-itop", bool(ref) and "Ticket R-" in created and any(
                t["ref"] == ref.group(0) and title in t["title"] for t in json.loads(in_itop)),
                       f"reply {created[:300]!r}; tickets in the double: {in_itop[:300]!r}")
            ref_text = ref.group(0) if ref else "R-000001"

            # The double stops: three calls fail, each user is told, the room once.
            self.procs.stop("itop", signal.SIGTERM, 10)
            told = []
            for _ in range(3):
                q = await self.ask(self.bob, self.group, f"!ticket {ref_text}")
                rs = await self.wait_reply(q, 45)
                told.append(rs[0]["content"].get("body", "") if rs else "")
            self.check("u.users-told-itop-unreachable",
                       all("iTop est injoignable" in t for t in told), repr(told))
            await wait_for(lambda: bool(alerts("iTop ne répond plus")), 45)
            down = alerts("iTop ne répond plus")
            self.check("u.alert-itop-down", len(down) == 1, short(admin.from_bot(alerts_room)))

            # Back on the same port: the next call is answered, and the room is told.
            back = await asyncio.to_thread(self.itop_double_start, port, port_file)
            if not self.check("u.itop-double-restarted", back == port,
                              tail(self.work / "itop-double.log", 20)):
                return
            q = await self.ask(self.bob, self.group, f"!ticket {ref_text}")
            rs = await self.wait_reply(q, 45)
            answer = rs[0]["content"].get("body", "") if rs else ""
            log(f"u: with iTop back, !ticket {ref_text} gets: {answer[:200]!r}")
            self.check("u.itop-answers-again", bool(answer) and "iTop est injoignable" not in
                       answer and "iTop a répondu par une erreur" not in answer, repr(answer))
            await wait_for(lambda: bool(alerts("iTop répond de nouveau")), 45)
            self.check("u.alert-itop-back", len(alerts("iTop répond de nouveau")) == 1,
                       short(admin.from_bot(alerts_room)))

            # An admin's import with errors is refused, and the room is told.
            csv = self.work / "vague6_indicateurs_2024-01-26.csv"
            csv.write_text("uai;date;kit_taux;budget_integre;budget_saisie;paiements;ej;"
                           "titres_recettes;prelevements\n"
                           "0590001A;26/01/2024;beaucoup;peut-être;GFC;0;0;0;non\n")
            imported = await admin.send_file(alerts_room, csv, "!import indicateurs")
            await wait_for(lambda: bool(admin.replies_to(imported)), 45)
            report = admin.replies_to(imported)
            self.check("u.import-with-errors-refused", len(report) == 1 and "erreur" in
                       report[0]["content"].get("body", ""), short(report[:1]))
            await wait_for(lambda: bool(alerts("Import refusé")), 45)
            self.check("u.alert-import-refused", len(alerts("Import refusé")) == 1,
                       short(admin.from_bot(alerts_room)))

            await asyncio.sleep(12)  # a second post would come within a sync or two
            counts = {m: len(alerts(m)) for m in ("iTop ne répond plus", "iTop répond de nouveau",
                                                  "Import refusé")}
            self.check("u.each-alert-once", set(counts.values()) == {1}, f"{counts}")
            posted = [ev for ev in admin.from_bot(alerts_room) if in_reply_to(ev) is None]
            text = "\n".join(ev["content"].get("body", "") + "\n" +
                             ev["content"].get("formatted_body", "") for ev in posted)
            log("u: the alerts room was told:\n    " + "\n    ".join(
                ev["content"].get("body", "") for ev in posted))
            secrets_in = [name for name, value in (
                ("the iTop password", itop_password), ("the bot's password", self.passwords["bot"]),
                ("the pickle key", self.bot.pickle_key_file.read_text().strip()),
                ("the admin's access token", self.admin_token),
                ("a Synapse access token", "syt_")) if value and value in text]
            self.check("u.alerts-have-no-secret", not secrets_in, f"the alerts contain {secrets_in}")
            member_text = [t for t in (title, description, "Relevé bancaire", "synchronisation")
                           if t in text]
            self.check("u.alerts-have-no-member-text", not member_text,
                       f"the alerts contain the member's {member_text}")
            self.check("u.log-has-no-itop-password", itop_password not in self.bot.log_text(),
                       "the bot log contains the iTop password")
        finally:
            if env_before is None:
                os.environ.pop("OPALEBOT_ITOP_PASSWORD", None)
            else:
                os.environ["OPALEBOT_ITOP_PASSWORD"] = env_before
            self.procs.stop("itop", signal.SIGTERM, 10)
            if admin:
                await admin.close()
            # The scenarios after this one run with the main configuration.
            self.bot.stop(10)
            offset = self.bot.start()
            self.check("u.bot-back-on-main-config", await self.bot.wait_ready(offset, 60),
                       self.bot.log_text(offset)[-600:])

    async def scenario_x(self) -> None:
        """CSV export (issue 17): in an encrypted room, `!export vague 6` gets a short text, then
        the CSV as an encrypted m.file in the same thread; alice downloads and decrypts it to a
        UTF-8 CSV with a BOM that lists the wave's 61 EPLE."""
        assert self.bot
        room = await self.wave6_room("e2e export", "x")
        if not room:
            return

        q = await self.ask(self.alice, room, "!export vague 6")
        texts, files = await self.text_and_attachment(q, "m.file")
        order = [ev["event_id"] for ev in self.alice.from_bot(room)]
        self.check("x.text-then-one-file", len(texts) == 1 and len(files) == 1 and
                   order.index(texts[0]["event_id"]) < order.index(files[0]["event_id"]) and
                   "61 EPLE" in texts[0]["content"].get("body", ""),
                   short(self.alice.replies_to(q)[:2], 1500))
        if not files:
            return
        ev = files[0]
        content = ev["content"]
        self.check("x.file-encrypted", ev["event_id"] in self.alice.decrypted and "file" in content
                   and "url" not in content, short(ev))
        self.check("x.file-in-the-question-thread", relates(ev).get("rel_type") == "m.thread" and
                   relates(ev).get("event_id") == q and bool(texts) and
                   relates(texts[0]).get("event_id") == q, short(ev))
        self.check("x.file-named", content.get("filename", "").startswith("vague-6-") and
                   content.get("filename", "").endswith(".csv") and
                   content.get("info", {}).get("mimetype") == "text/csv", short(ev))
        ciphertext, plain = await self.alice.download_encrypted(content.get("file", {}))
        self.check("x.ciphertext-is-not-the-csv", b"0609003K" not in ciphertext, "")
        self.check("x.csv-has-bom", plain.startswith(b"\xef\xbb\xbf"), repr(plain[:40]))
        lines = plain[3:].decode("utf-8").split("\r\n")
        self.check("x.csv-has-the-wave", len(lines) == 63 and lines[-1] == "" and
                   lines[0].startswith("UAI;Établissement;") and
                   any(line.startswith("0609003K;Collège Noël Exemple 03;") for line in lines) and
                   content.get("info", {}).get("size") == len(plain),
                   f"{len(lines)} lines: {lines[:2]!r}")

    async def text_and_attachment(self, q: str, msgtype: str) -> tuple[list[dict], list[dict]]:
        """The bot's texts and its `msgtype` messages (m.file, m.image) answering `q`, once one
        of the latter has come and a few more seconds have passed for any second copy."""
        def of_type(*msgtypes: str) -> list[dict]:
            return [ev for ev in self.alice.replies_to(q)
                    if ev["content"].get("msgtype") in msgtypes]

        await wait_for(lambda: bool(of_type(msgtype)), 60)
        await asyncio.sleep(4)  # a second copy would come within a sync or two
        # the text is an m.text when the asker is notified (notify_asker), else an m.notice
        return of_type("m.text", "m.notice"), of_type(msgtype)

    async def wave6_room(self, name: str, prefix: str) -> str:
        """An encrypted room with the bot, where alice (an admin) imports the wave-6 fixture:
        its EPLE, then one week's indicators, each CSV sent encrypted with its `!import` command
        as the caption; "" when the bot does not join."""
        room = await self.encrypted_room(name, f"{prefix}.bot-joins-encrypted-room")
        if not room:
            return ""
        fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "eple"
        for name, command, expect in (
                ("vague6_etablissements.csv", "!import etablissements", "61 établissements"),
                ("vague6_indicateurs_2024-01-19.csv", "!import indicateurs", "61 relevés")):
            sent = await self.alice.send_encrypted_file(room, fixtures / name, command)
            self.asked.add(sent)
            got = await self.wait_reply(sent, 60)
            self.check(f"{prefix}.{command.split()[1]}-imported", len(got) == 1 and
                       expect in got[0]["content"].get("body", ""), short(got[:1]))
        return room

    def make_pdf(self, folder: Path) -> Path:
        """The step-by-step PDF of the documents fixture (make_documents.py, "Créer un tiers
        fournisseur", steps over pages 1 and 2), made now by Debian's python3, which has
        reportlab (the e2e virtualenv has not)."""
        script = _HERE.parent / "fixtures" / "documents"
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["/usr/bin/python3", "-B", "-c",
                        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
                        "import make_documents; make_documents.pdf_documents(Path(sys.argv[2]))",
                        str(script), str(folder)], check=True, timeout=120,
                       capture_output=True)
        return folder / "guide.pdf"

    def ask_json(self, kb: Path, question: str) -> dict:
        out = subprocess.run([self.args.bot, "ask", "--kb", str(kb), "--json", question],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        return json.loads(out)

    async def scenario_p(self) -> None:
        """Documents (issue 18): in an encrypted room, alice (an admin) sends a step-by-step PDF
        encrypted with the caption `!kb ajouter`; bob, a member, asks in his own words what its
        steps answer and gets them with their page; `!kb documents` lists it, `!kb retirer`
        removes it and the same question no longer gets the passage."""
        assert self.bot
        room = await self.encrypted_room("e2e documents", "p.bot-joins-encrypted-room")
        if not room:
            return
        await self.alice.client.room_invite(room, BOB)
        await wait_for(lambda: room in self.bob.invites, 15)
        await self.bob.client.join(room)
        # bob's client encrypts only once its sync has shown him the room and its encryption
        await wait_for(lambda: room in self.bob.client.rooms and
                       self.bob.client.rooms[room].encrypted, 20)

        # The PDF as a colleague would name it, and what the bot should make of it: the base
        # with the PDF in its documents/ folder, read by the same binary.
        folder = self.work / "p"
        pdf = folder / "regies.pdf"
        shutil.copyfile(await asyncio.to_thread(self.make_pdf, folder / "fixtures"), pdf)
        kb = folder / "kb"
        shutil.copytree(self.args.kb, kb)
        (kb / "documents").mkdir(exist_ok=True)
        shutil.copyfile(pdf, kb / "documents" / pdf.name)
        listed = subprocess.run([self.args.bot, "kb", "list", "--kb", str(kb), "--json"],
                                capture_output=True, text=True, timeout=30, check=True).stdout
        known = [d for d in json.loads(listed) if d.get("document") == pdf.name]
        if not self.check("p.fixture-read-by-the-binary", len(known) == 1 and
                          known[0]["passages"] > 0, listed[-400:]):
            return
        passages, pages, titre = known[0]["passages"], known[0]["pages"], known[0]["titre"]
        expected = self.ask_json(kb, PASSAGE_QUESTION)
        source = expected.get("source") or {}
        if not self.check("p.question-answered-by-the-pdf-offline",
                          source.get("document") == pdf.name and source.get("page") is not None,
                          json.dumps(expected, ensure_ascii=False)[:600]):
            return

        sent = await self.alice.send_encrypted_file(room, pdf, "!kb ajouter", "application/pdf")
        self.asked.add(sent)
        added = await self.wait_reply(sent, 60)
        body = added[0]["content"].get("body", "") if added else ""
        self.check("p.added-with-its-passages", len(added) == 1 and
                   f"ajouté : {passages} passages sur {pages} pages" in body, short(added[:1]))

        async def bob_asks(label: str) -> str:
            q = await self.ask(self.bob, room, f"@bot {PASSAGE_QUESTION}", mention=True)
            got = await self.wait_reply(q, 45)
            await wait_for(lambda: bool(self.bob.replies_to(q)) and
                           self.bob.replies_to(q)[0]["event_id"] in self.bob.decrypted, 20)
            seen = self.bob.replies_to(q)
            self.check(f"p.{label}-answered-once-and-read-by-bob", len(got) == 1 and
                       len(seen) == 1 and seen[0]["event_id"] in self.bob.decrypted,
                       short(got[:1]))
            return seen[0]["content"].get("body", "") if seen else ""

        answer = await bob_asks("question")
        self.check("p.member-gets-the-steps-and-page",
                   all(step in answer for step in PASSAGE_STEPS) and
                   f"Source : {titre}, page {source['page']}" in answer, answer[:900])

        q = await self.ask(self.alice, room, "!kb documents")
        got = await self.wait_reply(q, 30)
        body = got[0]["content"].get("body", "") if got else ""
        self.check("p.documents-lists-it", len(got) == 1 and pdf.name in body and
                   f"{passages} passages" in body and "ajouté par " + ALICE in body, body[:600])

        q = await self.ask(self.alice, room, f"!kb retirer {pdf.name}")
        got = await self.wait_reply(q, 30)
        body = got[0]["content"].get("body", "") if got else ""
        self.check("p.removed", len(got) == 1 and "retiré" in body, body[:400])

        answer = await bob_asks("question-again")
        self.check("p.removed-document-no-longer-answers",
                   bool(answer) and not any(step in answer for step in PASSAGE_STEPS) and
                   f"Source : {titre}" not in answer, answer[:900])

    async def scenario_v(self) -> None:
        """Charts (issue 17): in an encrypted room with wave 6 loaded, `!vague 6 graphique` gets
        a text and an encrypted m.image in the question's thread, with its size and an encrypted
        thumbnail; both decrypt to PNGs of the sizes the event announces."""
        assert self.bot
        room = await self.wave6_room("e2e graphique", "v")
        if not room:
            return
        q = await self.ask(self.alice, room, "!vague 6 graphique")
        texts, images = await self.text_and_attachment(q, "m.image")
        self.check("v.text-and-one-image", len(texts) == 1 and len(images) == 1 and
                   len(self.alice.replies_to(q)) == 2, short(self.alice.replies_to(q)[:2], 1500))
        if not images:
            return
        ev = images[0]
        content = ev["content"]
        info = content.get("info", {})
        self.check("v.image-encrypted", ev["event_id"] in self.alice.decrypted and
                   "file" in content and "url" not in content and "thumbnail_file" in info and
                   "thumbnail_url" not in info, short(ev))
        self.check("v.image-in-the-question-thread", all(
            relates(e).get("rel_type") == "m.thread" and relates(e).get("event_id") == q
            for e in texts + images), short(ev))
        thumb_info = info.get("thumbnail_info", {})
        log(f"chart {info.get('w')}x{info.get('h')} ({info.get('size')} bytes), thumbnail "
            f"{thumb_info.get('w')}x{thumb_info.get('h')} ({thumb_info.get('size')} bytes)")
        self.check("v.image-info", info.get("mimetype") == "image/png" and
                   isinstance(info.get("w"), int) and info["w"] >= 1000 and
                   isinstance(info.get("h"), int) and info["h"] > 0 and
                   isinstance(info.get("size"), int) and
                   thumb_info.get("mimetype") == "image/png" and
                   isinstance(thumb_info.get("w"), int) and isinstance(thumb_info.get("h"), int) and
                   0 < thumb_info["w"] < info["w"], short(ev))
        for label, file, meta in (("image", content.get("file", {}), info),
                                  ("thumbnail", info.get("thumbnail_file", {}), thumb_info)):
            try:
                ciphertext, plain = await self.alice.download_encrypted(file)
            except Exception as e:  # noqa: BLE001 - a wrong hash or key is a failed check
                self.check(f"v.{label}-decrypts", False, f"{e!r} for {short(file)}")
                continue
            self.check(f"v.{label}-decrypts", not ciphertext.startswith(PNG_SIGNATURE) and
                       len(plain) == meta.get("size"), f"{len(plain)} bytes, info {meta!r}")
            size = png_size(plain)
            self.check(f"v.{label}-is-a-png-of-the-announced-size",
                       size == (meta.get("w"), meta.get("h")),
                       f"IHDR {size}, info {meta!r}, first bytes {plain[:24]!r}")

    def digest_config(self, room: str, quand: str) -> Path:
        """The main configuration plus `rapports.hebdo` posting wave 6 in `room` at `quand`, with
        short syncs: the digest goes out between two syncs."""
        assert self.bot
        path = self.bot.write_config(self.bot.dir / "bot-w.yaml", BotSettings(
            inviters=[ALICE], admins=[ALICE]))
        text = path.read_text()
        old = "sync:\n  timeout_seconds: 10\n"
        assert old in text, f"the harness config no longer has {old!r}"
        text = text.replace(old, f"sync:\n  timeout_seconds: {DIGEST_SYNC_SECONDS}\n")
        text += f"""rapports:
  hebdo:
    quand: "{quand}"
    salons: {json.dumps([room])}
    vagues: [6]
"""
        path.write_text(text)
        return path

    async def scenario_w(self) -> None:
        """The weekly digest (issue 17): with `rapports.hebdo` set to a minute just ahead (Paris
        time, "chaque jour HHhMM") and an encrypted room with wave 6 loaded, the digest comes
        once at that minute: a notice with the wave's dashboard, then its chart as an encrypted
        m.image that decrypts to a PNG. `!rapport essai` shows an admin the same text marked
        "Essai". Restarted on the same state past that minute, the bot posts no second digest."""
        assert self.bot
        room = await self.wave6_room("e2e rapport hebdo", "w")
        if not room:
            return
        self.bot.stop(10)
        # A minute far enough ahead that the bot has started (and planned it) before it comes.
        paris = ZoneInfo("Europe/Paris")
        at = (datetime.now(paris) + timedelta(seconds=20)).replace(second=0, microsecond=0) + \
            timedelta(minutes=1)
        quand = f"chaque jour {at.hour}h{at.minute:02d}"
        config = self.digest_config(room, quand)
        log(f"w: rapports.hebdo.quand {quand!r} (in {(at - datetime.now(paris)).seconds} s)")
        checked = await asyncio.to_thread(subprocess.run, [
            self.args.bot, "config", "check", str(config)], capture_output=True, text=True,
            timeout=30)
        self.check("w.config-check", checked.returncode == 0,
                   f"exit {checked.returncode}: {checked.stdout}{checked.stderr}")
        try:
            offset = self.bot.start(config=config)
            if not self.check("w.bot-ready-with-digest", await self.bot.wait_ready(offset, 60),
                              self.bot.log_text(offset)[-600:]):
                return

            def digest() -> list[dict]:  # what the bot posted in the room unasked
                return [ev for ev in self.alice.from_bot(room) if in_reply_to(ev) not in
                        self.asked and relates(ev).get("event_id") not in self.asked]

            # While waiting for the minute: the admin's preview, which claims nothing.
            q = await self.ask(self.alice, room, "!rapport essai")
            texts, images = await self.text_and_attachment(q, "m.image")
            body = texts[0]["content"].get("body", "") if texts else ""
            self.check("w.essai-for-an-admin", len(texts) == 1 and len(images) == 1 and
                       "Essai" in body and "Rapport hebdomadaire op@le" in body and
                       "Vague 6" in body and "61 EPLE" in body,
                       short(self.alice.replies_to(q)[:2], 1500))

            wait = (at - datetime.now(paris)).total_seconds() + 4 * DIGEST_SYNC_SECONDS + 20
            await wait_for(lambda: any(ev["content"].get("msgtype") == "m.image"
                                       for ev in digest()), max(wait, 5))
            await asyncio.sleep(2 * DIGEST_SYNC_SECONDS + 2)  # a second copy within a sync or two
            posted = digest()
            self.scheduled.update(ev["event_id"] for ev in posted)
            notices = [ev for ev in posted if ev["content"].get("msgtype") == "m.notice"]
            images = [ev for ev in posted if ev["content"].get("msgtype") == "m.image"]
            log(f"w: {len(notices)} notice(s), {len(images)} image(s) for {at:%H:%M}")
            body = notices[0]["content"].get("body", "") if notices else ""
            if not self.check("w.digest-notice-then-chart", len(notices) == 1 and
                              len(images) == 1 and len(posted) == 2 and
                              posted[0]["event_id"] == notices[0]["event_id"],
                              short(posted[:3], 1500)):
                return
            sent = datetime.fromtimestamp(notices[0].get("origin_server_ts", 0) / 1000, paris)
            self.check("w.digest-at-its-minute", at <= sent < at + timedelta(minutes=1),
                       f"sent {sent:%H:%M:%S}, planned {at:%H:%M}")
            self.check("w.digest-has-the-wave", "Rapport hebdomadaire op@le" in body and
                       "Essai" not in body and "Vague 6" in body and "61 EPLE" in body and
                       "Premier rapport" in body and notices[0]["event_id"] in
                       self.alice.decrypted, body[:900])
            content = images[0]["content"]
            info = content.get("info", {})
            self.check("w.chart-encrypted", images[0]["event_id"] in self.alice.decrypted and
                       "file" in content and "url" not in content, short(images[0]))
            try:
                ciphertext, plain = await self.alice.download_encrypted(content.get("file", {}))
                self.check("w.chart-decrypts-to-a-png", not ciphertext.startswith(PNG_SIGNATURE)
                           and png_size(plain) == (info.get("w"), info.get("h")) and
                           len(plain) == info.get("size"),
                           f"IHDR {png_size(plain)}, info {info!r}, first bytes {plain[:24]!r}")
            except Exception as e:  # noqa: BLE001 - a wrong hash or key is a failed check
                self.check("w.chart-decrypts-to-a-png", False, f"{e!r} for {short(content)}")

            # Restarted on the same state file, past the minute: the ledger has it, no repeat.
            self.bot.stop(10)
            offset = self.bot.start(config=config)
            if not self.check("w.restarted-bot-ready", await self.bot.wait_ready(offset, 60),
                              self.bot.log_text(offset)[-600:]):
                return
            restarted = datetime.now(paris)
            # Several syncs after the restart, and until the scheduled minute is over.
            until = max(restarted + timedelta(seconds=3 * DIGEST_SYNC_SECONDS + 5),
                        at + timedelta(minutes=1, seconds=2 * DIGEST_SYNC_SECONDS))
            await asyncio.sleep((until - datetime.now(paris)).total_seconds())
            again = [ev for ev in digest() if ev["event_id"] not in self.scheduled]
            log(f"w: restarted at {restarted:%H:%M:%S}, "
                f"watched until {datetime.now(paris):%H:%M:%S}")
            self.check("w.no-second-digest-after-restart", not again and self.bot.alive(),
                       short(again[:2], 1500))
            errors = [line for line in self.bot.log_text(offset).splitlines()
                      if "weekly digest" in line]
            self.check("w.log-has-no-digest-error", not errors, "\n    ".join(errors[:5]))
        finally:
            # The scenarios after this one run with the main configuration.
            self.bot.stop(10)
            offset = self.bot.start()
            self.check("w.bot-back-on-main-config", await self.bot.wait_ready(offset, 60),
                       self.bot.log_text(offset)[-600:])

    # -- driver

    async def scenario_y(self) -> None:
        """Kit reminders that reach the person (issue 17): in an encrypted room with wave 6
        loaded, bob links himself to a late EPLE; alice (an admin) starts a kit campaign for a
        minute just ahead. At that minute the bot opens an encrypted direct chat with bob
        (is_direct), and its reminder there decrypts, with the EPLE's kit rate and the date of
        the data; the room gets only the admins' report. Bob's ✅ on the reminder is noted."""
        assert self.bot
        room = await self.wave6_room("e2e campagne kit", "y")
        if not room:
            return
        await self.alice.client.room_invite(room, BOB)
        await wait_for(lambda: room in self.bob.invites, 15)
        await self.bob.client.join(room)
        await wait_for(lambda: room in self.bob.client.rooms, 15)
        linked = await self.ask(self.bob, room, "!moi eple 0809001Z")
        got = await self.wait_reply(linked, 45)
        self.check("y.bob-linked", len(got) == 1 and "0809001Z" in
                   got[0]["content"].get("body", ""), short(got[:1]))
        # Dora, on Element's engine (matrix-js-sdk and its Rust crypto), links herself too.
        password = secrets.token_hex(8)
        await asyncio.to_thread(self.synapse.register, "dora", password)
        await asyncio.to_thread(
            self.synapse.http, "POST", f"/_synapse/admin/v1/users/{DORA}/override_ratelimit",
            {"messages_per_second": 0, "burst_count": 0}, self.admin_token)
        dora = await JsUser.start("dora", self.procs, self.work, self.synapse.url, DORA, password,
                                  "Tchap dora", True)
        self.js_users.append(dora)

        async def invited(user: JsUser, room_id: str | None = None) -> list[dict]:
            return [i for i in (await user.call("invites"))["invites"]
                    if room_id is None or i["room_id"] == room_id]

        await self.alice.client.room_invite(room, DORA)
        for _ in range(50):
            if await invited(dora, room):
                break
            await asyncio.sleep(0.3)
        await dora.call("join", room_id=room)
        dora_linked = await dora.send(room, {"msgtype": "m.text", "body": "!moi eple 0029002Z"})
        self.asked.add(dora_linked)
        got = await self.wait_reply(dora_linked, 45)
        self.check("y.dora-linked", len(got) == 1 and "0029002Z" in
                   got[0]["content"].get("body", ""), short(got[:1]))
        paris = ZoneInfo("Europe/Paris")
        at = (datetime.now(paris) + timedelta(seconds=20)).replace(second=0, microsecond=0) + \
            timedelta(minutes=1)
        started = await self.ask(self.alice, room,
                                 f"!campagne kit chaque jour {at.hour}h{at.minute:02d} seuil 80 %")
        got = await self.wait_reply(started, 45)
        self.check("y.campaign-started", len(got) == 1 and "message direct" in
                   got[0]["content"].get("body", ""), short(got[:1]))
        invites_before = set(self.bob.invites)
        log(f"y: campaign at {at:%H:%M} (in {(at - datetime.now(paris)).seconds} s)")

        def direct() -> set[str]:
            return self.bob.invites - invites_before - {room}

        wait = (at - datetime.now(paris)).total_seconds() + 40
        await wait_for(lambda: bool(direct()), max(wait, 5))
        chats = direct()
        if not self.check("y.bot-opens-a-direct-chat", len(chats) == 1, f"invites {chats!r}"):
            return
        dm = next(iter(chats))
        await self.bob.client.join(dm)
        await wait_for(lambda: dm in self.bob.client.rooms, 15)
        await wait_for(lambda: bool(self.bob.from_bot(dm)), 45)
        reminders = self.bob.from_bot(dm)
        body = reminders[0]["content"].get("body", "") if reminders else ""
        self.check("y.reminder-in-the-direct-chat", len(reminders) == 1 and
                   reminders[0]["event_id"] in self.bob.decrypted and
                   "0809001Z" in body and "1 %" in body and
                   "19/01/2024" in body and "✅" in body, short(reminders[:1], 1200))
        # The invite says it is a direct chat: bob's client files it under its people.
        path = f"/_matrix/client/v3/rooms/{urllib.parse.quote(dm, safe='')}/messages?dir=b&limit=50"
        page = await asyncio.to_thread(self.synapse.http, "GET", path, None,
                                       self.bob.client.access_token)
        invite = next((ev for ev in page.get("chunk", []) if ev.get("type") == "m.room.member"
                       and ev.get("state_key") == BOB and
                       ev.get("content", {}).get("membership") == "invite"), {})
        self.check("y.direct-chat-flagged-direct", invite.get("sender") == BOT and
                   invite.get("content", {}).get("is_direct") is True, short(invite))

        def report() -> list[dict]:  # in the thread of the command that started the campaign
            return [ev for ev in self.alice.from_bot(room)
                    if "Campagne kit de bascule du" in ev["content"].get("body", "")]

        await wait_for(lambda: bool(report()), 30)
        posted = report()
        self.scheduled.update(ev["event_id"] for ev in posted)
        text = posted[0]["content"].get("body", "") if posted else ""
        self.check("y.salon-gets-only-the-report", len(posted) == 1 and
                   "Relancés par message direct (2)" in text and BOB in text and DORA in text and
                   "Commencez par les fiches" not in text, short(posted[:2], 1200))
        if reminders:
            await self.bob.react(dm, reminders[0]["event_id"], "✅")
            await wait_for(lambda: len(self.bob.from_bot(dm)) > 1, 30)
            after = self.bob.from_bot(dm)[1:]
            self.check("y.acknowledged-with-a-check-mark", len(after) == 1 and "Bien noté" in
                       after[0]["content"].get("body", ""), short(after[:2]))
        # Dora's client (Element's engine) gets the invite flagged direct, joins, and reads the
        # reminder: decrypted, no red shield, and it notifies her.
        dora_chats: list[dict] = []
        for _ in range(100):
            dora_chats = [i for i in await invited(dora) if i["inviter"] == BOT]
            if dora_chats:
                break
            await asyncio.sleep(0.3)
        if self.check("y.js-invited-to-a-direct-chat", len(dora_chats) == 1 and
                      dora_chats[0]["is_direct"], short(dora_chats)):
            dora_dm = dora_chats[0]["room_id"]
            await dora.call("join", room_id=dora_dm)
            await wait_for(lambda: any("content" in ev and ev["content"].get("body")
                                       for ev in dora.from_bot(dora_dm)), 45)
            seen = dora.from_bot(dora_dm)
            ev = seen[0] if seen else {}
            self.check("y.js-reads-the-reminder", len(seen) == 1 and ev.get("encrypted") and
                       not ev.get("decryption_failure") and
                       (ev.get("shield") or {}).get("colour") != "red" and
                       (ev.get("push") or {}).get("notify") is True and
                       "0029002Z" in ev["content"].get("body", "") and
                       "27 %" in ev["content"].get("body", ""), short(seen[:1], 1200))
            if seen:
                await dora.call("react", room_id=dora_dm, event_id=ev["event_id"], key="✅")
                await wait_for(lambda: any("Bien noté" in e.get("content", {}).get("body", "")
                                           for e in dora.from_bot(dora_dm)), 30)
                self.check("y.js-acknowledged", any(
                    "Bien noté" in e.get("content", {}).get("body", "")
                    for e in dora.from_bot(dora_dm)), short(dora.from_bot(dora_dm)[-2:]))
        stopped = await self.ask(self.alice, room, "!campagne kit arrêter")
        await self.wait_reply(stopped, 30)

    async def scenario(self, name: str, coro, timeout: float) -> None:
        log(f"--- scenario {name}")
        started = time.monotonic()
        try:
            await asyncio.wait_for(coro, timeout)
        except asyncio.TimeoutError:
            self.check(f"{name}.completed", False, f"scenario timed out after {timeout:.0f} s")
        except Exception:  # noqa: BLE001
            self.check(f"{name}.completed", False, traceback.format_exc(limit=4))
        log(f"--- scenario {name} took {time.monotonic() - started:.1f} s")

    async def main(self) -> None:
        started = time.monotonic()
        try:
            if not await self.setup() or self.args.no_bot:
                return
            # Title of each entry, for checking that an answer is the right one.
            out = subprocess.run([self.args.bot, "kb", "list", "--kb", self.args.kb, "--json"],
                                 capture_output=True, text=True, timeout=30, check=True).stdout
            self.titles = {e["id"]: e["titre"] for e in json.loads(out)}
            self.metrics_port = free_port()
            self.bot = Bot(self.args.bot, self.args.kb, self.work, self.procs, self.synapse,
                           self.passwords["bot"], BotSettings(inviters=[ALICE], admins=[ALICE],
                                                              metrics_port=self.metrics_port))
            cc = self.bot.config_check()
            self.check("bot.config-check", cc.returncode == 0,
                       f"exit {cc.returncode}: {cc.stdout}{cc.stderr}")
            if not await self.start_bot("bot"):
                return
            only = set(self.args.only.split(",")) if self.args.only else None
            want = lambda s: only is None or s in only  # noqa: E731
            await self.scenario("a", self.scenario_a(), 120)
            if not self.group:
                return
            if want("b"):
                await self.scenario("b", self.scenario_b(), 90)
            if want("c") or want("d"):
                room, since = await self.mallory_invite()
                await self.scenario("d", self.scenario_d(), 60)
                if room:
                    await self.scenario("c", self.scenario_c_check(room, since), 30)
            if want("h"):
                await self.scenario("h", self.scenario_h(), 90)
            if want("i"):
                await self.scenario("i", self.scenario_i(), 60)
            if want("n"):
                await self.scenario("n", self.scenario_n(), 90)
            if want("r"):
                await self.scenario("r", self.scenario_r(), 180)
            if want("j"):
                await self.scenario("j", self.scenario_j(), 120)
            if want("k"):
                await self.scenario("k", self.scenario_k(), 120)
            if want("l"):
                await self.scenario("l", self.scenario_l(), 180)
            if want("m"):
                await self.scenario("m", self.scenario_m(), 400)
            if want("s"):
                await self.scenario("s", self.scenario_s(), 240)
            if want("t"):
                await self.scenario("t", self.scenario_t(), 180)
            if want("u"):
                await self.scenario("u", self.scenario_u(), 360)
            if want("e"):
                await self.scenario("e", self.scenario_e(), 300)
            if want("f"):
                await self.scenario("f", self.scenario_f(), 240)
            if want("g"):
                await self.scenario("g", self.scenario_g(), 300)
            if want("x"):
                await self.scenario("x", self.scenario_x(), 240)
            if want("p"):
                await self.scenario("p", self.scenario_p(), 240)
            if want("v"):
                await self.scenario("v", self.scenario_v(), 240)
            if want("w"):
                await self.scenario("w", self.scenario_w(), 240)
            if want("y"):
                await self.scenario("y", self.scenario_y(), 300)
            self.global_checks()
            if self.bot.alive():
                proc = self.procs.running["bot"]
                took = self.bot.stop(10)
                self.check("bot.sigterm-stops-within-2s", took is not None and took <= 2.0,
                           "still running after 10 s (SIGKILLed)" if took is None else f"took {took:.2f} s")
                self.check("bot.sigterm-exit-status-0", proc.returncode == 0,
                           f"exit status {proc.returncode} after SIGTERM")
            # Sanitizer builds (asan/tsan presets) report on stderr, which is the bot log.
            reports = [line for line in self.bot.log_text().splitlines()
                       if "Sanitizer" in line or "runtime error:" in line]
            self.check("bot.no-sanitizer-report", not reports, "\n    ".join(reports[:10]))
        finally:
            for h in ("alice", "bob", "mallory"):
                human = getattr(self, h, None)
                if human:
                    await human.close()
            for user in self.js_users:
                await user.close()
            self.procs.stop_all()
            log(f"scenarios took {time.monotonic() - started:.0f} s")

    async def mallory_invite(self) -> tuple[str, float]:
        try:
            return await self.scenario_c_invite()
        except Exception:  # noqa: BLE001
            self.check("c.completed", False, traceback.format_exc(limit=4))
            return "", 0.0

    def global_checks(self) -> None:
        assert self.bot
        stray = [ev for ev in self.alice.from_bot() if in_reply_to(ev) not in self.asked and
                 ev["event_id"] not in self.scheduled]
        self.check("bot.no-unexpected-messages", not stray,
                   f"{len(stray)} bot messages answer nothing we asked: " + short(stray[:2]))
        # Every link a client shows must lead somewhere: no relative href (issue 14).
        relative = [ev for ev in self.alice.from_bot()
                    if re.search(r'href="(?!https?://|mailto:|matrix:)',
                                 ev.get("content", {}).get("formatted_body", ""))]
        self.check("bot.no-relative-links", not relative,
                   f"{len(relative)} bot messages with a relative link: " + short(relative[:1]))
        text = self.bot.log_text()
        leaked = [s for s in ("Comment créer le tiers DDFIP", "alert(1)", "réactiver un tiers")
                  if s in text]
        self.check("bot.log-has-no-message-text", not leaked, f"bot log contains {leaked}")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--bot", required=True)
    p.add_argument("--kb", required=True)
    p.add_argument("--no-bot", action="store_true", help="only Synapse + the nio harness")
    p.add_argument("--only", default="", help="comma-separated scenarios after a (b,c,d,e,f,g,h,i,j,k,l,m,n,p,r,s,t,u,v,w,x)")
    run = Run(p.parse_args())

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)  # run.sh's timeout: stop what we started
    try:
        asyncio.run(run.main())
    except KeyboardInterrupt as e:
        run.check("e2e.interrupted", False, str(e) or "interrupted")
    return 0 if run.results.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
