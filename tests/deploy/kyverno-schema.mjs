// kyverno-schema.mjs - the schema validate.mjs checks a Kyverno ClusterPolicy
// against. No npm package carries Kyverno's types, so this is written here,
// by hand, from the field names of Kyverno's published CRD
// (config/crds/kyverno/kyverno.io_clusterpolicies.yaml, kyverno.io/v1) and
// its documentation of mutate rules. It is a strict SUBSET: every object
// lists the fields it allows, anything else is an unknown field and fails;
// the parts of a rule this repository does not use (validate, generate,
// verifyImages, context) are allowed as opaque values. The body of a
// patchStrategicMerge is a partial Pod and is checked by validate.mjs with
// the Pod model of kubernetes-models, not here.
const str = { type: "string" };
const bool = { type: "boolean" };
const opaque = { opaque: true };
const strings = { type: "array", items: str };
const labelSelector = {
  type: "object",
  properties: {
    matchLabels: { type: "object", additionalProperties: str },
    matchExpressions: {
      type: "array",
      items: {
        type: "object",
        properties: { key: str, operator: { type: "string", enum: ["In", "NotIn", "Exists", "DoesNotExist"] }, values: strings },
        required: ["key", "operator"],
      },
    },
  },
};
const resourceDescription = {
  type: "object",
  properties: {
    kinds: strings,
    names: strings,
    name: str,
    namespaces: strings,
    annotations: { type: "object", additionalProperties: str },
    selector: labelSelector,
    namespaceSelector: labelSelector,
    operations: { type: "array", items: { type: "string", enum: ["CREATE", "CONNECT", "UPDATE", "DELETE"] } },
  },
};
const resourceFilter = {
  type: "object",
  properties: { resources: resourceDescription, subjects: opaque, roles: strings, clusterRoles: strings },
};
const matchResources = {
  type: "object",
  properties: { any: { type: "array", items: resourceFilter }, all: { type: "array", items: resourceFilter } },
};
const condition = {
  type: "object",
  properties: {
    key: opaque,
    operator: {
      type: "string",
      enum: ["Equals", "NotEquals", "In", "AnyIn", "AllIn", "NotIn", "AnyNotIn", "AllNotIn",
        "GreaterThanOrEquals", "GreaterThan", "LessThanOrEquals", "LessThan", "DurationGreaterThanOrEquals",
        "DurationGreaterThan", "DurationLessThanOrEquals", "DurationLessThan"],
    },
    value: opaque,
    message: str,
  },
  required: ["key", "operator"],
};
const conditions = {
  type: "object",
  properties: { any: { type: "array", items: condition }, all: { type: "array", items: condition } },
};
const patch = { partialPod: true }; // checked with the Pod model
const foreachMutation = {
  type: "object",
  properties: {
    list: str,
    order: { type: "string", enum: ["Ascending", "Descending"] },
    context: opaque,
    preconditions: conditions,
    patchStrategicMerge: patch,
    patchesJson6902: str,
  },
  required: ["list"],
};
const mutation = {
  type: "object",
  properties: {
    patchStrategicMerge: patch,
    patchesJson6902: str,
    foreach: { type: "array", items: foreachMutation },
    targets: opaque,
    mutateExistingOnPolicyUpdate: bool,
  },
};
const rule = {
  type: "object",
  properties: {
    name: str,
    match: matchResources,
    exclude: matchResources,
    preconditions: conditions,
    context: opaque,
    mutate: mutation,
    validate: opaque,
    generate: opaque,
    verifyImages: opaque,
    skipBackgroundRequests: bool,
  },
  required: ["name", "match"],
};
export const clusterPolicy = {
  type: "object",
  properties: {
    apiVersion: { type: "string", enum: ["kyverno.io/v1"] },
    kind: { type: "string", enum: ["ClusterPolicy"] },
    metadata: {
      type: "object",
      properties: {
        name: str,
        labels: { type: "object", additionalProperties: str },
        annotations: { type: "object", additionalProperties: str },
      },
      required: ["name"],
    },
    spec: {
      type: "object",
      properties: {
        admission: bool,
        applyRules: { type: "string", enum: ["All", "One"] },
        background: bool,
        emitWarning: bool,
        failurePolicy: { type: "string", enum: ["Ignore", "Fail"] },
        rules: { type: "array", items: rule },
      },
      required: ["rules"],
    },
  },
  required: ["apiVersion", "kind", "metadata", "spec"],
};

// Checks v against schema s. Returns a list of problems; patches (partial
// Pods) are handed to onPatch(value, path) for the caller to check.
export function check(s, v, path, onPatch) {
  const out = [];
  const at = path || "/";
  if (s.opaque) return out;
  if (s.partialPod) return onPatch(v, path);
  const kinds = { string: "string", boolean: "boolean" };
  if (kinds[s.type] && typeof v !== kinds[s.type]) return [`${at}: expected ${s.type}`];
  if (s.enum && !s.enum.includes(v)) return [`${at}: '${v}' is not one of ${s.enum.join(", ")}`];
  if (s.type === "array") {
    if (!Array.isArray(v)) return [`${at}: expected a list`];
    v.forEach((x, i) => out.push(...check(s.items, x, `${path}/${i}`, onPatch)));
    return out;
  }
  if (s.type !== "object") return out;
  if (v === null || typeof v !== "object" || Array.isArray(v)) return [`${at}: expected an object`];
  for (const r of s.required ?? []) if (!(r in v)) out.push(`${at}: '${r}' is required`);
  for (const [k, x] of Object.entries(v)) {
    const sub = s.properties?.[k] ?? s.additionalProperties;
    if (!sub) out.push(`${path}/${k}: unknown field`);
    else out.push(...check(sub, x, `${path}/${k}`, onPatch));
  }
  return out;
}
