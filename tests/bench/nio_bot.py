"""The comparison bot of the Matrix benchmark: what a user would write with matrix-nio instead of
opale-bot. It joins on invite and answers every message that mentions it with a fixed text, as a
threaded reply. Usage: nio_bot.py HOMESERVER USER_ID PASSWORD"""
import asyncio
import sys

from nio import AsyncClient, InviteMemberEvent, MatrixRoom, RoomMessageText


async def main(homeserver: str, user_id: str, password: str) -> None:
    client = AsyncClient(homeserver, user_id)
    await client.login(password)
    first = await client.sync(timeout=0, full_state=True)  # history is not answered

    async def on_invite(room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == user_id and event.membership == "invite":
            await client.join(room.room_id)

    async def on_message(room: MatrixRoom, event: RoomMessageText) -> None:
        mentions = event.source.get("content", {}).get("m.mentions", {}).get("user_ids", [])
        if event.sender == user_id or user_id not in mentions:
            return
        await client.room_send(room.room_id, "m.room.message", {
            "msgtype": "m.notice",
            "body": "Réponse fixe.",
            "m.mentions": {"user_ids": [event.sender]},
            "m.relates_to": {"rel_type": "m.thread", "event_id": event.event_id,
                             "is_falling_back": True,
                             "m.in_reply_to": {"event_id": event.event_id}},
        })

    client.add_event_callback(on_invite, InviteMemberEvent)
    client.add_event_callback(on_message, RoomMessageText)
    print("ready", flush=True)
    await client.sync_forever(timeout=30000, since=first.next_batch)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
