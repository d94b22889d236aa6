// Test doubles for static/sdk/beacon.js: the SDK runs in a `vm` context (as a browser would run the
// file: no bundler, no `require`), with fake timers, storage, transport, window and document.
import { readFileSync } from "node:fs";
import { webcrypto } from "node:crypto";
import vm from "node:vm";

export const SOURCE_URL = new URL("../../static/sdk/beacon.js", import.meta.url);
export const SOURCE = readFileSync(SOURCE_URL, "utf8");
export const START = Date.UTC(2026, 0, 15, 12, 0, 0); // a whole second: HTTP dates have no ms

/** The file's `module.exports` ({createClient, VERSION}), from a fresh context. */
export function loadModule() {
  const module = { exports: {} };
  vm.runInNewContext(SOURCE, { module, console }, { filename: "beacon.js" });
  return module.exports;
}

/** Let every pending promise callback run (the SDK's sends are promise chains). */
export async function settle() {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

export class Clock {
  constructor(start = START) {
    this.time = start;
    this.timers = [];
    this.sequence = 0;
    this.now = () => this.time;
    this.setTimeout = (fn, ms) => {
      const id = ++this.sequence;
      this.timers.push({ id, at: this.time + Math.max(0, Number(ms) || 0), fn });
      return id;
    };
    this.clearTimeout = (id) => {
      this.timers = this.timers.filter((timer) => timer.id !== id);
    };
  }

  /** Advance by `ms`, running the timers that fall due, in order, settling promises between them. */
  async tick(ms) {
    const end = this.time + ms;
    for (;;) {
      await settle();
      const due = this.timers
        .filter((timer) => timer.at <= end)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((timer) => timer !== due);
      this.time = due.at;
      due.fn();
    }
    this.time = end;
    await settle();
  }

  /** Delays (from now) of the pending timers. */
  pending() {
    return this.timers.map((timer) => timer.at - this.time).sort((a, b) => a - b);
  }
}

export class MemoryStorage {
  constructor() {
    this.data = new Map();
  }
  getItem(key) {
    return this.data.has(key) ? this.data.get(key) : null;
  }
  setItem(key, value) {
    this.data.set(key, String(value));
  }
  removeItem(key) {
    this.data.delete(key);
  }
  json(key) {
    return JSON.parse(this.getItem(key));
  }
}

/** localStorage in Safari's old private mode, or with cookies blocked: every call throws. */
export class BrokenStorage {
  getItem() {
    throw new Error("SecurityError: storage is disabled");
  }
  setItem() {
    throw new Error("QuotaExceededError");
  }
  removeItem() {
    throw new Error("SecurityError: storage is disabled");
  }
}

export function response({ status = 200, headers = {}, body = '{"ok": true}' } = {}) {
  const lower = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  return { status, headers: { get: (name) => lower[name.toLowerCase()] ?? null }, text: async () => body };
}

/** Records requests; `respond(request)` returns {status, headers, body}, or throws for a network error. */
export class FakeTransport {
  constructor(clock) {
    this.clock = clock;
    this.requests = [];
    this.beacons = [];
    this.beaconResult = true;
    this.inFlight = 0;
    this.maxInFlight = 0;
    this.respond = () => ({ status: 200 });
    this.post = (url, body, headers, keepalive) => {
      const request = { url, body: JSON.parse(body), bytes: Buffer.byteLength(body), headers, keepalive, at: clock.time };
      this.requests.push(request);
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      return Promise.resolve()
        .then(() => this.respond(request))
        .then(
          (reply) => {
            this.inFlight--;
            return response(reply);
          },
          (error) => {
            this.inFlight--;
            throw error;
          }
        );
    };
    this.beacon = (url, body) => {
      this.beacons.push({ url, body: JSON.parse(body), bytes: Buffer.byteLength(body) });
      return typeof this.beaconResult === "function" ? this.beaconResult() : this.beaconResult;
    };
  }
  events() {
    return this.requests.flatMap((request) => request.body);
  }
}

export class FakeTarget {
  constructor() {
    this.listeners = {};
  }
  addEventListener(type, fn) {
    (this.listeners[type] ||= []).push(fn);
  }
  dispatch(type, event = {}) {
    for (const fn of this.listeners[type] || []) fn({ type, target: this, ...event });
  }
}

export class FakeElement {
  constructor({ tagName = "BUTTON", id = "", attributes = {}, parent = null } = {}) {
    this.tagName = tagName;
    this.id = id;
    this.attributes = attributes;
    this.parentElement = parent;
  }
  getAttribute(name) {
    return Object.prototype.hasOwnProperty.call(this.attributes, name) ? this.attributes[name] : null;
  }
}

export function fakeLocation(url) {
  const location = {};
  location.assign = (next) => {
    const parsed = new URL(next, location.href || undefined);
    Object.assign(location, {
      href: parsed.href,
      pathname: parsed.pathname,
      search: parsed.search,
      hash: parsed.hash,
      origin: parsed.origin,
    });
  };
  location.assign(url);
  return location;
}

/**
 * A client with everything faked. Returns the pieces for the test to drive and inspect.
 * options: url, storage, sessionStorage, random, online, init (options for init, or false), key, deps.
 */
export function makeClient(options = {}) {
  const { createClient } = options.module || loadModule();
  const clock = options.clock || new Clock();
  const transport = options.transport || new FakeTransport(clock);
  const storage = options.storage || new MemoryStorage();
  const sessionStorage = options.sessionStorage || new MemoryStorage();
  const location = fakeLocation(options.url || "https://shop.example.com/products?ref=ad");
  const document = new FakeTarget();
  Object.assign(document, {
    title: "Products",
    referrer: "https://www.google.com/",
    visibilityState: "visible",
    meta: { "app-version": "2.4.1" },
    querySelector(selector) {
      const match = /meta\[name="([^"]+)"\]/.exec(selector);
      const content = match && this.meta[match[1]];
      return content ? { getAttribute: () => content } : null;
    },
  });
  const window = new FakeTarget();
  const navigator = {
    userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    language: "fr-FR",
    onLine: options.online ?? true,
    maxTouchPoints: 0,
  };
  Object.assign(window, {
    screen: { width: 1920, height: 1080 },
    innerWidth: 1280,
    innerHeight: 720,
    history: {
      pushState(state, title, url) {
        location.assign(url);
      },
      replaceState(state, title, url) {
        if (url != null) location.assign(url);
      },
    },
  });
  const warnings = [];
  const fakeConsole = { warn: (...args) => warnings.push(args.map(String).join(" ")) };
  const client = createClient({
    transport,
    storage,
    sessionStorage,
    now: clock.now,
    random: options.random || (() => 0.5),
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    window,
    location,
    document,
    navigator,
    crypto: webcrypto,
    console: fakeConsole,
    scriptSrc: "https://beacon.example.com/sdk/beacon.min.js",
    ...options.deps,
  });
  const key = options.key || "pk_test_abc";
  if (options.init !== false) {
    client.init(key, { environment: "staging", autocapture: false, ...options.init });
  }
  return { client, clock, transport, storage, sessionStorage, location, document, window, navigator, warnings, key };
}
