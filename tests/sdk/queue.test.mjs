// The queue: batching, order, persistence, retries, sendBeacon on hide, offline.
import assert from "node:assert/strict";
import { test } from "node:test";

import { MemoryStorage, makeClient, START } from "./harness.mjs";

const QUEUE = "beacon:pk_test_abc:queue";

test("a batch leaves as soon as 20 events are queued, not before", async () => {
  const { client, clock, transport } = makeClient();
  for (let i = 0; i < 19; i++) client.track("e" + i);
  await clock.tick(0);
  assert.equal(transport.requests.length, 0);
  client.track("e19");
  await clock.tick(0);
  assert.equal(transport.requests.length, 1);
  assert.equal(transport.requests[0].url, "https://beacon.example.com/track");
  assert.deepEqual(
    transport.requests[0].body.map((event) => event.event),
    Array.from({ length: 20 }, (_, i) => "e" + i)
  );
});

test("fewer events leave after flushInterval (5 s by default, or as configured)", async () => {
  const { client, clock, transport } = makeClient();
  client.track("one");
  await clock.tick(4999);
  assert.equal(transport.requests.length, 0);
  await clock.tick(1);
  assert.equal(transport.requests.length, 1);
  assert.equal(transport.requests[0].at, START + 5000);

  const custom = makeClient({ init: { batchSize: 3, flushInterval: 1000 } });
  custom.client.track("a");
  custom.client.track("b");
  await custom.clock.tick(999);
  assert.equal(custom.transport.requests.length, 0);
  await custom.clock.tick(1);
  assert.equal(custom.transport.requests.length, 1);
  for (const name of ["c", "d", "e"]) custom.client.track(name);
  await custom.clock.tick(0);
  assert.deepEqual(
    custom.transport.requests[1].body.map((event) => event.event),
    ["c", "d", "e"]
  );
});

test("items leave in order, in runs of one endpoint, one request at a time", async () => {
  const { client, clock, transport } = makeClient();
  transport.respond = () => new Promise((resolve) => setTimeout(() => resolve({ status: 200 }), 5));
  client.track("a");
  client.identify("user_1", { plan: "pro" });
  client.track("b");
  client.track("c");
  client.page("Home");
  client.alias("user_2");
  client.track("d");
  const flushed = client.flush();
  for (let i = 0; i < 10; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    await clock.tick(0);
  }
  assert.equal(await flushed, true);
  assert.deepEqual(
    transport.requests.map((request) => [
      request.url.replace("https://beacon.example.com", ""),
      request.body.map((event) => event.event || event.name || event.new_user_id || event.distinct_id),
    ]),
    [
      ["/track", ["a"]],
      ["/identify", ["user_1"]],
      ["/track", ["b", "c"]],
      ["/page", ["Home"]],
      ["/alias", ["user_2"]],
      ["/track", ["d"]],
    ]
  );
  assert.equal(transport.maxInFlight, 1);
});

test("the queue is saved in localStorage; another client with the same storage sends it", async () => {
  const storage = new MemoryStorage();
  const first = makeClient({ storage });
  first.client.track("a", { n: 1 });
  first.client.track("b", { n: 2 });
  const saved = storage.json(QUEUE);
  assert.deepEqual(
    saved.map((item) => [item.endpoint, item.message.event]),
    [
      ["track", "a"],
      ["track", "b"],
    ]
  );
  // The page closes before the flush: the next page load (same storage) sends them, ids unchanged.
  const second = makeClient({ storage });
  await second.clock.tick(0);
  assert.equal(second.transport.requests.length, 1);
  assert.deepEqual(
    second.transport.requests[0].body.map((event) => event.message_id),
    saved.map((item) => item.message.message_id)
  );
  assert.equal(storage.getItem(QUEUE), null, "delivered items leave the storage");
  assert.equal(first.transport.requests.length, 0);
});

test("two tabs saving under one key keep each other's items", () => {
  const storage = new MemoryStorage();
  const tabA = makeClient({ storage });
  const tabB = makeClient({ storage });
  tabA.client.track("from A");
  tabB.client.track("from B");
  tabA.client.track("from A again");
  assert.deepEqual(
    storage.json(QUEUE).map((item) => item.message.event),
    ["from B", "from A", "from A again"]
  );
});

test("the queue is capped at 1000 items: the oldest are dropped, with a warning", () => {
  const { client, storage, warnings } = makeClient({ online: false });
  for (let i = 0; i < 1005; i++) client.track("e" + i);
  const saved = storage.json(QUEUE);
  assert.equal(saved.length, 1000);
  assert.equal(saved[0].message.event, "e5");
  assert.ok(warnings.some((warning) => warning.includes("dropping the oldest")));
});

