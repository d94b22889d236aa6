// Ids, sessions, the message shape, calls before init, the debug code, storage that throws.
import assert from "node:assert/strict";
import { test } from "node:test";

import { BrokenStorage, MemoryStorage, START, loadModule, makeClient } from "./harness.mjs";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("the wire format of each endpoint (what the server reads)", async () => {
  const { client, transport } = makeClient();
  const { VERSION } = loadModule();
  client.track("Order Completed", { amount: 42.5, items: ["a"] });
  client.identify("user_123", { email: "jane@example.com" });
  client.alias("user_456");
  client.page("Pricing", { plan: "pro" });
  await client.flush();
  const [track, identify, alias, page] = transport.events();
  const anonymous = track.anonymous_id;
  assert.match(anonymous, UUID);
  assert.match(track.message_id, UUID);
  assert.match(track.session_id, UUID);
  assert.deepEqual(
    { ...track, message_id: "m", anonymous_id: "a", distinct_id: "a", session_id: "s" },
    {
      message_id: "m",
      timestamp: "2026-01-15T12:00:00.000Z",
      sent_at: "2026-01-15T12:00:00.000Z",
      environment: "staging",
      event: "Order Completed",
      distinct_id: "a",
      anonymous_id: "a",
      session_id: "s",
      properties: { amount: 42.5, items: ["a"] },
      context: {
        library: { name: "beacon.js", version: VERSION },
        page: {
          url: "https://shop.example.com/products?ref=ad",
          path: "/products",
          referrer: "https://www.google.com/",
          title: "Products",
          search: "?ref=ad",
        },
        screen: { width: 1920, height: 1080 },
        viewport: { width: 1280, height: 720 },
        locale: "fr-FR",
        timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
        device: { type: "desktop" },
        app: { version: "2.4.1" },
      },
    }
  );
  assert.equal(track.distinct_id, anonymous, "anonymous: distinct_id is the anonymous id");
  assert.equal(identify.distinct_id, "user_123");
  assert.equal(identify.anonymous_id, anonymous);
  assert.deepEqual(identify.traits, { email: "jane@example.com" });
  assert.equal("event" in identify, false);
  assert.equal(alias.distinct_id, "user_123", "alias: the previous distinct id");
  assert.equal(alias.new_user_id, "user_456");
  assert.equal(page.name, "Pricing");
  assert.deepEqual(page.properties, { plan: "pro" });
  assert.equal(page.distinct_id, "user_456", "after alias, events are the new id's");
  assert.equal(new Set([track, identify, alias, page].map((event) => event.session_id)).size, 1);
});

test("identify, alias and reset move the ids; the anonymous id persists", async () => {
  const storage = new MemoryStorage();
  const { client } = makeClient({ storage });
  const anonymous = client.getAnonymousId();
  assert.match(anonymous, UUID);
  assert.equal(client.getDistinctId(), anonymous);
  assert.equal(makeClient({ storage }).client.getAnonymousId(), anonymous, "same id on the next page load");

  client.identify("user_1");
  assert.equal(client.getDistinctId(), "user_1");
  assert.equal(makeClient({ storage }).client.getDistinctId(), "user_1", "the user id is remembered");
  assert.equal(client.getAnonymousId(), anonymous);

  client.track("x");
  const session = client.getSessionId();
  client.reset();
  const fresh = client.getAnonymousId();
  assert.notEqual(fresh, anonymous);
  assert.equal(client.getDistinctId(), fresh, "reset forgets the user");
  client.track("y");
  assert.notEqual(client.getSessionId(), session, "reset starts a new session");
});

test("a session ends after 30 minutes without events", async () => {
  const { client, clock } = makeClient();
  client.track("a");
  const first = client.getSessionId();
  await clock.tick(29 * 60 * 1000);
  client.track("b");
  assert.equal(client.getSessionId(), first, "29 minutes idle: same session");
  await clock.tick(29 * 60 * 1000);
  client.track("c");
  assert.equal(client.getSessionId(), first, "activity keeps it alive");
  await clock.tick(30 * 60 * 1000 + 1);
  client.track("d");
  const second = client.getSessionId();
  assert.notEqual(second, first);
  assert.match(second, UUID);
  await client.flush();
});

test("calls before init are queued and replayed by init, with their call time", async () => {
  const { createClient } = loadModule();
  const parts = makeClient({ init: false });
  const { client, clock, transport } = parts;
  client.track("early", { n: 1 });
  await clock.tick(1500);
  client.identify("user_9");
  assert.equal(await client.flush(), false);
  await clock.tick(1500);
  assert.equal(transport.requests.length, 0);
  client.init("pk_test_abc", { environment: "staging", autocapture: true });
  await client.flush();
  const events = transport.events();
  assert.deepEqual(
    events.map((event) => [event.event || (event.traits ? "identify" : "page"), event.timestamp]),
    [
      ["early", new Date(START).toISOString()],
      ["identify", new Date(START + 1500).toISOString()],
      ["page", new Date(START + 3000).toISOString()], // autocapture's page view comes after them
    ]
  );
  assert.equal(events[2].distinct_id, "user_9");
  assert.equal(typeof createClient, "function");
});

