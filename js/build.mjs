/**
 * Builds kontext_widget/static/widget.js, or with --check verifies that the
 * committed bundle is exactly what the sources build to. The bundle is committed
 * so that `pip install` from a clone needs no Node; CI runs the check so it
 * cannot go stale. esbuild is pinned in package.json, which keeps output stable.
 */
import { readFile, writeFile } from "node:fs/promises";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = resolve(root, "kontext_widget/static/widget.js");
const check = process.argv.includes("--check");

const result = await build({
  absWorkingDir: root,
  entryPoints: ["js/widget.ts"],
  outfile,
  write: false,
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  legalComments: "none",
  charset: "utf8",
  // Notebook pages may load RequireJS; keep any UMD-style code from calling it.
  define: { "define.amd": "false" },
  banner: { js: "// kontext-widget front end. Generated from js/ by `npm run build`; do not edit." },
  logLevel: "warning",
  metafile: true,
});

// The official SDK is a reference for tests and types only (type-only imports in js/).
const leaked = Object.keys(result.metafile.inputs).filter((input) => input.includes("node_modules/"));
if (leaked.length > 0) {
  console.error(`the bundle must not contain dependencies, found: ${leaked.join(", ")}`);
  process.exit(1);
}

const bundle = result.outputFiles[0].contents;
const shown = relative(root, outfile);

// The frame vocabulary's copy for Python, generated from js/vocabulary.ts (its one source).
const vocabularyFile = resolve(root, "kontext_widget/_frame/vocabulary.json");
const vocabularyModule = await build({
  absWorkingDir: root,
  entryPoints: ["js/vocabulary.ts"],
  write: false,
  bundle: true,
  format: "esm",
  logLevel: "warning",
});
const { FRAME_TO_HOST, HOST_TO_FRAME, FRAME_EVENTS } = await import(
  `data:text/javascript;base64,${Buffer.from(vocabularyModule.outputFiles[0].contents).toString("base64")}`
);
const vocabulary = `${JSON.stringify(
  {
    "//": "Generated from js/vocabulary.ts by `npm run build`; do not edit. docs/protocol.md section 6.",
    frame_to_host: FRAME_TO_HOST,
    host_to_frame: HOST_TO_FRAME,
    frame_events: FRAME_EVENTS,
  },
  null,
  2,
)}\n`;

if (check) {
  let committed;
  try {
    committed = await readFile(outfile);
  } catch {
    console.error(`${shown} is missing; run \`npm run build\` and commit it.`);
    process.exit(1);
  }
  if (!committed.equals(Buffer.from(bundle))) {
    console.error(`${shown} is out of date with js/; run \`npm run build\` and commit it.`);
    process.exit(1);
  }
  const committedVocabulary = await readFile(vocabularyFile, "utf8").catch(() => "");
  if (committedVocabulary !== vocabulary) {
    console.error(`${relative(root, vocabularyFile)} is out of date with js/vocabulary.ts; run \`npm run build\`.`);
    process.exit(1);
  }
  console.log(`${shown} and ${relative(root, vocabularyFile)} are up to date.`);
} else {
  await writeFile(outfile, bundle);
  await writeFile(vocabularyFile, vocabulary);
  const gzipped = gzipSync(bundle, { level: 9 }).length;
  console.log(`${shown}: ${bundle.length} bytes minified, ${gzipped} bytes gzipped.`);
}
