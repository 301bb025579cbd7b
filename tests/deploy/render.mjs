// render.mjs - renders a kustomization of deploy/kubernetes offline, for
// check.sh and validate.mjs.
//
// Why a renderer of our own: Debian's kubectl (package kubernetes-client,
// 1.20) embeds kustomize v2.0.3, which has no components (`kind: Component`,
// kustomize >= 3.7) and refuses `components:`; no newer kustomize is packaged
// in Debian or on npm. So this file renders the small subset of kustomize
// that deploy/kubernetes uses, and REFUSES every other field, so that a
// kustomization cannot quietly mean more than what is checked here:
//   Kustomization: resources (files or folders), components
//   Component:     resources, configMapGenerator (name, namespace, files,
//                  options.disableNameSuffixHash: true, options.labels)
// check.sh compares its output with `kubectl kustomize` wherever the kubectl
// at hand can render the same folder (base with Debian's 1.20; everything
// with kubectl >= 1.21), object by object.
//
//   node render.mjs DIR [COMPONENT_DIR...]   prints the objects as YAML
//   node render.mjs --compare FILE DIR [COMPONENT_DIR...]
//        exits 1 unless FILE (kubectl kustomize's output) holds the same
//        objects, field for field (order of objects and keys aside)
import fs from "node:fs";
import path from "node:path";
import { parseAllDocuments, stringify } from "yaml";

const KUSTOMIZATION_KEYS = new Set(["apiVersion", "kind", "resources", "components"]);
const COMPONENT_KEYS = new Set(["apiVersion", "kind", "resources", "configMapGenerator"]);
const GENERATOR_KEYS = new Set(["name", "namespace", "files", "options"]);
const OPTION_KEYS = new Set(["disableNameSuffixHash", "labels"]);

function fail(msg) {
  throw new Error(msg);
}

function onlyKeys(obj, allowed, where) {
  for (const k of Object.keys(obj)) {
    if (!allowed.has(k)) fail(`${where}: '${k}' is not supported by tests/deploy/render.mjs`);
  }
}

export function readYamlDocs(file) {
  const docs = parseAllDocuments(fs.readFileSync(file, "utf8"));
  const out = [];
  for (const d of docs) {
    if (d.errors.length) fail(`${file}: ${d.errors[0].message}`);
    const v = d.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

function readKustomization(dir) {
  const file = path.join(dir, "kustomization.yaml");
  const docs = readYamlDocs(file);
  if (docs.length !== 1) fail(`${file}: expected one document`);
  return [docs[0], file];
}

function generateConfigMaps(k, dir, file) {
  const out = [];
  for (const g of k.configMapGenerator ?? []) {
    onlyKeys(g, GENERATOR_KEYS, `${file} configMapGenerator`);
    const opts = g.options ?? {};
    onlyKeys(opts, OPTION_KEYS, `${file} configMapGenerator.options`);
    if (opts.disableNameSuffixHash !== true)
      fail(`${file}: configMapGenerator needs options.disableNameSuffixHash: true here`);
    const data = {};
    for (const f of g.files ?? []) data[path.basename(f)] = fs.readFileSync(path.join(dir, f), "utf8");
    const metadata = { name: g.name };
    if (opts.labels) metadata.labels = { ...opts.labels };
    if (g.namespace) metadata.namespace = g.namespace;
    out.push({ apiVersion: "v1", kind: "ConfigMap", metadata, data });
  }
  return out;
}

function loadResources(k, dir) {
  const out = [];
  for (const r of k.resources ?? []) {
    const p = path.join(dir, r);
    if (fs.statSync(p).isDirectory()) out.push(...render(p));
    else out.push(...readYamlDocs(p));
  }
  return out;
}

function component(dir) {
  const [k, file] = readKustomization(dir);
  if (k.kind !== "Component" || k.apiVersion !== "kustomize.config.k8s.io/v1alpha1")
    fail(`${file}: a component must be kind Component, kustomize.config.k8s.io/v1alpha1`);
  onlyKeys(k, COMPONENT_KEYS, file);
  return [...loadResources(k, dir), ...generateConfigMaps(k, dir, file)];
}

function key(o) {
  return `${o.apiVersion}/${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name}`;
}

// The objects of the kustomization in dir, with extra components added as
// `components:` would add them.
export function render(dir, extraComponents = []) {
  const [k, file] = readKustomization(dir);
  if (k.kind !== "Kustomization" || k.apiVersion !== "kustomize.config.k8s.io/v1beta1")
    fail(`${file}: expected kind Kustomization, kustomize.config.k8s.io/v1beta1`);
  onlyKeys(k, KUSTOMIZATION_KEYS, file);
  const objs = loadResources(k, dir);
  for (const c of k.components ?? []) objs.push(...component(path.join(dir, c)));
  for (const c of extraComponents) objs.push(...component(c));
  const seen = new Set();
  for (const o of objs) {
    if (seen.has(key(o))) fail(`${file}: ${key(o)} appears twice`);
    seen.add(key(o));
  }
  return objs;
}

function canonical(v) {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object")
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
  return v;
}

// Differences between two lists of objects, as sentences ([] when equal).
export function compare(ours, theirs) {
  const diffs = [];
  const index = (objs) => new Map(objs.map((o) => [key(o), JSON.stringify(canonical(o))]));
  const a = index(ours), b = index(theirs);
  for (const [k, v] of a) {
    if (!b.has(k)) diffs.push(`${k}: rendered here, not by kubectl`);
    else if (b.get(k) !== v) diffs.push(`${k}: differs from kubectl's\n  here:    ${v}\n  kubectl: ${b.get(k)}`);
  }
  for (const k of b.keys()) if (!a.has(k)) diffs.push(`${k}: rendered by kubectl, not here`);
  return diffs;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  if (args[0] === "--compare") {
    const diffs = compare(render(args[2], args.slice(3)), readYamlDocs(args[1]));
    for (const d of diffs) console.error(d);
    process.exit(diffs.length ? 1 : 0);
  }
  const [dir, ...comps] = args;
  const objs = render(dir, comps);
  process.stdout.write(objs.map((o) => stringify(o)).join("---\n"));
}
