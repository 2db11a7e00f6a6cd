// A real Better Auth server for the Python tests (tests/better_auth_server.py starts it):
//
//     node server.mjs PORT BASE_URL
//
// Better Auth (pinned by package-lock.json) with its in-memory adapter, email and password
// sign-up, and the jwt plugin at its defaults (EdDSA / Ed25519 keys, 15-minute tokens, iss and
// aud = BASE_URL), served by toNodeHandler under /api/auth on 127.0.0.1:PORT. Everything is lost
// when the process ends. The secret is BETTER_AUTH_SECRET when set, else a fixed test value.
//
// Beside it, a TEST-ONLY control surface that is no part of Better Auth, under /test:
//   POST /test/sign     {"claims": {...}}  -> {"token"}: auth.api.signJWT with Better Auth's own
//                       current key. signJWT fills in iss, aud (BASE_URL) and exp (iat or now,
//                       plus 15 min) when the claims leave them out; it adds no iat.
//   POST /test/rotate   {"remove_old": false} -> {"kid", "retired": [kid, ...]}: retires every
//                       live key the way the plugin's own rotation does (expiresAt = now, as
//                       `jwks.rotationInterval` would have set it), so Better Auth mints a new key
//                       for the next signature. Retired keys stay in the JWKS for the plugin's
//                       grace period (30 days); with "remove_old": true they are deleted from the
//                       jwks table instead and leave the JWKS at once.
//   POST /test/jwks-down, /test/jwks-up -> {"jwks": "down" | "up"}: while down, GET
//                       /api/auth/jwks answers 503 (before Better Auth sees the request).
import http from "node:http";

import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { jwt } from "better-auth/plugins/jwt";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const TEST_SECRET = "better-auth-test-secret-0123456789-abcdefghijklmnop";

const [port, baseURL] = process.argv.slice(2);
if (!port || !baseURL || !LOOPBACK.has(new URL(baseURL).hostname)) {
  console.error("usage: node server.mjs PORT BASE_URL (BASE_URL on 127.0.0.1, localhost or [::1])");
  process.exit(2);
}

// The memory adapter keeps each table as an array of rows in this object.
const db = { user: [], session: [], account: [], verification: [], jwks: [] };

const auth = betterAuth({
  baseURL,
  secret: process.env.BETTER_AUTH_SECRET || TEST_SECRET,
  database: memoryAdapter(db),
  emailAndPassword: { enabled: true },
  plugins: [jwt()],
  rateLimit: { enabled: false }, // the tests sign many users up (it is off outside production too)
  telemetry: { enabled: false }, // off by default; said here so that nothing leaves the machine
});

const betterAuthHandler = toNodeHandler(auth);
let jwksDown = false;

function kidOf(token) {
  const header = JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString());
  return header.kid;
}

async function rotate({ remove_old: removeOld = false } = {}) {
  const { adapter } = await auth.$context;
  const now = new Date();
  const retired = [];
  for (const key of await adapter.findMany({ model: "jwks" })) {
    const where = [{ field: "id", value: key.id }];
    if (removeOld) {
      await adapter.delete({ model: "jwks", where });
    } else if (!key.expiresAt || key.expiresAt > now) {
      await adapter.update({ model: "jwks", where, update: { expiresAt: now } });
    } else {
      continue;
    }
    retired.push(key.id);
  }
  // No live key is left: the plugin creates one for this signature, and signs with it from now on.
  const { token } = await auth.api.signJWT({ body: { payload: { sub: "rotation" } } });
  return { kid: kidOf(token), retired };
}

const control = {
  "/test/sign": async (body) => auth.api.signJWT({ body: { payload: body.claims ?? {} } }),
  "/test/rotate": rotate,
  "/test/jwks-down": async () => {
    jwksDown = true;
    return { jwks: "down" };
  },
  "/test/jwks-up": async () => {
    jwksDown = false;
    return { jwks: "up" };
  },
};

function send(response, status, body) {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

async function readJson(request) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString();
  return text ? JSON.parse(text) : {};
}

const server = http.createServer(async (request, response) => {
  const { pathname } = new URL(request.url, baseURL);
  if (pathname.startsWith("/test/")) {
    const action = control[pathname];
    if (!action || request.method !== "POST") return send(response, 404, { error: "not found" });
    try {
      return send(response, 200, await action(await readJson(request)));
    } catch (error) {
      console.error(error);
      return send(response, 500, { error: String(error?.message ?? error) });
    }
  }
  if (jwksDown && pathname === "/api/auth/jwks") {
    return send(response, 503, { error: "JWKS down (test control)" });
  }
  return betterAuthHandler(request, response);
});

server.listen(Number(port), "127.0.0.1", () => {
  console.log(`Better Auth test server on ${baseURL} (127.0.0.1:${port})`);
});
