/*!
 * beacon.js: Beacon's browser SDK (DESIGN.md section 9). Dependency-free, ES2017.
 *
 *   <script src="https://beacon.example.com/sdk/beacon.min.js" defer></script>
 *   beacon.init("pk_...", { environment: "production" });
 *   beacon.track("Signed Up", { plan: "pro" });
 *
 * Calls made before the script loads can go to a stub: `window.beacon = [["track", "x", {}], ...]`
 * (or the usual snippet that defines `beacon.track = (...a) => beacon.push(["track", ...a])`); they are
 * replayed in order once the SDK is here. Calls made before `init` are kept and replayed by `init`.
 *
 * The queue, retry and session logic lives in `createClient(deps)`, which takes every browser API
 * it uses as a dependency so the tests can run it in Node with fake timers, storage and transport.
 */
(function () {
  "use strict";

  var VERSION = "1.0.0";
  var LIBRARY = "beacon.js";
  var ENDPOINTS = ["track", "identify", "alias", "page"];

  var SESSION_IDLE_MS = 30 * 60 * 1000;
  var MAX_QUEUE = 1000;
  var MAX_PENDING_CALLS = 100; // calls made before init
  var MAX_ERRORS_PER_PAGE = 20;
  var MAX_STACK = 4000;
  var RETRY_BASE_MS = 1000;
  var RETRY_MAX_MS = 60 * 1000;
  var RETRY_AFTER_MAX_MS = 60 * 60 * 1000;
  // keepalive fetches and sendBeacon share a ~64 KB budget per page: stay under it with room for
  // the sent_at stamps, the brackets and the commas.
  var MAX_BODY_BYTES = 60 * 1024;

  function noop() {}

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  // UTF-8 length without allocating (a Blob or TextEncoder per event would be wasteful).
  function utf8Length(text) {
    var bytes = 0;
    for (var i = 0; i < text.length; i++) {
      var code = text.charCodeAt(i);
      bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code >= 0xd800 && code <= 0xdfff ? 2 : 3;
    }
    return bytes;
  }

  /** Storage that never throws: private mode, disabled cookies or a full quota fall back to memory. */
  function safeStorage(real) {
    var memory = {};
    var memoryOnly = {}; // keys whose last write failed: the real storage holds a stale value
    return {
      get: function (key) {
        if (real && !memoryOnly[key]) {
          try {
            return real.getItem(key);
          } catch (error) {
            /* fall through to memory */
          }
        }
        return Object.prototype.hasOwnProperty.call(memory, key) ? memory[key] : null;
      },
      set: function (key, value) {
        memory[key] = value;
        try {
          real.setItem(key, value);
          delete memoryOnly[key];
        } catch (error) {
          memoryOnly[key] = true;
        }
      },
      remove: function (key) {
        delete memory[key];
        delete memoryOnly[key];
        try {
          real.removeItem(key);
        } catch (error) {
          /* nothing to remove */
        }
      },
    };
  }

  function parseJSON(text, fallback) {
    if (text == null) return fallback;
    try {
      return JSON.parse(text);
    } catch (error) {
      return fallback;
    }
  }

  // Reading `window.localStorage` itself throws in sandboxed iframes.
  function browserStorage(name) {
    try {
      return typeof window !== "undefined" ? window[name] : null;
    } catch (error) {
      return null;
    }
  }

  function browserTransport(win) {
    return {
      post: function (url, body, headers, keepalive) {
        return win.fetch(url, { method: "POST", keepalive: keepalive, headers: headers, body: body });
      },
      // No headers with sendBeacon: text/plain is a "simple" type, so no CORS preflight either.
      beacon:
        win.navigator && typeof win.navigator.sendBeacon === "function"
          ? function (url, body) {
              return win.navigator.sendBeacon(url, new win.Blob([body], { type: "text/plain;charset=UTF-8" }));
            }
          : null,
    };
  }

  /**
   * One Beacon client. Every dependency is optional and defaults to the browser's own.
   * deps: {transport: {post(url, body, headers, keepalive) -> Promise<Response>, beacon(url, body) -> bool},
   *        storage, sessionStorage, now, random, setTimeout, clearTimeout, window, location, document,
   *        navigator, crypto, console, scriptSrc}
   */
  function createClient(deps) {
    deps = deps || {};
    var hasWindow = typeof window !== "undefined";
    var win = deps.window || (hasWindow ? window : null);
    var doc = deps.document || (win && win.document) || null;
    var loc = deps.location || (win && win.location) || null;
    var nav = deps.navigator || (win && win.navigator) || null;
    var cryptoApi = deps.crypto || (win && win.crypto) || (typeof crypto !== "undefined" ? crypto : null);
    var logger = deps.console || (typeof console !== "undefined" ? console : { warn: noop });
    var now =
      deps.now ||
      function () {
        return Date.now();
      };
    var random = deps.random || Math.random;
    var setTimer = deps.setTimeout || setTimeout;
    var clearTimer = deps.clearTimeout || clearTimeout;
    var transport = deps.transport || (win ? browserTransport(win) : null);
    var storage = safeStorage(deps.storage !== undefined ? deps.storage : browserStorage("localStorage"));
    var tabStorage = safeStorage(
      deps.sessionStorage !== undefined ? deps.sessionStorage : browserStorage("sessionStorage")
    );
    var scriptSrc = deps.scriptSrc || "";

    var config = null; // set by init
    var keys = null; // storage keys, per write key
    var pending = []; // [method, args, timestamp] called before init
    var queue = []; // [{endpoint, message}] oldest first
    var known = {}; // message ids this tab has queued, sent or dropped (see persist)
    var inflight = {}; // message ids of the request on the wire
    var draining = null; // the promise of the running drain
    var flushTimer = null;
    var retryTimer = null;
    var attempt = 0; // consecutive failures, for the backoff
    var dropped = 0;
    var debugCode = null;
    var lastPageUrl = null;
    var errorsReported = 0;
    var reportingError = false;
    var reportVitals = noop;

    function warn() {
      try {
        logger.warn.apply(logger, ["[beacon]"].concat([].slice.call(arguments)));
      } catch (error) {
        /* no console */
      }
    }

    function isoTime(ms) {
      return new Date(ms).toISOString();
    }

    function uuid() {
      if (cryptoApi && typeof cryptoApi.randomUUID === "function") {
        try {
          return cryptoApi.randomUUID(); // only in secure contexts (https, localhost)
        } catch (error) {
          /* fall back */
        }
      }
      var bytes = new Array(16);
      if (cryptoApi && typeof cryptoApi.getRandomValues === "function") {
        bytes = cryptoApi.getRandomValues(new Uint8Array(16));
      } else {
        for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
      }
      bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
      bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
      var hex = "";
      for (var j = 0; j < 16; j++) {
        hex += (bytes[j] + 0x100).toString(16).slice(1);
        if (j === 3 || j === 5 || j === 7 || j === 9) hex += "-";
      }
      return hex;
    }

    // --- identity and session ------------------------------------------------------------------
    // Read from storage on every event, so that the tabs of one site share the ids and the session.

    function anonymousId() {
      var id = storage.get(keys.anonymousId);
      if (!id) {
        id = uuid();
        storage.set(keys.anonymousId, id);
      }
      return id;
    }

    function userId() {
      return storage.get(keys.userId) || null;
    }

    function distinctId() {
      return userId() || anonymousId();
    }

    /** The session id, touched: a new one after 30 minutes without an event. */
    function sessionId(at) {
      var session = parseJSON(storage.get(keys.session), null);
      if (!isObject(session) || !session.id || !(at - session.last <= SESSION_IDLE_MS)) {
        session = { id: uuid(), started: at };
      }
      session.last = Math.max(at, session.last || 0);
      storage.set(keys.session, JSON.stringify(session));
      return session.id;
    }

    // --- context ---------------------------------------------------------------------------------

    function deviceType() {
      var agent = (nav && nav.userAgent) || "";
      if (/iPad|Tablet|PlayBook|Silk|Android(?!.*Mobi)/i.test(agent)) return "tablet";
      // iPadOS reports itself as a Mac; a Mac has no touch screen.
      if (/Macintosh/.test(agent) && nav && nav.maxTouchPoints > 1) return "tablet";
      if (/Mobi|iPhone|iPod|Android|BlackBerry|IEMobile|Opera Mini/i.test(agent)) return "mobile";
      return "desktop";
    }

    function context() {
      var result = { library: { name: LIBRARY, version: VERSION } };
      if (loc) {
        result.page = {
          url: loc.href,
          path: loc.pathname,
          referrer: (doc && doc.referrer) || "",
          title: (doc && doc.title) || "",
          search: loc.search || "",
        };
      }
      if (win && win.screen) result.screen = { width: win.screen.width, height: win.screen.height };
      if (win && win.innerWidth != null) result.viewport = { width: win.innerWidth, height: win.innerHeight };
      if (nav && nav.language) result.locale = nav.language;
      try {
        result.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      } catch (error) {
        /* no Intl */
      }
      result.device = { type: deviceType() };
      var meta = doc && doc.querySelector && doc.querySelector('meta[name="app-version"]');
      var appVersion = meta && meta.getAttribute("content");
      if (appVersion) result.app = { version: appVersion };
      return result;
    }

    // --- the queue -------------------------------------------------------------------------------

    /**
     * Save the queue. Other tabs of the site save theirs under the same key: keep the items they
     * wrote that this tab never saw, so that no tab erases another's events. (A tab that starts
     * adopts everything stored; two tabs may then send the same item, which the server dedups by
     * message id.)
     */
    function persist() {
      if (!keys) return;
      var stored = parseJSON(storage.get(keys.queue), []);
      var others = Array.isArray(stored)
        ? stored.filter(function (item) {
            return item && item.message && !known[item.message.message_id];
          })
        : [];
      var all = others.concat(queue);
      if (all.length > MAX_QUEUE) all = all.slice(all.length - MAX_QUEUE);
      if (all.length) storage.set(keys.queue, JSON.stringify(all));
      else storage.remove(keys.queue);
    }

    function restore() {
      var stored = parseJSON(storage.get(keys.queue), []);
      if (!Array.isArray(stored)) return;
      stored.forEach(function (item) {
        if (item && ENDPOINTS.indexOf(item.endpoint) >= 0 && isObject(item.message) && item.message.message_id) {
          if (!known[item.message.message_id]) {
            known[item.message.message_id] = true;
            queue.push(item);
          }
        }
      });
    }

    function removeItems(items) {
      var ids = {};
      items.forEach(function (item) {
        ids[item.message.message_id] = true;
      });
      queue = queue.filter(function (item) {
        return !ids[item.message.message_id];
      });
      if (!queue.length && flushTimer) {
        clearTimer(flushTimer); // nothing left for it to send
        flushTimer = null;
      }
      persist();
    }

    function enqueue(endpoint, fields, at) {
      var properties = isObject(fields.properties) ? Object.assign({}, fields.properties) : {};
      if (debugCode) properties.$debug_session = debugCode;
      var message = {
        message_id: uuid(),
        timestamp: isoTime(at),
        environment: config.environment,
        event: fields.event, // track only (undefined is left out of the JSON)
        distinct_id: distinctId(),
        anonymous_id: anonymousId(),
        session_id: sessionId(at),
        properties: properties,
        context: context(),
      };
      Object.keys(fields).forEach(function (name) {
        if (name !== "properties") message[name] = fields[name];
      });
      try {
        // A snapshot: later changes to the caller's objects don't change the event, and a value
        // JSON cannot hold (a cycle, a BigInt) fails here rather than in every later save.
        message = JSON.parse(JSON.stringify(message));
      } catch (error) {
        warn("dropped an event that cannot be sent as JSON:", fields.event || endpoint, error);
        return;
      }
      known[message.message_id] = true;
      queue.push({ endpoint: endpoint, message: message });
      if (queue.length > MAX_QUEUE) {
        var excess = queue.splice(0, queue.length - MAX_QUEUE);
        if (dropped === 0 || Math.floor((dropped + excess.length) / 100) > Math.floor(dropped / 100)) {
          warn("the queue holds more than " + MAX_QUEUE + " events: dropping the oldest.");
        }
        dropped += excess.length;
      }
      persist();
      if (queue.length >= config.batchSize) drain();
      else scheduleFlush();
    }

    // --- sending ---------------------------------------------------------------------------------

    function offline() {
      return !!nav && nav.onLine === false;
    }

    function scheduleFlush() {
      // Offline: the `online` event flushes; no point in waking up every few seconds meanwhile.
      if (flushTimer || retryTimer || !queue.length || offline()) return;
      flushTimer = setTimer(function () {
        flushTimer = null;
        drain();
      }, config.flushInterval);
    }

    /**
     * The next request: a run of items with the same endpoint, at most `maxItems`, under the body
     * limit. An item larger than the limit goes alone (`oversized`: fetch sends it without keepalive).
     */
    function nextBatch(items, maxItems) {
      var first = items[0];
      var batch = [first];
      var bytes = utf8Length(JSON.stringify(first.message)) + 64;
      for (var i = 1; i < items.length && batch.length < maxItems; i++) {
        var item = items[i];
        if (item.endpoint !== first.endpoint) break;
        var size = utf8Length(JSON.stringify(item.message)) + 64;
        if (bytes + size > MAX_BODY_BYTES) break;
        bytes += size;
        batch.push(item);
      }
      return { endpoint: first.endpoint, items: batch, oversized: bytes > MAX_BODY_BYTES };
    }

    function bodyOf(items) {
      var sentAt = isoTime(now());
      return JSON.stringify(
        items.map(function (item) {
          item.message.sent_at = sentAt; // the message id never changes; sent_at says when this try left
          return item.message;
        })
      );
    }

    /** Retry-After in ms: seconds, or an HTTP date. */
    function retryAfter(response) {
      var value = response && response.headers && response.headers.get && response.headers.get("Retry-After");
      if (!value) return null;
      var delay = /^\s*\d+(\.\d+)?\s*$/.test(value) ? parseFloat(value) * 1000 : Date.parse(value) - now();
      if (isNaN(delay)) return null;
      return Math.min(Math.max(0, delay), RETRY_AFTER_MAX_MS);
    }

    function scheduleRetry(delay) {
      if (flushTimer) {
        clearTimer(flushTimer);
        flushTimer = null;
      }
      if (retryTimer) clearTimer(retryTimer);
      if (delay == null) {
        // Full jitter (AWS's "exponential backoff and jitter"): uniform in [0, min(max, base * 2^n)].
        delay = random() * Math.min(RETRY_MAX_MS, RETRY_BASE_MS * Math.pow(2, attempt));
      }
      attempt++;
      retryTimer = setTimer(function () {
        retryTimer = null;
        drain();
      }, delay);
    }

    function serverMessage(response) {
      return Promise.resolve()
        .then(function () {
          return response.text();
        })
        .then(function (text) {
          var body = parseJSON(text, null);
          return (isObject(body) && (body.message || body.error)) || String(text || "").slice(0, 500);
        })
        .catch(function () {
          return "";
        });
    }

    /** Send one batch: "sent", "dropped" (a 4xx: sending it again would fail again) or "retry". */
    function send(batch) {
      var url = config.host + "/" + batch.endpoint;
      var body = bodyOf(batch.items);
      var headers = { "Content-Type": "application/json", "X-API-Key": config.writeKey };
      batch.items.forEach(function (item) {
        inflight[item.message.message_id] = true;
      });
      function done(outcome) {
        batch.items.forEach(function (item) {
          delete inflight[item.message.message_id];
        });
        return outcome;
      }
      return Promise.resolve()
        .then(function () {
          return transport.post(url, body, headers, !batch.oversized);
        })
        .then(
          function (response) {
            var status = response.status;
            if (status >= 200 && status < 300) {
              attempt = 0;
              removeItems(batch.items);
              return done("sent");
            }
            if (status === 429 || status >= 500) {
              scheduleRetry(retryAfter(response));
              return done("retry");
            }
            removeItems(batch.items);
            return serverMessage(response).then(function (message) {
              warn(
                "POST /" + batch.endpoint + " refused " + batch.items.length + " event(s) (HTTP " + status + "):",
                message || "(no message)"
              );
              return done("dropped");
            });
          },
          function () {
            // A network error (fetch's TypeError): offline, DNS, CORS. Offline waits for `online`.
            if (!offline()) scheduleRetry(null);
            return done("retry");
          }
        );
    }

    /** Send everything queued, in order, one request at a time. Resolves to true when the queue emptied. */
    function drain() {
      if (draining) return draining;
      if (!config || !transport) return Promise.resolve(false);
      if (flushTimer) {
        clearTimer(flushTimer);
        flushTimer = null;
      }
      if (retryTimer || !queue.length) return Promise.resolve(!queue.length);
      var run = function () {
        var ready = queue.filter(function (item) {
          return !inflight[item.message.message_id];
        });
        if (!ready.length) return Promise.resolve(true);
        if (offline()) return Promise.resolve(false);
        return send(nextBatch(ready, config.batchSize)).then(function (outcome) {
          return outcome === "retry" ? false : run();
        });
      };
      draining = run()
        .catch(function (error) {
          warn("flush failed:", error);
          return false;
        })
        .then(function (ok) {
          draining = null;
          scheduleFlush(); // what was queued while the last request was on the wire
          return ok;
        });
      return draining;
    }

    /** The page is going away (or to the background): hand what is queued to sendBeacon. */
    function beaconAll() {
      if (!config || !transport) return;
      if (!transport.beacon) {
        drain(); // fetch's keepalive survives the page too
        return;
      }
      var ready = queue.filter(function (item) {
        return !inflight[item.message.message_id]; // those are on the wire already (keepalive)
      });
      var url = "?apiKey=" + encodeURIComponent(config.writeKey);
      while (ready.length) {
        var batch = nextBatch(ready, Infinity);
        var sent = false;
        try {
          sent = transport.beacon(config.host + "/" + batch.endpoint + url, bodyOf(batch.items)) === true;
        } catch (error) {
          sent = false;
        }
        // false: the browser refused it (over the size budget, or too many beacons): the items stay
        // queued (and saved), for the next flush or the next page load.
        if (!sent) break;
        removeItems(batch.items);
        ready = ready.slice(batch.items.length);
      }
    }

    // --- the public API ------------------------------------------------------------------------

    function init(writeKey, options) {
      if (config) {
        warn("init was already called: ignoring the second call.");
        return;
      }
      options = options || {};
      if (!writeKey || typeof writeKey !== "string") {
        warn("init needs a write key: beacon.init('pk_...', {environment: 'production'}).");
        return;
      }
      if (!options.environment || typeof options.environment !== "string") {
        warn("init needs an environment: beacon.init(key, {environment: 'production'}). Nothing is sent.");
        return;
      }
      var host = options.host || originOf(scriptSrc) || (loc && loc.origin) || "";
      config = {
        writeKey: writeKey,
        host: String(host).replace(/\/+$/, ""),
        environment: options.environment,
        batchSize: Math.max(1, Math.floor(Number(options.batchSize)) || 20),
        flushInterval: Math.max(0, Number(options.flushInterval) >= 0 ? Number(options.flushInterval) : 5000),
        autocapture: options.autocapture !== false,
        captureErrors: options.captureErrors === true,
        webVitals: options.webVitals === true,
      };
      var prefix = "beacon:" + writeKey + ":";
      keys = {
        queue: prefix + "queue",
        anonymousId: prefix + "anonymous_id",
        userId: prefix + "user_id",
        session: prefix + "session",
      };
      setUpDebug(options.debug);
      restore();
      var restored = queue.length > 0;
      // Calls made before init first: they happened before the page view autocapture sends now.
      var calls = pending;
      pending = [];
      calls.forEach(function (call) {
        dispatch(call[0], call[1], call[2]);
      });
      listen();
      if (config.autocapture) autocapture();
      if (config.captureErrors) captureErrors();
      if (config.webVitals) reportVitals = observeVitals();
      if (restored) drain(); // events a previous page could not send
      else scheduleFlush();
    }

    function originOf(url) {
      var match = /^(https?:\/\/[^/?#]+)/i.exec(url || "");
      return match ? match[1] : "";
    }

    function setUpDebug(option) {
      var fromUrl = null;
      try {
        var search = (loc && loc.search) || "";
        var match = /[?&]beacon_debug=([^&#]*)/.exec(search);
        if (match) fromUrl = decodeURIComponent(match[1].replace(/\+/g, " "));
      } catch (error) {
        /* a malformed escape */
      }
      if (fromUrl !== null) {
        if (fromUrl) tabStorage.set("beacon:debug", fromUrl);
        else tabStorage.remove("beacon:debug"); // ?beacon_debug= ends the debug session
      } else if (typeof option === "string" && option) {
        tabStorage.set("beacon:debug", option);
      }
      debugCode = tabStorage.get("beacon:debug") || null;
    }

    // The methods below run once init is done; before that, `call` keeps them for init to replay.
    var methods = {
      track: function (at, event, properties) {
        if (typeof event !== "string" || !event) {
          warn("track needs an event name (a non-empty string), got:", event);
          return;
        }
        enqueue("track", { event: event, properties: properties }, at);
      },
      identify: function (at, id, traits) {
        if (id == null || id === "") {
          warn("identify needs a user id.");
          return;
        }
        id = String(id);
        var anonymous = anonymousId();
        storage.set(keys.userId, id);
        enqueue("identify", { distinct_id: id, anonymous_id: anonymous, traits: isObject(traits) ? traits : {} }, at);
      },
      alias: function (at, newUserId) {
        if (newUserId == null || newUserId === "") {
          warn("alias needs the new user id.");
          return;
        }
        newUserId = String(newUserId);
        enqueue("alias", { distinct_id: distinctId(), new_user_id: newUserId }, at);
        storage.set(keys.userId, newUserId); // from now on, events are the new id's
      },
      page: function (at, name, properties) {
        if (isObject(name) && properties === undefined) {
          properties = name; // page({...}) without a name
          name = undefined;
        }
        var fields = { properties: properties };
        if (name != null && name !== "") fields.name = String(name);
        if (loc) lastPageUrl = loc.href;
        enqueue("page", fields, at);
      },
      reset: function () {
        storage.remove(keys.userId);
        storage.set(keys.anonymousId, uuid());
        storage.remove(keys.session); // the next event starts a new session
      },
    };

    function dispatch(method, args, at) {
      try {
        methods[method].apply(null, [at].concat(args));
      } catch (error) {
        warn(method + " failed:", error);
      }
    }

    function call(method) {
      return function () {
        var args = [].slice.call(arguments);
        var at = now();
        if (!config) {
          if (pending.length < MAX_PENDING_CALLS) pending.push([method, args, at]);
          return;
        }
        dispatch(method, args, at);
      };
    }

    function flush() {
      try {
        return drain();
      } catch (error) {
        warn("flush failed:", error);
        return Promise.resolve(false);
      }
    }

    // --- browser events --------------------------------------------------------------------------

    function guarded(fn) {
      return function () {
        try {
          return fn.apply(this, arguments);
        } catch (error) {
          warn("internal error:", error);
        }
      };
    }

    function on(target, type, fn, capture) {
      if (target && target.addEventListener) target.addEventListener(type, guarded(fn), !!capture);
    }

    function onHide() {
      reportVitals();
      beaconAll();
    }

    function listen() {
      on(doc, "visibilitychange", function () {
        if (doc.visibilityState === "hidden") onHide();
      });
      on(win, "pagehide", onHide);
      on(win, "online", function () {
        // Back online: the backoff was about the network, not the server.
        if (retryTimer) {
          clearTimer(retryTimer);
          retryTimer = null;
        }
        attempt = 0;
        drain();
      });
    }

    function autocapture() {
      var trackPage = function () {
        if (!loc || loc.href === lastPageUrl) return; // replaceState with the same URL, a re-render
        dispatch("page", [], now());
      };
      trackPage();
      var history = win && win.history;
      if (history) {
        ["pushState", "replaceState"].forEach(function (name) {
          var original = history[name];
          if (typeof original !== "function") return;
          history[name] = function () {
            var result = original.apply(this, arguments);
            // After the router's own work: frameworks set the new title right after pushState.
            setTimer(guarded(trackPage), 0);
            return result;
          };
        });
      }
      on(win, "popstate", function () {
        setTimer(guarded(trackPage), 0);
      });
      on(doc, "click", onClick, true); // capture: a handler calling stopPropagation cannot hide the click
    }

    function describe(element) {
      var tag = String(element.tagName || "element").toLowerCase();
      var id = element.id ? "#" + element.id : "";
      return "<" + tag + id + ' data-track="' + element.getAttribute("data-track") + '">';
    }

    /** Declarative clicks: the nearest element with data-track, with data-track-props as its properties. */
    function onClick(event) {
      var element = event && event.target;
      while (element && element !== doc) {
        var name = element.getAttribute ? element.getAttribute("data-track") : null;
        if (name) {
          var raw = element.getAttribute("data-track-props");
          var properties = {};
          if (raw != null && raw.trim() !== "") {
            properties = parseJSON(raw, undefined);
            if (!isObject(properties)) {
              warn(
                describe(element) + " has data-track-props that is not a JSON object: nothing was sent.",
                raw,
                element
              );
              return;
            }
          }
          dispatch("track", [name, properties], now());
          return;
        }
        element = element.parentElement || element.parentNode;
      }
    }

    function captureErrors() {
      function report(error, fields) {
        if (reportingError || errorsReported >= MAX_ERRORS_PER_PAGE) return;
        var stack = (error && typeof error === "object" && typeof error.stack === "string" && error.stack) || "";
        // Errors raised in this file are the SDK's own: reporting them could loop.
        if (scriptSrc && (fields.source === scriptSrc || stack.indexOf(scriptSrc) >= 0)) return;
        reportingError = true;
        try {
          errorsReported++;
          dispatch(
            "track",
            [
              "$exception",
              {
                message: String(fields.message || (error && error.message) || error || "Unknown error").slice(0, 1000),
                type: (error && typeof error === "object" && error.name) || fields.type || "Error",
                stack: stack.slice(0, MAX_STACK),
                source: fields.source || "",
                lineno: fields.lineno || 0,
                colno: fields.colno || 0,
              },
            ],
            now()
          );
        } finally {
          reportingError = false;
        }
      }
      on(win, "error", function (event) {
        // Resource load failures (an <img> 404) bubble as error events without a message: not JS errors.
        if (!event || (event.target && event.target !== win && !event.message)) return;
        report(event.error, {
          message: event.message,
          source: event.filename,
          lineno: event.lineno,
          colno: event.colno,
        });
      });
      on(win, "unhandledrejection", function (event) {
        var reason = event && event.reason;
        var isError = reason && typeof reason === "object" && "message" in reason;
        report(isError ? reason : null, {
          message: isError ? reason.message : String(reason),
          type: "UnhandledRejection",
        });
      });
    }

    /** Web vitals from PerformanceObserver (buffered), reported once per page when it is hidden. */
    function observeVitals() {
      var Observer = win && win.PerformanceObserver;
      var vitals = { lcp: null, cls: null, inp: null, fcp: null, ttfb: null };
      function observe(type, onEntry, options) {
        if (!Observer) return false;
        try {
          new Observer(function (list) {
            list.getEntries().forEach(guarded(onEntry));
          }).observe(Object.assign({ type: type, buffered: true }, options));
          return true;
        } catch (error) {
          return false; // this browser does not know the entry type
        }
      }
      observe("largest-contentful-paint", function (entry) {
        vitals.lcp = entry.startTime;
      });
      observe("paint", function (entry) {
        if (entry.name === "first-contentful-paint") vitals.fcp = entry.startTime;
      });
      // CLS: the largest burst of shifts (session windows: gaps < 1 s, at most 5 s long).
      var burst = 0;
      var burstStart = 0;
      var burstLast = 0;
      if (
        observe("layout-shift", function (entry) {
          if (entry.hadRecentInput) return;
          if (burst && entry.startTime - burstLast < 1000 && entry.startTime - burstStart < 5000) {
            burst += entry.value;
          } else {
            burst = entry.value;
            burstStart = entry.startTime;
          }
          burstLast = entry.startTime;
          vitals.cls = Math.max(vitals.cls, burst);
        })
      ) {
        vitals.cls = 0;
      }
      // INP, approximated: the longest interaction seen (the real one is the 98th percentile).
      observe(
        "event",
        function (entry) {
          if (entry.interactionId) vitals.inp = Math.max(vitals.inp || 0, entry.duration);
        },
        { durationThreshold: 16 }
      );
      try {
        var navigation = win.performance.getEntriesByType("navigation")[0];
        if (navigation) vitals.ttfb = Math.max(0, navigation.responseStart - (navigation.activationStart || 0));
      } catch (error) {
        /* no Navigation Timing */
      }
      var reported = false;
      return function () {
        if (reported) return;
        var properties = {};
        var any = false;
        Object.keys(vitals).forEach(function (name) {
          var value = vitals[name];
          if (value != null) any = true;
          if (value == null) properties[name] = null;
          else properties[name] = name === "cls" ? Math.round(value * 10000) / 10000 : Math.round(value); // ms
        });
        if (!any) return;
        reported = true;
        dispatch("track", ["$web_vitals", properties], now());
      };
    }

    var client = {
      version: VERSION,
      init: guarded(init),
      track: guarded(call("track")),
      identify: guarded(call("identify")),
      alias: guarded(call("alias")),
      page: guarded(call("page")),
      reset: guarded(call("reset")),
      flush: flush,
      getAnonymousId: guarded(function () {
        return keys ? anonymousId() : null;
      }),
      getDistinctId: guarded(function () {
        return keys ? distinctId() : null;
      }),
      getSessionId: guarded(function () {
        var session = keys && parseJSON(storage.get(keys.session), null);
        return (isObject(session) && session.id) || null;
      }),
    };
    return client;
  }

  // --- module and browser wiring -----------------------------------------------------------------

  if (typeof module === "object" && module && module.exports) {
    module.exports = { createClient: createClient, VERSION: VERSION };
  }
  if (typeof window === "undefined" || !window.document) return;
  var existing = window.beacon;
  if (existing && existing.__beacon) return; // loaded twice: the first copy keeps its state
  var script = document.currentScript; // null later (in init, in a DOMContentLoaded handler): read it now
  var client = createClient({ scriptSrc: (script && script.src) || "" });
  client.__beacon = true;
  client.__createClient = createClient;
  window.beacon = client;
  // The stub's calls, in order: `beacon.push(["init", key, options])`, `["track", ...]`, ...
  if (Array.isArray(existing)) {
    existing.forEach(function (entry) {
      if (Array.isArray(entry) && typeof client[entry[0]] === "function" && entry[0].indexOf("__") !== 0) {
        client[entry[0]].apply(client, entry.slice(1));
      }
    });
  }
})();
