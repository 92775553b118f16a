// A Tchap user for the e2e tier: one device of one account, on matrix-js-sdk with its Rust
// crypto (the engine of Element, on which Tchap's clients are built). Driven by harness.py:
//
//   node tchap_user.mjs --homeserver URL --user @u:server --password PW --device-name NAME
//                       [--modules DIR] [--bootstrap] [--max-seconds 600]
//
// stdout carries JSON lines only (the SDK's own logging goes to stderr):
//   {"ready": {...}}                once logged in, crypto up, first sync done
//   {"event": {...}}                every timeline event, again each time its decryption changes
//   {"reply": ID, "ok": {...}}      the answer to a command; {"reply": ID, "error": "..."} on failure
// stdin takes commands, one JSON object a line: {"id": 1, "op": "send", ...} (see `ops` below).
// The process exits when stdin closes, on "quit", or after --max-seconds, so that it never
// outlives the harness.

import { Console } from "node:console";
import { parseArgs } from "node:util";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import readline from "node:readline";

// Everything but our protocol goes to stderr, before the SDK binds its logger to the console.
globalThis.console = new Console({ stdout: process.stderr, stderr: process.stderr });

const { values: args } = parseArgs({
  options: {
    homeserver: { type: "string" },
    user: { type: "string" },
    password: { type: "string" },
    "device-name": { type: "string", default: "tchap-js" },
    modules: { type: "string", default: join(dirname(fileURLToPath(import.meta.url)), "node_modules") },
    bootstrap: { type: "boolean", default: false },
    "max-seconds": { type: "string", default: "600" },
    "self-test": { type: "boolean", default: false },
  },
});
for (const name of ["homeserver", "user", "password"])
  if (!args[name] && !args["self-test"]) {
    process.stderr.write(`tchap_user: --${name} is required\n`);
    process.exit(2);
  }

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const lifetime = setTimeout(() => {
  process.stderr.write("tchap_user: --max-seconds reached, exiting\n");
  process.exit(3);
}, Number(args["max-seconds"]) * 1000);
lifetime.unref();

