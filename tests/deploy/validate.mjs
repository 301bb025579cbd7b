// validate.mjs - offline checks of every object deploy/kubernetes renders,
// reported as TAP (one "ok"/"not ok" line per check) for scripts/test.sh.
//
//   node validate.mjs --cuslice BUILD/tools/cuslice [--deploy DIR] [--rules-out FILE]
//
//  1. schemas: each object is validated by the model of its apiVersion and
//     kind (kubernetes-models, @kubernetes-models/karpenter,
//     @kubernetes-models/prometheus-operator), then every key is walked:
//     validate() alone accepts unknown fields (a NodePool with
//     ttlSecondsAfterEmpty passes it), so a key is accepted only when the
//     schema constrains it (see knownAt). An apiVersion with no schema is
//     rejected, with two stated exceptions: kyverno.io/v1 ClusterPolicy is
//     checked against kyverno-schema.mjs (written here from Kyverno's CRD),
//     and admissionregistration.k8s.io/v1beta1 MutatingAdmissionPolicy(+
//     Binding), which kubernetes-models 5.1 only has as v1 (the same type,
//     promoted unchanged in Kubernetes 1.36), is checked with the v1 model.
//  2. injection: what both policies and the plain-env example give a pod is
//     compared with `cuslice help pod`, which prints the library's own
//     table (lib/config.c): the same variables, each from the documented
//     source, the ring folder mounted where CUSLICE_DIR says, the library
//     where LD_PRELOAD says, both from the node folders the agent installs.
//  3. consistency: replicas and card/N, names the Helm values refer to,
//     ports, selectors, and every metric the rules and the dashboard use is
//     one `cuslice help prometheus` lists.
//     The MutatingAdmissionPolicy's CEL expressions must parse
//     (@bufbuild/cel's parser; not evaluated: it does not know Kubernetes'
//     Object types).
//  4. self-tests: the checks above reject known-bad input.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { parse as parseCel } from "@bufbuild/cel";
import { render, readYamlDocs } from "./render.mjs";
import { clusterPolicy, check as checkKyverno } from "./kyverno-schema.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const deploy = path.resolve(args.deploy ?? path.join(here, "../../deploy/kubernetes"));
const cuslice = args.cuslice;

// ---- TAP ----
let n = 0, failed = 0;
function report(name, problems) {
  n++;
  if (problems.length === 0) return console.log(`ok ${n} - ${name}`);
  failed++;
  console.log(`not ok ${n} - ${name}`);
  for (const p of problems) console.log(`# ${String(p).replace(/\n/g, "\n# ")}`);
}
function attempt(name, fn) {
  try {
    report(name, fn());
  } catch (e) {
    report(name, [e.stack ?? String(e)]);
  }
}

