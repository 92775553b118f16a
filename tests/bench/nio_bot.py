"""The comparison bot of the Matrix benchmark: what a user would write with matrix-nio instead of
opale-bot. It joins on invite and answers every message that mentions it with a fixed text, as a
threaded reply. With STORE_DIR it runs with end-to-end encryption (vodozemac, keys kept there)
and also answers in encrypted rooms. With REPLY_CONTENT_FILE in its environment it answers with
the message content that file holds once it exists (the benchmark puts opale-bot's fiche there,
to compare the frameworks with the same reply). Usage: nio_bot.py HOMESERVER USER_ID PASSWORD
[STORE_DIR]"""
import asyncio
import json
import os
import sys

from nio import AsyncClient, AsyncClientConfig, InviteMemberEvent, MatrixRoom, RoomMessageText


async def main(homeserver: str, user_id: str, password: str, store: str | None) -> None:
    if store:
        os.makedirs(store, exist_ok=True)
        config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
        client = AsyncClient(homeserver, user_id, store_path=store, config=config)
    else:
        client = AsyncClient(homeserver, user_id)
    await client.login(password)
    if store and client.should_upload_keys:
        await client.keys_upload()
    first = await client.sync(timeout=0, full_state=True)  # history is not answered

    async def on_invite(room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == user_id and event.membership == "invite":
            await client.join(room.room_id)

    async def on_message(room: MatrixRoom, event: RoomMessageText) -> None:
        mentions = event.source.get("content", {}).get("m.mentions", {}).get("user_ids", [])
        if event.sender == user_id or user_id not in mentions:
            return
        if store and client.should_query_keys:
            # sync_forever queries device keys only after the callbacks: without the asker's
            # keys the room key would not be shared with them and the reply would be unreadable.
            await client.keys_query()
        await client.room_send(room.room_id, "m.room.message", {
            **reply_content(),
            "m.mentions": {"user_ids": [event.sender]},
            "m.relates_to": {"rel_type": "m.thread", "event_id": event.event_id,
                             "is_falling_back": True,
                             "m.in_reply_to": {"event_id": event.event_id}},
        }, ignore_unverified_devices=True)

    reply_file = os.environ.get("REPLY_CONTENT_FILE")
    reply = {"msgtype": "m.notice", "body": "Réponse fixe."}

    def reply_content() -> dict:
        nonlocal reply, reply_file
        if reply_file and os.path.exists(reply_file):
            with open(reply_file, encoding="utf-8") as f:
                reply = json.load(f)
            reply_file = None  # read once
        return dict(reply)

    client.add_event_callback(on_invite, InviteMemberEvent)
    client.add_event_callback(on_message, RoomMessageText)
    print("ready", flush=True)
    await client.sync_forever(timeout=30000, since=first.next_batch)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4], sys.argv[4] if len(sys.argv) > 4 else None))
