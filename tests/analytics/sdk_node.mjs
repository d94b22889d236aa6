// Drives a real Node analytics SDK against a Beacon server, for tests/analytics/test_sdk_compat.py.
//
//   node tests/analytics/sdk_node.mjs <segment|posthog> <host> <key> <user id> <anonymous id> <second anonymous id>
//
// Sends the journey the Python tests send (an anonymous track, identify linking the first anonymous
// id, page / screen / group where the SDK has them, alias linking the second anonymous id), then
// flushes and shuts down. Prints one JSON object on stdout: every request the SDK made (url,
// headers, decoded body, status, response text) and every error the SDK reported. Exits 1 if the
// SDK reported an error or any request did not succeed, so the test fails with the evidence printed.

import { gunzipSync } from 'node:zlib';

import { Analytics } from '@segment/analytics-node';
import { PostHog } from 'posthog-node';

const [sdk, host, key, userId, anonymousId, secondAnonymousId] = process.argv.slice(2);
if (!secondAnonymousId) {
  console.error('usage: sdk_node.mjs <segment|posthog> <host> <key> <user id> <anonymous id> <second anonymous id>');
  process.exit(2);
}

const requests = [];
const errors = [];

async function bodyText(body, headers) {
  if (body === undefined || body === null) return '';
  let bytes;
  if (typeof body === 'string') bytes = Buffer.from(body);
  else if (body instanceof Blob) bytes = Buffer.from(await body.arrayBuffer());
  else bytes = Buffer.from(body);
  if ((headers['content-encoding'] || '').toLowerCase() === 'gzip') bytes = gunzipSync(bytes);
  return bytes.toString('utf8');
}

// Both SDKs accept a fetch function; this one records what went over the wire and what came back.
async function recordingFetch(url, init = {}) {
  const headers = Object.fromEntries(new Headers(init.headers).entries());
  const text = await bodyText(init.body, headers);
  const entry = { url: String(url), method: init.method, headers, status: null, response: null };
  try {
    entry.body = JSON.parse(text);
  } catch {
    entry.body = text;
  }
  requests.push(entry);
  try {
    const response = await fetch(url, init);
    entry.status = response.status;
    entry.response = await response.clone().text();
    return response;
  } catch (error) {
    entry.error = String(error);
    throw error;
  }
}

function describe(error) {
  if (error instanceof Error) return error.stack || String(error);
  // analytics-node emits {code, reason, ctx} objects
  if (typeof error === 'object') return `${error.code ?? 'error'}: ${describe(error.reason ?? '')}`;
  return String(error);
}

function reportError(source) {
  return (error) => {
    if (error) errors.push({ source, error: describe(error) });
  };
}

const traits = { email: 'jane@example.com', name: 'Jane', plan: 'enterprise' };
const orderProperties = { plan: 'pro', amount: 42.5, items: ['a', 'b'] };

async function runSegment() {
  const analytics = new Analytics({
    writeKey: key,
    host,
    path: '/v1/batch',
    maxRetries: 0, // a failure must reach the error handler, not hide behind a successful retry
    flushInterval: 500,
    httpClient: recordingFetch,
  });
  analytics.on('error', reportError('segment error event'));
  const callback = (name) => (error) => reportError(`segment ${name} callback`)(error);
  analytics.track(
    { anonymousId, event: 'Order Completed', properties: orderProperties },
    callback('track'),
  );
  analytics.identify({ userId, anonymousId, traits }, callback('identify'));
  analytics.page(
    { userId, category: 'Docs', name: 'Install', properties: { url: 'https://example.com/docs/install' } },
    callback('page'),
  );
  analytics.screen({ userId, name: 'Welcome', properties: { step: 1 } }, callback('screen'));
  analytics.group({ userId, groupId: 'acme-inc', traits: { name: 'Acme', employees: 11 } }, callback('group'));
  analytics.alias({ previousId: secondAnonymousId, userId }, callback('alias'));
  await analytics.closeAndFlush({ timeout: 20000 });
}

async function runPostHog() {
  const client = new PostHog(key, {
    host,
    flushAt: 100,
    flushInterval: 0,
    fetchRetryCount: 0, // as above: report the first failure
    fetch: recordingFetch,
  });
  client.on('error', reportError('posthog error event'));
  client.capture({ distinctId: anonymousId, event: 'Order Completed', properties: orderProperties });
  client.identify({ distinctId: userId, properties: { $set: traits, $anon_distinct_id: anonymousId } });
  // posthog-node has no page(): a page view is the `$pageview` event.
  client.capture({
    distinctId: userId,
    event: '$pageview',
    properties: { $current_url: 'https://example.com/docs/install', title: 'Install' },
  });
  client.groupIdentify({
    groupType: 'company',
    groupKey: 'acme-inc',
    properties: { name: 'Acme', employees: 11 },
    distinctId: userId,
  });
  client.alias({ distinctId: userId, alias: secondAnonymousId });
  await client.shutdown(20000);
}

const runners = { segment: runSegment, posthog: runPostHog };
if (!runners[sdk]) {
  console.error(`unknown SDK ${sdk}: use ${Object.keys(runners).join(' or ')}`);
  process.exit(2);
}
try {
  await runners[sdk]();
} catch (error) {
  reportError(`${sdk} run`)(error);
}
const failed = requests.filter((entry) => entry.status === null || entry.status < 200 || entry.status >= 300);
process.stdout.write(JSON.stringify({ sdk, requests, errors }) + '\n');
process.exit(errors.length || failed.length || requests.length === 0 ? 1 : 0);