// ---- models ----
const ALIASES = {
  // Same type, promoted to v1 unchanged; kubernetes-models 5.1 has only v1.
  "admissionregistration.k8s.io/v1beta1": "admissionregistration.k8s.io/v1",
};
async function modelFor(apiVersion, kind) {
  const v = ALIASES[apiVersion] ?? apiVersion;
  const [group, version] = v.includes("/") ? v.split("/") : ["", v];
  const candidates = group === ""
    ? [`kubernetes-models/${version}/${kind}`]
    : [`kubernetes-models/${group}/${version}/${kind}`,
       `@kubernetes-models/karpenter/${group}/${version}/${kind}`,
       `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`];
  for (const c of candidates) {
    try {
      const mod = await import(c);
      if (mod[kind]) return mod[kind];
    } catch (e) {
      if (e.code !== "ERR_MODULE_NOT_FOUND" && e.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw e;
    }
  }
  return null;
}

function errorsOf(Model, doc) {
  try {
    new Model(doc).validate();
    return [];
  } catch (e) {
    if (!e.errors) throw e;
    return e.errors;
  }
}

const ptr = (p) => p.map((k) => "/" + String(k).replace(/~/g, "~0").replace(/\//g, "~1")).join("");
function setAt(doc, p, value) {
  let o = doc;
  for (const k of p.slice(0, -1)) o = o[k];
  o[p[p.length - 1]] = value;
}

// A key is known when the schema constrains its value: a value of the wrong
// type there (true, or a string for a boolean field) fails validation at
// exactly that path. An unknown key takes anything.
function knownAt(Model, root, p) {
  const at = ptr(p);
  for (const probe of [true, "not-a-valid-value~"]) {
    const d = structuredClone(root);
    setAt(d, p, probe);
    if (errorsOf(Model, d).some((e) => e.instancePath === at || e.instancePath.startsWith(at + "/"))) return true;
  }
  return false;
}

// Every key of node that the schema does not know, as JSON pointers. A map
// (labels, data, limits: any key, typed values) is told from a struct by a
// probe key, which a map constrains and a struct ignores.
function unknownKeys(Model, root, node = root, p = []) {
  if (Array.isArray(node)) return node.flatMap((x, i) => unknownKeys(Model, root, x, [...p, i]));
  if (node === null || typeof node !== "object") return [];
  const isMap = p.length > 0 && knownAt(Model, root, [...p, "__cuslice_probe__"]);
  const out = [];
  for (const k of Object.keys(node)) {
    if (!isMap && !knownAt(Model, root, [...p, k])) out.push(ptr([...p, k]));
    else out.push(...unknownKeys(Model, root, node[k], [...p, k]));
  }
  return out;
}

async function checkWithModel(obj) {
  const Model = await modelFor(obj.apiVersion, obj.kind);
  if (!Model) return [`${obj.apiVersion} ${obj.kind}: no schema for this apiVersion and kind: refused`];
  const doc = { ...obj, apiVersion: ALIASES[obj.apiVersion] ?? obj.apiVersion };
  const errs = errorsOf(Model, doc).map((e) => `${e.instancePath || "/"}: ${e.message}`);
  return [...errs, ...unknownKeys(Model, doc).map((k) => `${k}: unknown field`)];
}

// A Kyverno patch body is a partial Pod: its keys are checked with the Pod
// model (required fields aside, which a patch leaves out).
async function checkPartialPod(patch, where) {
  const Pod = await modelFor("v1", "Pod");
  const doc = { apiVersion: "v1", kind: "Pod", metadata: { name: "patch" }, ...structuredClone(patch) };
  return unknownKeys(Pod, doc).map((k) => `${where}${k}: unknown field of a Pod`);
}

async function checkObject(obj) {
  if (obj.apiVersion === "kyverno.io/v1" && obj.kind === "ClusterPolicy") {
    const patches = [];
    const probs = checkKyverno(clusterPolicy, obj, "", (v, p) => (patches.push([v, p]), []));
    for (const [v, p] of patches) probs.push(...(await checkPartialPod(v, `${p} (patch) `)));
    if (patches.length === 0) probs.push("no patch found to check");
    return probs;
  }
  return checkWithModel(obj);
}

// ---- what is rendered ----
const comp = (c) => path.join(deploy, "components", c);
const COMPONENTS = fs.readdirSync(path.join(deploy, "components")).sort();
function targets() {
  const t = [["base", render(path.join(deploy, "base"))]];
  for (const c of COMPONENTS) t.push([`base + components/${c}`, render(path.join(deploy, "base"), [comp(c)])]);
  for (const o of fs.readdirSync(path.join(deploy, "overlays")).sort())
    t.push([`overlays/${o}`, render(path.join(deploy, "overlays", o))]);
  for (const e of fs.readdirSync(path.join(deploy, "examples")).sort())
    t.push([`examples/${e}`, readYamlDocs(path.join(deploy, "examples", e))]);
  return t;
}
const keyOf = (o) => `${o.apiVersion} ${o.kind} ${o.metadata?.namespace ?? ""}/${o.metadata?.name}`;

// ---- injection: what a pod gets ----
function cusliceSays(topic) {
  return execFileSync(cuslice, ["help", topic], { encoding: "utf8" });
}
function podTable() {
  const t = new Map();
  for (const line of cusliceSays("pod").trim().split("\n")) {
    const [name, src] = line.split("\t");
    t.set(name, src);
  }
  return t;
}

// {env: Map name -> {value} | {fieldPath}, conditional: Map name -> annotation,
//  mounts: [{name, mountPath, readOnly}], volumes: Map name -> hostPath}
function fromKyverno(policy) {
  const got = { env: new Map(), conditional: new Map(), mounts: [], volumes: new Map() };
  for (const r of policy.spec.rules) {
    const ann = (r.preconditions?.all ?? []).map((c) => /annotations\."([^"]+)"/.exec(c.key)?.[1]).find(Boolean);
    const patches = [r.mutate.patchStrategicMerge, ...(r.mutate.foreach ?? []).map((f) => f.patchStrategicMerge)];
    for (const p of patches.filter(Boolean)) {
      for (const v of p.spec?.volumes ?? []) got.volumes.set(v.name, v.hostPath);
      for (const c of p.spec?.containers ?? []) {
        if (c.name !== "{{ element.name }}") throw new Error(`rule ${r.name}: a container patch not keyed by element.name`);
        for (const e of c.env ?? []) {
          got.env.set(e.name, e.valueFrom ? { fieldPath: e.valueFrom.fieldRef.fieldPath } : { value: e.value });
          if (ann) got.conditional.set(e.name, ann);
        }
        got.mounts.push(...(c.volumeMounts ?? []));
      }
    }
  }
  return got;
}

// The MutatingAdmissionPolicy's CEL is read, not run (no CEL engine here
// knows Kubernetes' Object types): each env entry is one line of the form
// Object.spec.containers.env{name: "...", value: "..." | ...fieldPath: "..."},
// and an entry is conditional when its list is guarded by
// (has(object.metadata.annotations) && "<annotation>" in
// object.metadata.annotations && object.metadata.annotations["<annotation>"]
// != "" ? [...] : []), as Kyverno's precondition is (an empty annotation
// declares nothing: the node policy's default holds).
function fromAdmissionPolicy(map) {
  const got = { env: new Map(), conditional: new Map(), mounts: [], volumes: new Map() };
  const cel = [...map.spec.variables.map((v) => v.expression), ...map.spec.mutations.map((m) => m.applyConfiguration.expression)].join("\n");
  let guard = null;
  for (const line of cel.split("\n")) {
    const g = /has\(object\.metadata\.annotations\) && "([^"]+)" in object\.metadata\.annotations && object\.metadata\.annotations\["\1"\] != "" \? \[/.exec(line);
    if (g) guard = g[1];
    const e = /Object\.spec\.containers\.env\{name: "([^"]+)", (?:value: "([^"]*)"|valueFrom: .*fieldPath: "([^"]+)")/.exec(line);
    if (e) {
      got.env.set(e[1], e[2] !== undefined ? { value: e[2] } : { fieldPath: e[3] });
      if (guard) got.conditional.set(e[1], guard);
    }
    if (/\] : \[\]\)/.test(line)) guard = null;
    const v = /Object\.spec\.volumes\{name: "([^"]+)", hostPath: Object\.spec\.volumes\.hostPath\{path: "([^"]+)", type: "([^"]+)"\}/.exec(line);
    if (v) got.volumes.set(v[1], { path: v[2], type: v[3] });
    const m = /volumeMounts\{name: "([^"]+)", mountPath: "([^"]+)"(, readOnly: true)?\}/.exec(line);
    if (m) got.mounts.push({ name: m[1], mountPath: m[2], readOnly: Boolean(m[3]) });
  }
  if (!/variables\.env\.filter\(/.test(cel)) throw new Error("the containers do not receive variables.env");
  return got;
}

