// The chat page of `cargo run --example chat` in real headless Chromium (Debian's `chromium`,
// driven by playwright-core): two tabs chat through the Rust server, and a button makes the
// server call the page back. Env: CHAT_BIN (the built example), OPENRPC (the openrpc.json
// `cargo run --example export` wrote: the page must show its method and callback counts),
// CHROMIUM (default /usr/bin/chromium), SCREENSHOT (where to save a picture of the first tab;
// optional).
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const bin = process.env.CHAT_BIN;
assert.ok(process.env.OPENRPC, "OPENRPC must name the openrpc.json the export example wrote");
const exported = JSON.parse(readFileSync(process.env.OPENRPC, "utf8"));
const apiSummary =
  `OpenRPC ${exported.openrpc}, ${exported.methods.length} methods, ` +
  `${exported["x-echorpc-callbacks"].length} callbacks`;
let server;
let url;
let browser;

before(async () => {
  assert.ok(bin, "CHAT_BIN must name the built chat example");
  server = spawn(bin, [], {
    env: { ...process.env, ECHORPC_PORT: "0", ECHORPC_HTTP_PORT: "0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the chat example did not start in 30 s")), 30_000);
    let out = "";
    server.stdout.on("data", (chunk) => {
      out += chunk;
      const found = out.match(/chat page on (http:\/\/\S+)/);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
    server.on("exit", (code) => reject(new Error(`the chat example exited with ${code}`)));
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu"],
  });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
});

test("two tabs chat, and the server calls a page back", { timeout: 60_000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 960, height: 400 } });
  const alice = await context.newPage();
  const bob = await context.newPage();
  const errors = [];
  for (const page of [alice, bob]) page.on("pageerror", (err) => errors.push(String(err)));
  await alice.goto(`${url}?name=alice`);
  await bob.goto(`${url}?name=bob`);
  await alice.locator("#status", { hasText: "connected as alice (role web)" }).waitFor();
  await bob.locator("#status", { hasText: "connected as bob (role web)" }).waitFor();
  // rpc.discover from the browser: the OpenRPC document of the mounted services, the one the
  // export example writes.
  await alice.locator("#api", { hasText: `rpc.discover: ${apiSummary}` }).waitFor();

  await alice.fill("#text", "hello from the browser");
  await alice.click("#send");
  await bob.locator("#messages li", { hasText: "alice: hello from the browser" }).waitFor();
  await bob.fill("#text", "hi alice, typed on the Rust contract");
  await bob.click("#send");
  await alice.locator("#messages li", { hasText: "bob: hi alice, typed on the Rust contract" }).waitFor();

  await alice.fill("#number", "21");
  await alice.click("#double");
  await alice.locator("#double-result", { hasText: "42" }).waitFor();
  await alice.locator("#log li", { hasText: "server asked me to double 21" }).waitFor();
  // Only the asking tab was called back.
  assert.equal(await bob.locator("#log li").count(), 0);
  assert.deepEqual(errors, []);

  if (process.env.SCREENSHOT) await alice.screenshot({ path: process.env.SCREENSHOT });
  await context.close();
});
