// N graphql-transport-ws subscribers of one build's log (raw `ws`, one Node process).
// usage: node logs_client.mjs URL N TOKEN BUILD_ID WS_MODULE_DIR
// Prints READY once every socket is acknowledged and subscribed, WARM once every socket
// received a line, then on SIGUSR2 (or after 600 s) one JSON line of results.
//
// Frames are not JSON.parse'd: at 1,000 sockets the client would be the bottleneck. The
// payload starts with the cursor (the last seq) and the first line's seq and `at`; lines
// are contiguous, so lines in a frame = cursor - first seq + 1 (checked per socket).
// A SUBSCRIBER_LAGGED error is answered as a dashboard would: resubscribe after its cursor.
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";

const [url, nArg, token, buildId, wsDir] = process.argv.slice(2);
const WebSocket = createRequire(`${wsDir}/package.json`)("ws");
const N = Number(nArg);
const QUERY = `subscription BuildLogs($buildId: ID!, $after: String) {
  buildLogs(buildId: $buildId, after: $after) { cursor lines { ...BuildLogLineFields } }
}
fragment BuildLogLineFields on BuildLogLine { seq at stream step text truncated }`;

const nowMs = () => performance.timeOrigin + performance.now();
const BIN_MS = 0.1;
const oldest = new Uint32Array(1_200_000); // latency of the frame's first (oldest) line
const newest = new Uint32Array(1_200_000); // and of its last line
let frames = 0, lines = 0, errors = 0, lagged = 0, anomalies = 0, closed = 0, acked = 0;
let warm = 0, firstError = null, firstRecv = 0, lastRecv = 0;
const perSecond = new Map();

function bin(hist, ms) {
  hist[Math.min(hist.length - 1, Math.max(0, Math.floor(ms / BIN_MS)))]++;
}

function pct(hist, p, total) {
  const target = Math.ceil(total * p);
  let acc = 0;
  for (let i = 0; i < hist.length; i++) {
    acc += hist[i];
    if (acc >= target) return +(i * BIN_MS + BIN_MS / 2).toFixed(1);
  }
  return null;
}

function intAt(buf, i) {
  let v = 0;
  for (let c = buf[i]; c >= 48 && c <= 57; c = buf[++i]) v = v * 10 + c - 48;
  return v;
}

function atAt(buf, i) {
  return Date.parse(buf.toString("latin1", i, buf.indexOf(34, i)));
}

function onNext(sock, buf) {
  const c = buf.indexOf('"cursor":"');
  const cursor = intAt(buf, c + 10);
  const s = buf.indexOf('"seq":', c);
  const first = intAt(buf, s + 6);
  const t = nowMs();
  if (first !== sock.cursor + 1) anomalies++; // a gap or a duplicate
  const count = cursor - first + 1;
  sock.cursor = cursor;
  frames++;
  lines += count;
  bin(oldest, t - atAt(buf, buf.indexOf('"at":"', s) + 6));
  bin(newest, t - atAt(buf, buf.lastIndexOf('"at":"') + 6));
  if (!firstRecv) firstRecv = t;
  lastRecv = t;
  const sec = Math.floor(t / 1000);
  perSecond.set(sec, (perSecond.get(sec) || 0) + count);
  if (!sock.warm) {
    sock.warm = true;
    if (++warm === N) process.stdout.write("WARM\n");
  }
}

function onError(sock, buf) {
  const msg = JSON.parse(buf);
  const errs = Array.isArray(msg.payload) ? msg.payload : msg.payload.errors || [];
  const ext = (errs[0] && errs[0].extensions) || {};
  if (ext.code === "SUBSCRIBER_LAGGED") {
    lagged++;
    subscribe(sock, ext.cursor);
    return;
  }
  errors++;
  if (!firstError) firstError = JSON.stringify(errs).slice(0, 300);
}

function subscribe(sock, after) {
  sock.op++;
  const variables = { buildId, after: after ?? null };
  const payload = { query: QUERY, variables, operationName: "BuildLogs" };
  sock.ws.send(JSON.stringify({ id: String(sock.op), type: "subscribe", payload }));
}

function open() {
  return new Promise((resolve) => {
    // Browsers negotiate permessage-deflate; off by default, as in perf-anchors' client.
    const perMessageDeflate = process.env.DEFLATE === "1";
    const ws = new WebSocket(url, "graphql-transport-ws", { perMessageDeflate });
    const sock = { ws, op: 0, cursor: 0, warm: false };
    ws.on("open", () =>
      ws.send(JSON.stringify({ type: "connection_init", payload: { Authorization: token } })),
    );
    ws.on("message", (buf) => {
      const head = buf.toString("latin1", 0, 64);
      if (head.includes('"type":"next"') && !head.includes('"data":null')) {
        return onNext(sock, buf);
      }
      const msg = JSON.parse(buf);
      if (msg.type === "connection_ack") {
        acked++;
        subscribe(sock, null);
        resolve();
      } else if (msg.type === "ping") ws.send('{"type":"pong"}');
      else if (msg.type === "error" || msg.type === "next") onError(sock, buf);
    });
    ws.on("error", (e) => { errors++; firstError ??= String(e); resolve(); });
    ws.on("close", () => { closed++; resolve(); });
  });
}

// in batches, so that the server's accept queue is not what is measured
for (let i = 0; i < N; i += 100) {
  await Promise.all(Array.from({ length: Math.min(100, N - i) }, open));
}

function finish() {
  const total = frames;
  const out = {
    subscribers: N, acked, frames, lines, errors, lagged, anomalies, closed,
    first_error: firstError, first_recv: firstRecv / 1000, last_recv: lastRecv / 1000,
    p50_ms: total ? pct(oldest, 0.5, total) : null, p99_ms: total ? pct(oldest, 0.99, total) : null,
    p50_newest_ms: total ? pct(newest, 0.5, total) : null,
    p99_newest_ms: total ? pct(newest, 0.99, total) : null,
    per_second: Object.fromEntries(perSecond),
  };
  process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0));
}

process.on("SIGUSR2", finish);
setTimeout(finish, 600_000);
process.stdout.write("READY\n");