function fromPlainPod(pod) {
  const c = pod.spec.containers[0];
  const got = { env: new Map(), conditional: new Map(), mounts: c.volumeMounts ?? [], volumes: new Map() };
  for (const e of c.env ?? []) got.env.set(e.name, e.valueFrom ? { fieldPath: e.valueFrom.fieldRef.fieldPath } : { value: e.value });
  for (const v of pod.spec.volumes ?? []) got.volumes.set(v.name, v.hostPath);
  return got;
}

// What the node agent installs: the library folder and the ring folder.
function agentPaths(ds) {
  const install = ds.spec.template.spec.initContainers.find((c) => c.name === "install").command;
  const opt = (flag) => install[install.indexOf(flag) + 1];
  return { libDir: opt("--lib-dir"), ringDir: opt("--ring-dir") };
}

function checkInjection(got, table, agent, plain) {
  const probs = [];
  const names = [...got.env.keys()].sort(), want = [...table.keys()].sort();
  if (names.join() !== want.join()) probs.push(`variables ${names.join(", ")} != cuslice help pod: ${want.join(", ")}`);
  const mountOf = (dir) => got.mounts.find((m) => dir === m.mountPath || dir.startsWith(m.mountPath + "/"));
  const hostOf = (m, dir) => {
    const v = got.volumes.get(m.name);
    if (!v) return null;
    if (v.type !== "Directory") probs.push(`volume ${m.name}: hostPath type ${v.type}, not Directory (the pod must wait for the agent)`);
    return v.path + dir.slice(m.mountPath.length);
  };
  for (const [name, src] of table) {
    const e = got.env.get(name);
    if (!e) continue;
    if (src === "library") {
      const m = mountOf(e.value ?? "");
      if (!m || !m.readOnly) probs.push(`${name}=${e.value}: not in a read-only mounted volume`);
      else if (hostOf(m, e.value) !== `${agent.libDir}/libcuslice.so`)
        probs.push(`${name}: the node file ${hostOf(m, e.value)} is not the agent's ${agent.libDir}/libcuslice.so`);
    } else if (src === "mount") {
      const m = got.mounts.find((x) => x.mountPath === e.value);
      if (!m) probs.push(`${name}=${e.value}: no volume is mounted there`);
      else if (m.readOnly) probs.push(`${name}: the ring folder is mounted read-only`);
      else if (hostOf(m, e.value) !== agent.ringDir) probs.push(`${name}: node folder ${hostOf(m, e.value)} is not the agent's ${agent.ringDir}`);
    } else if (src.startsWith("field:")) {
      if (e.fieldPath !== src.slice(6)) probs.push(`${name}: from ${JSON.stringify(e)}, expected fieldPath ${src.slice(6)}`);
    } else if (src.startsWith("annotation:")) {
      const a = src.slice(11);
      if (plain) continue; // the plain example writes values by hand
      if (e.fieldPath !== `metadata.annotations['${a}']`) probs.push(`${name}: from ${JSON.stringify(e)}, expected annotation ${a}`);
      if (got.conditional.get(name) !== a) probs.push(`${name}: not conditional on the annotation ${a} (an empty value would be a bad cap)`);
    } else probs.push(`${name}: unknown source '${src}' in cuslice help pod`);
  }
  for (const [name] of got.env) if (!table.has(name)) probs.push(`${name} is not a variable the library documents for pods`);
  const env = cusliceSays("env");
  for (const name of got.env.keys()) if (name.startsWith("CUSLICE_") && !env.includes(`  ${name} =`)) probs.push(`${name} is not in cuslice help env`);
  return probs;
}

