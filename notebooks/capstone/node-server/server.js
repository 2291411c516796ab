// A small HTTP server built on Node's standard library only (the http module): nothing to npm install.
//
//   GET /        a greeting, with the host name (the container's ID inside Docker) and a request counter
//   GET /health  {"status": "ok", "uptime_s": ...}
//
// HOST and PORT come from the environment (default 0.0.0.0:8111): inside a container the server
// must listen on every interface, because a published port does not arrive on the loopback.
"use strict";

const http = require("http");
const os = require("os");

const HOST = process.env.HOST || "0.0.0.0";
const PORT = Number(process.env.PORT || 8111);
const started = Date.now();
let requests = 0;

function sendJson(res, status, body) {
  const data = JSON.stringify(body) + "\n";
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) });
  res.end(data);
}

const server = http.createServer((req, res) => {
  requests += 1;
  const path = new URL(req.url, "http://placeholder").pathname;
  console.log(`${req.method} ${path}`);
  if (req.method !== "GET") {
    return sendJson(res, 405, { error: `${req.method} is not allowed; this server only answers GET` });
  }
  if (path === "/health") {
    return sendJson(res, 200, { status: "ok", uptime_s: Math.round((Date.now() - started) / 1000) });
  }
  if (path === "/") {
    return sendJson(res, 200, {
      message: "Hello from the capstone node server",
      hostname: os.hostname(),
      node: process.version,
      requests,
    });
  }
  return sendJson(res, 404, { error: `no route ${path}`, routes: ["/", "/health"] });
});

server.listen(PORT, HOST, () => console.log(`capstone-node listening on http://${HOST}:${PORT}`));

// As PID 1 in a container, Node gets no default action for SIGTERM: without these handlers
// `docker stop` would wait 10 seconds and then kill it.
function stop(signal) {
  console.log(`got ${signal}, stopping`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
