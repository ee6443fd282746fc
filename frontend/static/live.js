// The live connection every page shares: Socket.IO on the page's own origin (same app, no CORS),
// join rooms on every (re)connect by itself, including after the server dropped the socket, dispatch
// events, and tell the page to re-fetch after a reconnect (it may have missed events while away).
// Rooms and events: PRD §5.2, as emitted by app/realtime/.
import { io } from "./vendor/socket.io-4.8.4.esm.min.js";

const JOIN_TIMEOUT_MS = 5000;
const REJOIN_DELAY_MS = 10000;
const SERVER_DROP_RETRY_MS = 1000;

/**
 * connectLive({rooms, handlers, onResync, onState, token})
 *   rooms     room names to join on every (re)connect, e.g. ["system-status", "incidents"]
 *   handlers  {eventName: (data) => void}
 *   onResync  called after a reconnect (not the first connect): re-fetch what the page shows
 *   onState   called with "connecting" | "live" | "offline"
 *   token     optional access token (staff pages; public rooms need none)
 * Returns the socket (socket.close() to stop).
 */
export function connectLive({ rooms = [], handlers = {}, onResync = () => {}, onState = () => {}, token = null } = {}) {
  const socket = io({
    path: "/socket.io/",
    transports: ["websocket", "polling"],
    auth: token ? { token } : {},
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
  });
  let connectedBefore = false;
  onState("connecting");

  socket.on("connect", async () => {
    const acks = await Promise.all(rooms.map((room) => socket.timeout(JOIN_TIMEOUT_MS).emitWithAck("join-room", { room })
      .catch(() => null)));
    if (acks.some((ack) => !ack || !ack.ok)) {
      // Connected but not subscribed (the server cannot reach Redis, say): not live; try again later.
      onState("offline");
      window.setTimeout(() => { socket.disconnect(); socket.connect(); }, REJOIN_DELAY_MS);
      connectedBefore = true;
      return;
    }
    onState("live");
    if (connectedBefore) onResync();
    connectedBefore = true;
  });
  let sessionEnded = false;
  socket.on("session-ended", () => { sessionEnded = true; });
  socket.on("disconnect", (reason) => {
    onState("offline");
    // Socket.IO reconnects by itself after a lost connection, but not when the server closed the
    // socket (an API process restarting or shedding sockets): connect again, and "connect" above
    // re-joins the rooms and re-fetches. A signed-out session stays closed.
    if (reason === "io server disconnect" && !sessionEnded) {
      window.setTimeout(() => { if (!socket.connected) socket.connect(); }, SERVER_DROP_RETRY_MS);
    }
  });
  socket.on("connect_error", () => onState("offline"));
  for (const [event, handler] of Object.entries(handlers)) {
    socket.on(event, handler);
  }
  return socket;
}

/** Reflect the connection state in an element with `data-state` and a translated text. */
export function showState(element, texts) {
  return (state) => {
    if (!element) return;
    element.dataset.state = state;
    element.textContent = texts[state] || state;
  };
}

/** Read JSON data a page embedded in <script type="application/json" id="...">. */
export function pageData(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : null;
}