function celProblems(map) {
  const exprs = [...(map.spec.variables ?? []).map((v) => [`variable ${v.name}`, v.expression]),
    ...map.spec.mutations.map((m, i) => [`mutation ${i}`, m.applyConfiguration?.expression ?? m.jsonPatch?.expression])];
  const probs = [];
  for (const [where, e] of exprs) {
    try {
      parseCel(e);
    } catch (err) {
      probs.push(`${where}: ${err.message}`);
    }
  }
  return probs;
}

// ---- consistency ----
function metricNames() {
  return new Set([...cusliceSays("prometheus").matchAll(/^# TYPE (\S+) (\S+)/gm)].flatMap(([, name, type]) =>
    type === "histogram" ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name]));
}
function usedMetrics(text) {
  return new Set([...text.matchAll(/\bcuslice_[a-z_]+/g)].map((m) => m[0]));
}

async function main() {
  const all = new Map();
  attempt("render base, each component over base, each overlay (render.mjs)", () => {
    for (const [name, objs] of targets()) for (const o of objs) all.set(keyOf(o), [o, name]);
    return all.size > 0 ? [] : ["nothing rendered"];
  });
  for (const [k, [o, from]] of [...all].sort()) {
    let probs;
    try {
      probs = await checkObject(o);
    } catch (e) {
      probs = [e.stack];
    }
    report(`schema and no unknown fields: ${k} (from ${from})`, probs);
  }
  const get = (apiVersion, kind, name) => [...all.values()].map(([o]) => o).find((o) => o.apiVersion === apiVersion && o.kind === kind && (!name || o.metadata.name === name));
  const ds = get("apps/v1", "DaemonSet", "cuslice-node");
  const table = cuslice ? podTable() : null;
  for (const [name, fn, plain] of [
    ["Kyverno ClusterPolicy", () => fromKyverno(get("kyverno.io/v1", "ClusterPolicy")), false],
    ["MutatingAdmissionPolicy", () => fromAdmissionPolicy(get("admissionregistration.k8s.io/v1beta1", "MutatingAdmissionPolicy")), false],
    ["plain-env example Pod", () => fromPlainPod(get("v1", "Pod", "trainer-plain")), true],
  ]) {
    attempt(`${name} gives a pod every variable of cuslice help pod, from its source, and the mounts they need`,
      () => (table ? checkInjection(fn(), table, agentPaths(ds), plain) : ["--cuslice not given"]));
  }
  attempt("node policy card/N equals the device plugin's and the GPU Operator's replicas", () => {
    const pol = get("v1", "ConfigMap", "cuslice-node-policy").data["node-policy"];
    const div = Number(/^CUSLICE_MEM_LIMIT=card\/(\d+)$/m.exec(pol)?.[1]);
    const probs = [];
    for (const o of [...all.values()].map(([x]) => x).filter((x) => x.kind === "ConfigMap" && x.metadata.name === "cuslice-time-slicing")) {
      const replicas = Number(/replicas: (\d+)/.exec(o.data.any)?.[1]);
      if (replicas !== div) probs.push(`${o.metadata.namespace}/cuslice-time-slicing: replicas ${replicas}, node policy card/${div}`);
    }
    return probs.length || div ? probs : ["no card/N in the node policy"];
  });
  attempt("Helm values name the time-slicing ConfigMap and its key", () => {
    const probs = [];
    const dp = readYamlDocs(path.join(comp("device-plugin"), "device-plugin-values.yaml"))[0].config;
    const op = readYamlDocs(path.join(comp("gpu-operator"), "gpu-operator-values.yaml"))[0].devicePlugin.config;
    for (const [where, c, ns] of [["device-plugin", dp, "nvidia-device-plugin"], ["gpu-operator", op, "gpu-operator"]]) {
      const cm = [...all.values()].map(([x]) => x).find((x) => x.kind === "ConfigMap" && x.metadata.name === c.name && x.metadata.namespace === ns);
      if (!cm) probs.push(`${where}: no ConfigMap ${ns}/${c.name}`);
      else if (!(c.default in cm.data)) probs.push(`${where}: ConfigMap ${c.name} has no key ${c.default}`);
    }
    return probs;
  });
  attempt("metrics port is not DCGM exporter's 9400; probes use /healthz; Service and ServiceMonitor find the agent", () => {
    const probs = [];
    const c = ds.spec.template.spec.containers.find((x) => x.name === "metrics");
    const port = c.ports.find((p) => p.name === "metrics").containerPort;
    if (port === 9400) probs.push("port 9400");
    if (!c.command.includes(`0.0.0.0:${port}`)) probs.push(`cuslice metrics does not listen on ${port}`);
    for (const pr of [c.livenessProbe, c.readinessProbe]) if (pr?.httpGet?.path !== "/healthz") probs.push("a probe not on /healthz");
    const svc = get("v1", "Service", "cuslice-node"), sm = get("monitoring.coreos.com/v1", "ServiceMonitor", "cuslice-node");
    const podLabels = ds.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(svc.spec.selector)) if (podLabels[k] !== v) probs.push(`Service selector ${k}`);
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) if (svc.metadata.labels[k] !== v) probs.push(`ServiceMonitor selector ${k}`);
    if (!sm.spec.endpoints.every((e) => svc.spec.ports.some((p) => p.name === e.port))) probs.push("ServiceMonitor port");
    return probs;
  });
  attempt("every metric the alerts and the dashboard use is one cuslice metrics exports", () => {
    if (!cuslice) return ["--cuslice not given"];
    const known = metricNames();
    const rule = get("monitoring.coreos.com/v1", "PrometheusRule", "cuslice");
    const dash = get("v1", "ConfigMap", "cuslice-dashboard").data["cuslice-dashboard.json"];
    JSON.parse(dash);
    const used = new Set([...usedMetrics(JSON.stringify(rule.spec)), ...usedMetrics(dash)]);
    return [...used].filter((m) => !known.has(m)).map((m) => `${m} is not exported`);
  });
  attempt("the MutatingAdmissionPolicy's CEL expressions parse", () => celProblems(get("admissionregistration.k8s.io/v1beta1", "MutatingAdmissionPolicy")));
  if (args["rules-out"]) fs.writeFileSync(args["rules-out"], stringify({ groups: get("monitoring.coreos.com/v1", "PrometheusRule", "cuslice").spec.groups }));
  await selfTests(table, ds);
  console.log(`# ${n - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

// ---- the checks can fail ----
async function selfTests(table, ds) {
  const expectProblem = async (name, obj, needle) => {
    let probs;
    try {
      probs = await checkObject(obj);
    } catch (e) {
      probs = [e.stack];
    }
    report(`self-test: ${name}`, probs.some((p) => p.includes(needle)) ? [] : [`not refused (${needle}): ${JSON.stringify(probs)}`]);
  };
  const np = structuredClone(readYamlDocs(path.join(comp("karpenter"), "nodepool.yaml"))[0]);
  np.spec.disruption.ttlSecondsAfterEmpty = 3600;
  await expectProblem("a NodePool with ttlSecondsAfterEmpty is refused", np, "/spec/disruption/ttlSecondsAfterEmpty: unknown field");
  const pod = structuredClone(readYamlDocs(path.join(deploy, "examples", "pod-plain-env.yaml"))[0]);
  pod.spec.containers[0].imagePullPolcy = "Always";
  await expectProblem("a misspelt Pod field is refused", pod, "imagePullPolcy: unknown field");
  const kp = structuredClone(readYamlDocs(path.join(comp("kyverno"), "clusterpolicy.yaml"))[0]);
  kp.spec.rules[1].mutate.foreach[0].patchStrategicMerge.spec.containers[0].envv = [];
  kp.spec.rules[0].mutatee = {};
  await expectProblem("a ClusterPolicy with an unknown rule field is refused", kp, "/spec/rules/0/mutatee: unknown field");
  await expectProblem("a Kyverno patch with an unknown Pod field is refused", kp, "envv: unknown field of a Pod");
  await expectProblem("an apiVersion with no schema is refused", { apiVersion: "example.com/v1", kind: "Thing", metadata: { name: "x" } }, "no schema");
  const broken = structuredClone(readYamlDocs(path.join(comp("admission-policy"), "mutatingadmissionpolicy.yaml"))[0]);
  broken.spec.mutations[0].applyConfiguration.expression = broken.spec.mutations[0].applyConfiguration.expression.replace("})", "}");
  report("self-test: a CEL expression with a missing parenthesis is refused", celProblems(broken).length === 1 ? [] : ["not refused"]);
  if (table) {
    const got = fromKyverno(readYamlDocs(path.join(comp("kyverno"), "clusterpolicy.yaml"))[0]);
    got.env.delete("CUSLICE_POD_NAMESPACE");
    got.conditional.delete("CUSLICE_MEM_LIMIT");
    const probs = checkInjection(got, table, agentPaths(ds), false);
    report("self-test: a policy missing a variable, or with an unconditional annotation, is refused",
      probs.some((p) => p.includes("CUSLICE_POD_NAMESPACE")) && probs.some((p) => p.includes("not conditional")) ? [] : [JSON.stringify(probs)]);
    const map = structuredClone(readYamlDocs(path.join(comp("admission-policy"), "mutatingadmissionpolicy.yaml"))[0]);
    const env = map.spec.variables.find((v) => v.name === "env");
    env.expression = env.expression.replace(/\(has\(object\.metadata\.annotations\) && "cuslice\.io\/weight"[^?]*\?/, "(true ?");
    const mprobs = checkInjection(fromAdmissionPolicy(map), table, agentPaths(ds), false);
    report("self-test: an admission policy whose weight annotation is unguarded is refused",
      mprobs.some((p) => p.includes("CUSLICE_WEIGHT: not conditional")) ? [] : [JSON.stringify(mprobs)]);
  }
}

main();