test("5xx, 429 and network errors retry with exponential backoff and full jitter, ids unchanged", async () => {
  const randoms = [0.5, 0.25, 1, 0.5, 0.1, 0.9, 0.999, 0.5];
  const { client, clock, transport } = makeClient({ random: () => randoms.shift() });
  const failures = [
    { status: 503 },
    { status: 500 },
    { status: 429 },
    () => {
      throw new TypeError("Failed to fetch");
    },
    { status: 502 },
    { status: 504 },
    { status: 503 },
  ];
  transport.respond = () => {
    const next = failures.shift();
    if (typeof next === "function") return next();
    return next || { status: 200 };
  };
  client.track("checkout", { step: 1 });
  client.track("paid");
  await client.flush();
  await clock.tick(10 * 60 * 1000);
  const times = transport.requests.map((request) => request.at - START);
  const delays = times.slice(1).map((time, i) => time - times[i]);
  // random() * min(60 s, 1 s * 2^attempt): 0.5 * 1 s, 0.25 * 2 s, 1 * 4 s, ..., 0.999 * 60 s (capped)
  assert.deepEqual(delays, [500, 500, 4000, 4000, 1600, 28800, 59940]);
  assert.equal(transport.requests.length, 8);
  const ids = transport.requests.map((request) => request.body.map((event) => event.message_id).join());
  assert.equal(new Set(ids).size, 1, "the same message ids on every try");
  const sentAts = transport.requests.map((request) => request.body[0].sent_at);
  assert.equal(new Set(sentAts).size, 8, "sent_at says when each try left");
  assert.equal(transport.requests[0].body[0].timestamp, new Date(START).toISOString());
});

test("Retry-After is honoured, in seconds and as an HTTP date", async () => {
  const seconds = makeClient();
  const replies = [{ status: 429, headers: { "Retry-After": "7" } }, { status: 200 }];
  seconds.transport.respond = () => replies.shift();
  seconds.client.track("a");
  await seconds.client.flush();
  await seconds.clock.tick(6999);
  assert.equal(seconds.transport.requests.length, 1);
  await seconds.clock.tick(1);
  assert.equal(seconds.transport.requests.length, 2);

  const date = makeClient();
  const retryAt = new Date(START + 12000).toUTCString();
  const dated = [{ status: 503, headers: { "retry-after": retryAt } }, { status: 200 }];
  date.transport.respond = () => dated.shift();
  date.client.track("a");
  await date.client.flush();
  assert.deepEqual(date.clock.pending(), [12000]);
  await date.clock.tick(12000);
  assert.equal(date.transport.requests.length, 2);
  assert.equal(date.transport.requests[1].at, START + 12000);
});

test("flush() during a backoff resolves false and keeps the schedule", async () => {
  const { client, clock, transport } = makeClient();
  transport.respond = () => ({ status: 503 });
  client.track("a");
  assert.equal(await client.flush(), false);
  assert.equal(await client.flush(), false);
  assert.equal(transport.requests.length, 1);
  transport.respond = () => ({ status: 200 });
  await clock.tick(500);
  assert.equal(transport.requests.length, 2);
  assert.equal(await client.flush(), true);
});

for (const status of [400, 401, 413]) {
  test(`HTTP ${status} drops the batch with a warning showing the server's message`, async () => {
    const { client, clock, transport, storage, warnings } = makeClient();
    const message = `the server says no (${status})`;
    transport.respond = () => ({ status, body: JSON.stringify({ ok: false, code: status, message }) });
    client.track("a");
    client.track("b");
    assert.equal(await client.flush(), true);
    assert.equal(transport.requests.length, 1);
    assert.equal(storage.getItem(QUEUE), null);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], new RegExp(`HTTP ${status}.*${message.replace(/[()]/g, "\\$&")}`));
    await clock.tick(120000);
    assert.equal(transport.requests.length, 1, "never retried");
    transport.respond = () => ({ status: 200 });
    client.track("c");
    await client.flush();
    assert.deepEqual(transport.requests[1].body.map((event) => event.event), ["c"]);
  });
}

