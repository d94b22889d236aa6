// The committed static/sdk/beacon.min.js is what `node static/sdk/build.mjs` makes of beacon.js today,
// and it stays under 10 KB gzipped.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import vm from "node:vm";

import { MAX_GZIP_BYTES, build, gzipSize } from "../../static/sdk/build.mjs";
import { makeClient } from "./harness.mjs";

const MIN_PATH = new URL("../../static/sdk/beacon.min.js", import.meta.url);

test("beacon.min.js is up to date with beacon.js (run `node static/sdk/build.mjs`)", async () => {
  const fresh = await build();
  const committed = readFileSync(MIN_PATH, "utf8");
  assert.ok(committed === fresh, "static/sdk/beacon.min.js is stale: run `node static/sdk/build.mjs`");
});

test("beacon.min.js is under 10 KB gzipped", () => {
  const size = gzipSize(readFileSync(MIN_PATH, "utf8"));
  assert.ok(size < MAX_GZIP_BYTES, `${size} bytes gzipped`);
  assert.equal(MAX_GZIP_BYTES, 10 * 1024);
});

test("the minified build works like the source", async () => {
  const module = { exports: {} };
  vm.runInNewContext(readFileSync(MIN_PATH, "utf8"), { module, console });
  const { client, transport } = makeClient({ module: module.exports });
  for (const method of ["init", "track", "identify", "alias", "page", "reset", "flush"]) {
    assert.equal(typeof client[method], "function", method);
  }
  client.track("from the min build", { ok: true });
  client.identify("user_1");
  assert.equal(await client.flush(), true);
  assert.deepEqual(
    transport.requests.map((request) => request.url),
    ["https://beacon.example.com/track", "https://beacon.example.com/identify"]
  );
  assert.equal(transport.requests[0].body[0].context.library.version, module.exports.VERSION);
});