test("init without an environment warns and sends nothing; a second init is ignored", async () => {
  const { client, clock, transport, warnings } = makeClient({ init: false });
  client.init("pk_test_abc", {});
  assert.match(warnings[0], /environment/);
  client.track("a");
  await clock.tick(60000);
  assert.equal(transport.requests.length, 0);
  client.init("pk_test_abc", { environment: "production", autocapture: false });
  client.init("pk_other", { environment: "staging" });
  assert.match(warnings.at(-1), /already/);
  await client.flush();
  assert.deepEqual(
    transport.events().map((event) => [event.event, event.environment]),
    [["a", "production"]]
  );
});

test("host defaults to the script's origin; an explicit host wins", async () => {
  const own = makeClient();
  own.client.track("a");
  await own.client.flush();
  assert.equal(own.transport.requests[0].url, "https://beacon.example.com/track");

  const explicit = makeClient({ init: { host: "https://ingest.example.org/" } });
  explicit.client.track("a");
  await explicit.client.flush();
  assert.equal(explicit.transport.requests[0].url, "https://ingest.example.org/track");
});

test("?beacon_debug=<code> tags every event of the tab with $debug_session", async () => {
  const sessionStorage = new MemoryStorage();
  const first = makeClient({ url: "https://shop.example.com/?beacon_debug=dbg-42", sessionStorage });
  first.client.track("a", { x: 1 });
  first.client.identify("user_1");
  await first.client.flush();
  for (const event of first.transport.events()) assert.equal(event.properties.$debug_session, "dbg-42");
  assert.equal(first.transport.events()[0].properties.x, 1);
  assert.equal(sessionStorage.getItem("beacon:debug"), "dbg-42");

  // Navigating on in the same tab: the URL no longer has the code, the tab remembers it.
  const next = makeClient({ url: "https://shop.example.com/cart", sessionStorage });
  next.client.track("b");
  await next.client.flush();
  assert.equal(next.transport.events()[0].properties.$debug_session, "dbg-42");

  // Another tab (its own sessionStorage): not tagged.
  const other = makeClient({ url: "https://shop.example.com/cart" });
  other.client.track("c");
  await other.client.flush();
  assert.equal("$debug_session" in other.transport.events()[0].properties, false);

  // The init option does the same.
  const option = makeClient({ init: { debug: "from-option" } });
  option.client.track("d");
  await option.client.flush();
  assert.equal(option.transport.events()[0].properties.$debug_session, "from-option");
});

test("storage that throws (private mode) falls back to memory", async () => {
  const { client, transport, warnings } = makeClient({ storage: new BrokenStorage(), sessionStorage: new BrokenStorage() });
  client.track("a");
  const anonymous = client.getAnonymousId();
  client.identify("user_1");
  client.track("b");
  await client.flush();
  const events = transport.events();
  assert.equal(events.length, 3);
  assert.equal(events[0].distinct_id, anonymous);
  assert.equal(events[2].distinct_id, "user_1");
  assert.equal(events[0].session_id, events[2].session_id);
  assert.deepEqual(warnings, []);
});

test("public methods never throw at the host page", async () => {
  const { client, transport, warnings } = makeClient();
  const cyclic = { name: "loop" };
  cyclic.self = cyclic;
  assert.doesNotThrow(() => client.track("cyclic", cyclic));
  assert.doesNotThrow(() => client.track(undefined));
  assert.doesNotThrow(() => client.identify());
  assert.doesNotThrow(() => client.alias(""));
  assert.doesNotThrow(() => client.page(null, 42));
  assert.equal(warnings.length, 4);
  transport.post = () => {
    throw new Error("transport exploded");
  };
  client.track("ok");
  assert.equal(await client.flush(), false);
  const exploding = makeClient({ deps: { now: () => { throw new Error("clock exploded"); } }, init: false });
  assert.doesNotThrow(() => exploding.client.track("a"));
  assert.doesNotThrow(() => exploding.client.init("pk", { environment: "x" }));
});

test("the device type comes from the user agent", async () => {
  const agents = {
    mobile: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    tablet: "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    desktop: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
  };
  for (const [type, userAgent] of Object.entries(agents)) {
    const parts = makeClient({ init: false });
    parts.navigator.userAgent = userAgent;
    parts.client.init("pk_test_abc", { environment: "staging", autocapture: false });
    parts.client.track("a");
    await parts.client.flush();
    assert.equal(parts.transport.events()[0].context.device.type, type, userAgent);
  }
});