function withTimeout(promise, seconds, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// matrix-js-sdk 37 asks for Node 20 and uses the global Web Crypto, which Debian 12's Node 18
// has only under node:crypto (global behind a flag): the same object, put where it looks.
if (!globalThis.crypto) globalThis.crypto = (await import("node:crypto")).webcrypto;

// The modules come from the folder tests/e2e/js/ensure.sh installed (by file URL: ES modules
// ignore NODE_PATH). fake-indexeddb gives the SDK's non-crypto stores an IndexedDB in Node.
const mod = (path) => import(pathToFileURL(join(args.modules, path)).href);
await mod("fake-indexeddb/auto/index.mjs");
const sdk = await mod("matrix-js-sdk/lib/index.js");
const { logger } = await mod("matrix-js-sdk/lib/logger.js");
logger.setLevel(process.env.TCHAP_USER_DEBUG ? "debug" : "warn");

// --self-test (ensure.sh): the SDK loads and its WebAssembly crypto starts, with no server.
if (args["self-test"]) {
  const offline = sdk.createClient({ baseUrl: "http://127.0.0.1:9", userId: "@self-test:localhost", deviceId: "SELFTEST" });
  await withTimeout(offline.initRustCrypto({ useIndexedDB: false }), 60, "initRustCrypto");
  process.exit((await offline.getCrypto().getOwnDeviceKeys()).ed25519 ? 0 : 1);
}

const userId = args.user;
const password = args.password;
const passwordAuth = { type: "m.login.password", identifier: { type: "m.id.user", user: userId }, password };

// User-interactive auth for the cross-signing upload: first without auth (a first upload may
// need none), then m.login.password in the session the server opened.
async function uiAuth(makeRequest) {
  try {
    return await makeRequest(null);
  } catch (e) {
    const session = e?.data?.session;
    if (e?.httpStatus !== 401 || !session) throw e;
    return await makeRequest({ ...passwordAuth, session });
  }
}

const login = await withTimeout(
  sdk.createClient({ baseUrl: args.homeserver }).loginRequest({
    ...passwordAuth,
    initial_device_display_name: args["device-name"],
  }),
  30,
  "login",
);
const client = sdk.createClient({
  baseUrl: args.homeserver,
  userId,
  deviceId: login.device_id,
  accessToken: login.access_token,
});
await withTimeout(client.initRustCrypto({ useIndexedDB: false }), 60, "initRustCrypto");
const crypto = client.getCrypto();

async function crossSigning() {
  const own = await crypto.getDeviceVerificationStatus(userId, client.getDeviceId());
  const status = await crypto.getCrossSigningStatus();
  return {
    ready: await crypto.isCrossSigningReady(),
    device_cross_signed: Boolean(own?.crossSigningVerified),
    private_keys: status.privateKeysCachedLocally,
    master_key: (await crypto.getCrossSigningKeyId()) ?? null,
  };
}

if (args.bootstrap)
  await withTimeout(crypto.bootstrapCrossSigning({ authUploadDeviceSigningKeys: uiAuth }), 60, "bootstrapCrossSigning");

// --- what each event looks like to this device

const crypto_api = await mod("matrix-js-sdk/lib/crypto-api/index.js");
const shieldName = (c) => crypto_api.EventShieldColour[c] ?? String(c);
const reasonName = (r) => (r === null || r === undefined ? null : (crypto_api.EventShieldReason[r] ?? String(r)));

async function describe(ev) {
  const info = {
    event_id: ev.getId(),
    room_id: ev.getRoomId(),
    sender: ev.getSender(),
    type: ev.getType(),
    wire_type: ev.getWireType(),
    // Element reads relations from the clear part of an encrypted event (m.relates_to stays
    // outside the ciphertext): the same here, so that undecryptable replies are found too.
    content: { "m.relates_to": ev.getWireContent()["m.relates_to"], ...ev.getContent() },
    encrypted: ev.isEncrypted(),
    decryption_failure: ev.isDecryptionFailure() ? (ev.decryptionFailureReason ?? "unknown") : null,
    thread_root: ev.threadRootId ?? null,
  };
  if (ev.isEncrypted() && !ev.isDecryptionFailure() && !ev.isBeingDecrypted()) {
    try {
      const enc = await crypto.getEncryptionInfoForEvent(ev);
      info.shield = enc ? { colour: shieldName(enc.shieldColour), reason: reasonName(enc.shieldReason) } : null;
    } catch (e) {
      info.shield = { error: String(e) };
    }
  }
  const actions = client.getPushActionsForEvent(ev, true);
  info.push = actions
    ? { notify: Boolean(actions.notify), highlight: Boolean(actions.tweaks?.highlight), sound: actions.tweaks?.sound ?? null }
    : null;
  return info;
}

async function report(ev) {
  if (!ev.getId() || !ev.getRoomId() || ev.isState()) return;
  if (ev.isBeingDecrypted()) return; // reported when MatrixEventEvent.Decrypted fires
  try {
    emit({ event: await describe(ev) });
  } catch (e) {
    process.stderr.write(`tchap_user: cannot describe ${ev.getId()}: ${e}\n`);
  }
}

client.on(sdk.ClientEvent.Event, (ev) => {
  if (!ev.isEncrypted() || !ev.isBeingDecrypted()) void report(ev);
});
client.on(sdk.MatrixEventEvent.Decrypted, (ev) => void report(ev));

// --- commands

const ops = {
  async status() {
    return { device_id: client.getDeviceId(), cross_signing: await crossSigning() };
  },
  async create_room({ name, invite = [], encrypted = true }) {
    const initial_state = encrypted
      ? [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }]
      : [];
    const { room_id } = await client.createRoom({ name, invite, preset: sdk.Preset.PrivateChat, initial_state });
    return { room_id };
  },
  async wait_room({ room_id, within = 20 }) {
    const deadline = Date.now() + within * 1000;
    while (!client.getRoom(room_id)) {
      if (Date.now() > deadline) throw new Error(`room ${room_id} not synced`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { room_id };
  },
  // The rooms this device is invited to, with what the invite says (is_direct: a direct chat).
  async invites() {
    const me = client.getUserId();
    return {
      invites: client
        .getRooms()
        .filter((room) => room.getMyMembership() === "invite")
        .map((room) => {
          const member = room.currentState.getStateEvents("m.room.member", me);
          return {
            room_id: room.roomId,
            inviter: member?.getSender() ?? null,
            is_direct: member?.getContent()?.is_direct === true,
          };
        }),
    };
  },
  // Joins, then waits for the sync that shows this device in the room with its encryption set
  // up (sending before that fails: "unconfigured room").
  async join({ room_id, within = 20 }) {
    await client.joinRoom(room_id);
    const deadline = Date.now() + within * 1000;
    for (;;) {
      const room = client.getRoom(room_id);
      const encrypted = room?.hasEncryptionStateEvent() ?? false;
      if (room?.getMyMembership() === "join" && (!encrypted || (await crypto.isEncryptionEnabledInRoom(room_id))))
        return { room_id };
      if (Date.now() > deadline) throw new Error(`room ${room_id} not joined`);
      await new Promise((r) => setTimeout(r, 100));
    }
  },
  async send({ room_id, content, type = "m.room.message" }) {
    await ops.wait_room({ room_id });
    const threadId = content?.["m.relates_to"]?.rel_type === "m.thread" ? content["m.relates_to"].event_id : null;
    const { event_id } = await client.sendEvent(room_id, threadId, type, content);
    return { event_id };
  },
  async react({ room_id, event_id, key }) {
    const { event_id: id } = await client.sendEvent(room_id, null, "m.reaction", {
      "m.relates_to": { rel_type: "m.annotation", event_id, key },
    });
    return { event_id: id };
  },
  async wait_cross_signed({ master_key = null, within = 20 }) {
    const deadline = Date.now() + within * 1000;
    for (;;) {
      const now = await crossSigning();
      if (now.device_cross_signed && (!master_key || now.master_key === master_key)) return { cross_signing: now };
      if (Date.now() > deadline) throw new Error(`device not cross-signed: ${JSON.stringify(now)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  },
  async reset_identity() {
    await crypto.bootstrapCrossSigning({ setupNewCrossSigning: true, authUploadDeviceSigningKeys: uiAuth });
    return { cross_signing: await crossSigning() };
  },
  async describe({ room_id, event_id }) {
    const ev = client.getRoom(room_id)?.findEventById(event_id);
    if (!ev) throw new Error(`event ${event_id} unknown`);
    return { event: await describe(ev) };
  },
  async logout() {
    client.stopClient();
    await client.logout(true);
    return {};
  },
  async quit() {
    setTimeout(() => process.exit(0), 50);
    return {};
  },
};

await withTimeout(
  new Promise((resolve, reject) => {
    client.on(sdk.ClientEvent.Sync, (state) => {
      if (state === "PREPARED" || state === "SYNCING") resolve();
      else if (state === "ERROR") reject(new Error("first sync failed"));
    });
    client.startClient({ initialSyncLimit: 20, threadSupport: true });
  }),
  60,
  "first sync",
);
emit({ ready: { device_id: client.getDeviceId(), node: process.version, cross_signing: await crossSigning() } });

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    emit({ reply: null, error: `not JSON: ${line.slice(0, 80)}` });
    return;
  }
  const op = ops[cmd.op];
  if (!op) {
    emit({ reply: cmd.id, error: `unknown op ${cmd.op}` });
    return;
  }
  try {
    emit({ reply: cmd.id, ok: await withTimeout(op(cmd), cmd.seconds ?? 60, cmd.op) });
  } catch (e) {
    emit({ reply: cmd.id, error: `${e?.name ?? "Error"}: ${e?.message ?? e}` });
  }
});
lines.on("close", () => {
  client.stopClient();
  process.exit(0);
});