test("a fetch body stays under the keepalive limit; a huge event goes alone without keepalive", async () => {
  const { client, transport } = makeClient({ init: { batchSize: 100 } });
  const filler = "x".repeat(10 * 1024);
  for (let i = 0; i < 12; i++) client.track("big" + i, { filler });
  client.track("huge", { filler: "é".repeat(40 * 1024) }); // 80 KB in UTF-8
  client.track("after");
  await client.flush();
  assert.ok(transport.requests.length >= 4);
  for (const request of transport.requests) {
    if (request.body.length > 1) assert.ok(request.bytes <= 64 * 1024, `${request.bytes} bytes`);
  }
  const huge = transport.requests.find((request) => request.body[0].event === "huge");
  assert.equal(huge.body.length, 1);
  assert.equal(huge.keepalive, false);
  assert.equal(transport.requests.at(-1).keepalive, true);
  assert.deepEqual(
    transport.events().map((event) => event.event),
    [...Array.from({ length: 12 }, (_, i) => "big" + i), "huge", "after"]
  );
});

test("page hide hands the queue to sendBeacon, with the key in the query string", async () => {
  const { client, clock, transport, storage, document, window } = makeClient();
  client.track("a");
  client.identify("user_1");
  client.track("b");
  document.visibilityState = "hidden";
  document.dispatch("visibilitychange");
  assert.deepEqual(
    transport.beacons.map((beacon) => [beacon.url, beacon.body.map((event) => event.event || event.distinct_id)]),
    [
      ["https://beacon.example.com/track?apiKey=pk_test_abc", ["a"]],
      ["https://beacon.example.com/identify?apiKey=pk_test_abc", ["user_1"]],
      ["https://beacon.example.com/track?apiKey=pk_test_abc", ["b"]],
    ]
  );
  assert.ok(transport.beacons[0].body[0].sent_at);
  assert.equal(storage.getItem(QUEUE), null);
  window.dispatch("pagehide"); // fires too when the page unloads: nothing left to send
  assert.equal(transport.beacons.length, 3);
  await clock.tick(10000);
  assert.equal(transport.requests.length, 0, "nothing is sent twice");
});

test("items whose sendBeacon returned false stay queued and go with the next flush", async () => {
  const { client, clock, transport, storage, window } = makeClient();
  client.track("a");
  client.track("b");
  client.page();
  transport.beaconResult = () => transport.beacons.length === 1; // the first one fits, then the budget is gone
  window.dispatch("pagehide");
  assert.equal(transport.beacons.length, 2);
  assert.deepEqual(
    storage.json(QUEUE).map((item) => item.endpoint),
    ["page"]
  );
  const pageId = storage.json(QUEUE)[0].message.message_id;
  await clock.tick(5000);
  assert.equal(transport.requests.length, 1);
  assert.equal(transport.requests[0].url, "https://beacon.example.com/page");
  assert.equal(transport.requests[0].body[0].message_id, pageId);
});

test("sendBeacon bodies are split under 64 KB", () => {
  const { client, transport, window } = makeClient({ init: { batchSize: 1000 } });
  for (let i = 0; i < 10; i++) client.track("e" + i, { filler: "y".repeat(20 * 1024) });
  window.dispatch("pagehide");
  assert.ok(transport.beacons.length >= 4);
  for (const beacon of transport.beacons) assert.ok(beacon.bytes <= 64 * 1024);
  assert.equal(transport.beacons.flatMap((beacon) => beacon.body).length, 10);
});

test("offline keeps the queue; the online event flushes it", async () => {
  const { client, clock, transport, navigator, window, storage } = makeClient({ online: false });
  client.track("a");
  client.track("b");
  await clock.tick(60000);
  assert.equal(transport.requests.length, 0);
  assert.equal(storage.json(QUEUE).length, 2);
  navigator.onLine = true;
  window.dispatch("online");
  await clock.tick(0);
  assert.deepEqual(transport.events().map((event) => event.event), ["a", "b"]);
});

test("a network error while online backs off; coming back online retries at once", async () => {
  const { client, clock, transport, navigator, window } = makeClient();
  transport.respond = () => {
    throw new TypeError("Failed to fetch");
  };
  client.track("a");
  await client.flush();
  assert.deepEqual(clock.pending(), [500]);
  navigator.onLine = false;
  await clock.tick(500);
  assert.equal(transport.requests.length, 1, "not sent while offline");
  transport.respond = () => ({ status: 200 });
  navigator.onLine = true;
  window.dispatch("online");
  await clock.tick(0);
  assert.equal(transport.requests.length, 2);
  assert.equal(transport.requests[1].body[0].message_id, transport.requests[0].body[0].message_id);
});
