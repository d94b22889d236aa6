// What the SDK does with the page: page views, data-track clicks, errors, web vitals, the script tag.
import assert from "node:assert/strict";
import { test } from "node:test";
import vm from "node:vm";

import { FakeElement, FakeTarget, SOURCE, makeClient } from "./harness.mjs";

function clickOn(document, target) {
  document.dispatch("click", { target });
}

test("autocapture: the initial page view, history navigation, deduped on an unchanged URL", async () => {
  const { client, clock, transport, window, location } = makeClient({ init: { autocapture: true } });
  window.history.pushState({}, "", "/products/42");
  await clock.tick(0);
  window.history.replaceState({ scroll: 10 }, ""); // same URL: not a new page
  await clock.tick(0);
  window.history.pushState({}, "", "/products/42"); // same URL again
  await clock.tick(0);
  window.history.replaceState({}, "", "/products/42?tab=reviews");
  await clock.tick(0);
  location.assign("/products");
  window.dispatch("popstate");
  await clock.tick(0);
  await client.flush();
  const pages = transport.events();
  assert.ok(transport.requests.every((request) => request.url.endsWith("/page")));
  assert.deepEqual(
    pages.map((event) => event.context.page.url),
    [
      "https://shop.example.com/products?ref=ad",
      "https://shop.example.com/products/42",
      "https://shop.example.com/products/42?tab=reviews",
      "https://shop.example.com/products",
    ]
  );
  assert.equal("name" in pages[0], false);
});

test("autocapture off: no page view and no click tracking", async () => {
  const { client, transport, document, window } = makeClient({ init: { autocapture: false } });
  window.history.pushState({}, "", "/elsewhere");
  clickOn(document, new FakeElement({ attributes: { "data-track": "cta_clicked" } }));
  await client.flush();
  assert.equal(transport.requests.length, 0);
});

test("data-track on the clicked element or an ancestor sends the event with data-track-props", async () => {
  const { client, transport, document } = makeClient({ init: { autocapture: true } });
  const button = new FakeElement({
    attributes: { "data-track": "add_to_cart", "data-track-props": '{"product_id": "p-1", "price": 12.5}' },
  });
  const icon = new FakeElement({ tagName: "SVG", parent: button });
  clickOn(document, icon);
  clickOn(document, new FakeElement({ attributes: { "data-track": "plain" } }));
  clickOn(document, new FakeElement({ tagName: "DIV" })); // nothing to track
  await client.flush();
  const clicks = transport.events().filter((event) => event.event);
  assert.deepEqual(
    clicks.map((event) => [event.event, event.properties]),
    [
      ["add_to_cart", { product_id: "p-1", price: 12.5 }],
      ["plain", {}],
    ]
  );
});

test("invalid data-track-props warns, naming the element, and sends nothing", async () => {
  const { client, transport, document, warnings } = makeClient({ init: { autocapture: true } });
  await client.flush();
  const before = transport.events().length; // the initial page view
  const broken = new FakeElement({
    id: "buy",
    attributes: { "data-track": "purchase", "data-track-props": "{price: 12}" },
  });
  const notAnObject = new FakeElement({ attributes: { "data-track": "purchase", "data-track-props": "[1, 2]" } });
  clickOn(document, broken);
  clickOn(document, notAnObject);
  await client.flush();
  assert.equal(transport.events().length, before);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /<button#buy data-track="purchase">/);
  assert.match(warnings[0], /not a JSON object/);
});

test("captureErrors: errors and unhandled rejections become $exception, capped, never the SDK's own", async () => {
  const { client, transport, window } = makeClient({ init: { captureErrors: true } });
  const error = new TypeError("x is undefined");
  window.dispatch("error", {
    error,
    message: "Uncaught TypeError: x is undefined",
    filename: "https://shop.example.com/app.js",
    lineno: 10,
    colno: 4,
  });
  window.dispatch("unhandledrejection", { reason: new RangeError("bad range") });
  window.dispatch("unhandledrejection", { reason: "just a string" });
  // The SDK's own file: never reported (an error while reporting could loop).
  window.dispatch("error", {
    error: new Error("inside"),
    message: "inside",
    filename: "https://beacon.example.com/sdk/beacon.min.js",
  });
  await client.flush();
  const [first, second, third, ...rest] = transport.events();
  assert.equal(rest.length, 0);
  assert.equal(first.event, "$exception");
  assert.deepEqual(
    { ...first.properties, stack: first.properties.stack.split("\n")[0] },
    {
      message: "Uncaught TypeError: x is undefined",
      type: "TypeError",
      stack: "TypeError: x is undefined",
      source: "https://shop.example.com/app.js",
      lineno: 10,
      colno: 4,
    }
  );
  assert.deepEqual([second.properties.type, second.properties.message], ["RangeError", "bad range"]);
  assert.deepEqual([third.properties.type, third.properties.message], ["UnhandledRejection", "just a string"]);

  for (let i = 0; i < 50; i++) window.dispatch("error", { error: new Error("again " + i), message: "again " + i });
  await client.flush();
  assert.equal(transport.events().length, 20, "at most 20 per page");
});

test("captureErrors is off by default", async () => {
  const { client, transport, window } = makeClient();
  window.dispatch("error", { error: new Error("x"), message: "x" });
  await client.flush();
  assert.equal(transport.requests.length, 0);
});

