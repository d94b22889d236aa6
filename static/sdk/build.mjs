// Builds static/sdk/beacon.min.js from beacon.js with the pinned terser (package.json), and prints
// its size gzipped. `node static/sdk/build.mjs --check` builds in memory and fails if the committed
// file differs. The output depends only on the source and the terser version: tests compare them.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { minify } from "terser";

const here = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(here, "beacon.js");
const TARGET = join(here, "beacon.min.js");
export const MAX_GZIP_BYTES = 10 * 1024;

export async function build() {
  const source = readFileSync(SOURCE, "utf8");
  const version = /var VERSION = "([^"]+)"/.exec(source)[1];
  const result = await minify(source, {
    ecma: 2017,
    compress: { passes: 2 },
    mangle: true,
    format: { comments: false, preamble: `/*! beacon.js ${version}: Beacon's browser SDK. Source: beacon.js */` },
  });
  return result.code + "\n";
}

export function gzipSize(code) {
  return gzipSync(Buffer.from(code, "utf8"), { level: 9 }).length;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const code = await build();
  const size = gzipSize(code);
  if (process.argv.includes("--check")) {
    const committed = readFileSync(TARGET, "utf8");
    if (committed !== code) {
      console.error("static/sdk/beacon.min.js is out of date: run `node static/sdk/build.mjs`.");
      process.exit(1);
    }
  } else {
    writeFileSync(TARGET, code);
  }
  const kb = (bytes) => (bytes / 1024).toFixed(2) + " KB";
  console.log(`beacon.min.js: ${kb(Buffer.byteLength(code))} minified, ${kb(size)} gzipped (limit ${kb(MAX_GZIP_BYTES)})`);
  if (size >= MAX_GZIP_BYTES) {
    console.error("beacon.min.js is over the gzipped size limit.");
    process.exit(1);
  }
}
