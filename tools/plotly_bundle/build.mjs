// Builds plotly's FigureWidget front end (plotly.py's js/src/widget.ts) twice with plotly.py's own
// esbuild options:
//   1. with the full plotly.js, as plotly.py does: the result must equal, byte for byte, the
//      widgetbundle.js that the plotly Python package ships (its sha256 is recorded in the manifest;
//      qlearn checks the installed file against it before serving the trimmed module);
//   2. with plotly-trimmed.js (the trace types the course draws) instead of the full plotly.js:
//      qlearn/server/plotly/widget-trimmed.js, which `qlearn serve` sends to browsers.
// Usage: npm ci && node build.mjs [path/to/installed/plotly/package_data/widgetbundle.js]
import * as esbuild from 'esbuild';
import {createHash} from 'node:crypto';
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

const out = new URL('../../qlearn/server/plotly/', import.meta.url).pathname;
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const version = (pkg) => JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, 'utf8')).version;
// plotly.py's "build:widget": esbuild --bundle --alias:plotly.js=plotly.js/dist/plotly --format=esm --minify
const common = {entryPoints: ['widget.ts'], bundle: true, format: 'esm', minify: true, logLevel: 'warning'};

const fullFile = join(mkdtempSync(join(tmpdir(), 'qlearn-plotly-')), 'widgetbundle.js');
await esbuild.build({...common, outfile: fullFile, alias: {'plotly.js': 'plotly.js/dist/plotly'}});
const full = readFileSync(fullFile);
if (process.argv[2]) {
  const shipped = readFileSync(process.argv[2]);
  if (sha256(shipped) !== sha256(full)) {
    console.error(`the full build differs from ${process.argv[2]}: widget.ts, plotly.js or esbuild is not the ` +
                  'version that plotly package was built from');
    process.exit(1);
  }
  console.log(`full build == ${process.argv[2]} (byte for byte)`);
}

await esbuild.build({
  ...common,
  outfile: join(out, 'widget-trimmed.js'),
  alias: {'plotly.js': './plotly-trimmed.js'},
  // what plotly.js's own esbuild-config.js defines; the CSS a map trace would import is not needed
  define: {global: 'window', 'define.amd': 'false', 'process.env.NODE_DEBUG': 'false'},
  loader: {'.css': 'empty'},
  legalComments: 'eof',
});
const trimmed = readFileSync(join(out, 'widget-trimmed.js'));
const traces = ['scatter', ...[...readFileSync('plotly-trimmed.js', 'utf8').matchAll(/plotly\.js\/lib\/(\w+)'\)/g)]
  .map((m) => m[1]).filter((t) => t !== 'core')];
const manifest = {
  about: 'plotly FigureWidget front end with only these plotly.js trace types; built by tools/plotly_bundle',
  traces,
  'plotly.js': version('plotly.js'),
  'lodash-es': version('lodash-es'),
  esbuild: version('esbuild'),
  'widget.ts': 'plotly/plotly.py tag v7.0.0rc0, js/src/widget.ts (unchanged in plotly 7.1.0)',
  full_widgetbundle_sha256: sha256(full),
  trimmed_sha256: sha256(trimmed),
};
writeFileSync(join(out, 'widget-trimmed.json'), JSON.stringify(manifest, null, 2) + '\n');
console.log(`${join(out, 'widget-trimmed.js')}: ${trimmed.length} bytes (full: ${full.length}); traces ${traces.join(', ')}`);