test("webVitals: LCP, CLS, INP, FCP and TTFB reported once as $web_vitals when the page is hidden", async () => {
  const observers = [];
  class FakeObserver {
    constructor(callback) {
      this.callback = callback;
    }
    observe(options) {
      assert.equal(options.buffered, true);
      this.type = options.type;
      observers.push(this);
    }
  }
  function emit(type, entries) {
    for (const observer of observers.filter((o) => o.type === type)) observer.callback({ getEntries: () => entries });
  }
  const parts = makeClient({ init: false });
  parts.window.PerformanceObserver = FakeObserver;
  parts.window.performance = {
    getEntriesByType: (type) => (type === "navigation" ? [{ responseStart: 123.4, activationStart: 0 }] : []),
  };
  const { client, transport, document, window } = parts;
  client.init("pk_test_abc", { environment: "staging", autocapture: false, webVitals: true });
  emit("paint", [{ name: "first-paint", startTime: 300 }, { name: "first-contentful-paint", startTime: 350.6 }]);
  emit("largest-contentful-paint", [{ startTime: 900 }, { startTime: 1200.2 }]);
  emit("layout-shift", [
    { value: 0.05, startTime: 1000, hadRecentInput: false },
    { value: 0.04, startTime: 1500, hadRecentInput: false }, // same burst: 0.09
    { value: 0.5, startTime: 1600, hadRecentInput: true }, // after input: ignored
    { value: 0.07, startTime: 4000, hadRecentInput: false }, // a new burst
  ]);
  emit("event", [
    { interactionId: 1, duration: 80 },
    { interactionId: 0, duration: 500 }, // not an interaction
    { interactionId: 2, duration: 240 },
  ]);
  document.visibilityState = "hidden";
  document.dispatch("visibilitychange");
  window.dispatch("pagehide");
  document.dispatch("visibilitychange");
  const vitals = transport.beacons.flatMap((beacon) => beacon.body).filter((event) => event.event === "$web_vitals");
  assert.equal(vitals.length, 1);
  assert.deepEqual(vitals[0].properties, { lcp: 1200, cls: 0.09, inp: 240, fcp: 351, ttfb: 123 });
  assert.deepEqual(
    observers.map((observer) => observer.type).sort(),
    ["event", "largest-contentful-paint", "layout-shift", "paint"]
  );
  await client.flush();
});

/** Runs the file the way a browser does: a <script> tag, `window` and `document` globals. */
function browserContext(existing) {
  const document = new FakeTarget();
  document.currentScript = { src: "https://cdn.beacon.example.com/sdk/beacon.js" };
  document.title = "t";
  document.referrer = "";
  document.querySelector = () => null;
  const window = new FakeTarget();
  const requests = [];
  Object.assign(window, {
    document,
    location: { href: "https://shop.example.com/", pathname: "/", search: "", origin: "https://shop.example.com" },
    navigator: { userAgent: "test", language: "en", onLine: true, sendBeacon: () => true },
    history: {},
    localStorage: null,
    sessionStorage: null,
    fetch: (url, init) => {
      requests.push({ url, init });
      return Promise.resolve({ status: 200, headers: { get: () => null }, text: async () => "{}" });
    },
    Blob,
    setTimeout,
    clearTimeout,
    console: { warn() {} },
  });
  if (existing) window.beacon = existing;
  window.window = window;
  const context = vm.createContext(window);
  return { context, window, requests };
}

test("in a browser: defines window.beacon, replays a stub's calls, a second load is a no-op", async () => {
  const stub = [];
  stub.push(["init", "pk_live", { environment: "production", autocapture: false, batchSize: 2 }]);
  stub.push(["track", "queued before load", { a: 1 }]);
  const { context, window, requests } = browserContext(stub);
  vm.runInContext(SOURCE, context, { filename: "beacon.js" });
  const first = window.beacon;
  assert.equal(typeof first.track, "function");
  assert.equal(typeof first.__createClient, "function");
  vm.runInContext(SOURCE, context, { filename: "beacon.js" });
  assert.equal(window.beacon, first, "the second copy keeps the first");
  first.track("after load");
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(requests.length, 1);
  const [{ url, init }] = requests;
  assert.equal(url, "https://cdn.beacon.example.com/track", "host: the script's origin");
  assert.equal(init.method, "POST");
  assert.equal(init.keepalive, true);
  assert.equal(init.headers["X-API-Key"], "pk_live");
  assert.deepEqual(
    JSON.parse(init.body).map((event) => event.event),
    ["queued before load", "after load"]
  );
});

test("in a browser: sendBeacon gets a text/plain Blob and the key in the URL", async () => {
  const { context, window } = browserContext();
  const beacons = [];
  window.navigator.sendBeacon = (url, blob) => {
    beacons.push({ url, blob });
    return true;
  };
  vm.runInContext(SOURCE, context, { filename: "beacon.js" });
  window.beacon.init("pk_live", { environment: "production", autocapture: false });
  window.beacon.track("a");
  window.dispatch("pagehide");
  assert.equal(beacons.length, 1);
  assert.equal(beacons[0].url, "https://cdn.beacon.example.com/track?apiKey=pk_live");
  assert.equal(beacons[0].blob.type, "text/plain;charset=utf-8");
  assert.equal(JSON.parse(await beacons[0].blob.text())[0].event, "a");
});
