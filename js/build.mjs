/**
 * Builds the shipped front-end files from js/, or with --check verifies that the
 * committed files are exactly what the sources build to: the widget bundle
 * (kontext_widget/static/widget.js), the event log's (static/event_log.js), the
 * local creative's script (_local_server/creative/creative.js) and the frame
 * vocabulary's copy for Python. They are committed so that `pip install` from a
 * clone needs no Node; CI runs the check so they cannot go stale. esbuild is
 * pinned in package.json, which keeps output stable.
 */
import { readFile, writeFile } from "node:fs/promises";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const check = process.argv.includes("--check");

/**
 * Every shipped bundle, minified. The anywidget front ends are ES modules (anywidget
 * imports them); the creative is a classic `<script defer>` of the ad page (an IIFE).
 * The creative to read is its source, js/creative/ (in the repository and the sdist):
 * a readable copy of it in the package would be a second text of the same code.
 */
const BUNDLES = [
  {
    entry: "js/widget.ts",
    outfile: "kontext_widget/static/widget.js",
    format: "esm",
    minify: true,
    banner: "// kontext-widget front end. Generated from js/ by `npm run build`; do not edit.",
  },
  {
    entry: "js/event_log.ts",
    outfile: "kontext_widget/static/event_log.js",
    format: "esm",
    minify: true,
    banner: "// kontext-widget event log front end. Generated from js/event_log.ts by `npm run build`; do not edit.",
  },
  {
    entry: "js/creative/main.ts",
    outfile: "kontext_widget/_local_server/creative/creative.js",
    format: "iife",
    minify: true,
    banner: "// Kontext local creative. Generated from js/creative/ by `npm run build`; do not edit.",
  },
];

/** One bundle's bytes; fails if any code from node_modules would be shipped. */
async function bundle({ entry, format, minify, banner }) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    write: false,
    bundle: true,
    format,
    target: "es2020",
    minify,
    legalComments: "none",
    charset: "utf8",
    // Notebook pages may load RequireJS; keep any UMD-style code from calling it.
    define: { "define.amd": "false" },
    banner: { js: banner },
    logLevel: "warning",
    metafile: true,
  });
  // The official SDK is a reference for tests and types only (type-only imports in js/).
  const leaked = Object.keys(result.metafile.inputs).filter((input) => input.includes("node_modules/"));
  if (leaked.length > 0) {
    console.error(`${entry}: a shipped bundle must not contain dependencies, found: ${leaked.join(", ")}`);
    process.exit(1);
  }
  return Buffer.from(result.outputFiles[0].contents);
}

/** Shipped file (relative to the root) -> its expected bytes. */
const outputs = new Map();
for (const spec of BUNDLES) outputs.set(spec.outfile, await bundle(spec));

// The frame vocabulary's copy for Python, generated from js/vocabulary.ts (its one source).
const vocabularyModule = await build({
  absWorkingDir: root,
  entryPoints: ["js/vocabulary.ts"],
  write: false,
  bundle: true,
  format: "esm",
  logLevel: "warning",
});
const { FRAME_TO_HOST, HOST_TO_FRAME, FRAME_EVENTS, FRAME_DATA_FIELDS, FRAME_EVENT_FIELDS } = await import(
  `data:text/javascript;base64,${Buffer.from(vocabularyModule.outputFiles[0].contents).toString("base64")}`
);
const vocabulary = `${JSON.stringify(
  {
    "//": "Generated from js/vocabulary.ts by `npm run build`; do not edit. docs/protocol.md section 6.",
    frame_to_host: FRAME_TO_HOST,
    host_to_frame: HOST_TO_FRAME,
    frame_events: FRAME_EVENTS,
    frame_data_fields: FRAME_DATA_FIELDS,
    frame_event_fields: FRAME_EVENT_FIELDS,
  },
  null,
  2,
)}\n`;

outputs.set("kontext_widget/_frame/vocabulary.json", Buffer.from(vocabulary));

if (check) {
  let stale = false;
  for (const [file, expected] of outputs) {
    const committed = await readFile(resolve(root, file)).catch(() => null);
    if (committed === null || !committed.equals(expected)) {
      console.error(`${file} is ${committed === null ? "missing" : "out of date with js/"}; run \`npm run build\` and commit it.`);
      stale = true;
    }
  }
  if (stale) process.exit(1);
  console.log(`${[...outputs.keys()].join(", ")} are up to date.`);
} else {
  for (const [file, bytes] of outputs) {
    await writeFile(resolve(root, file), bytes);
    const gzipped = gzipSync(bytes, { level: 9 }).length;
    console.log(`${file}: ${bytes.length} bytes${file.endsWith(".js") ? `, ${gzipped} bytes gzipped` : ""}.`);
  }
}
