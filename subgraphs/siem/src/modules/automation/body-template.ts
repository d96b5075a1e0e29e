/*
 * Playbook body templates: a JSON document whose strings may hold `{{placeholders}}`. A string that is one
 * placeholder and nothing else becomes the value itself (a number, a list, null); a placeholder inside other
 * text is replaced by the value as text. The body is the rendered document serialised with JSON.stringify, so
 * it is valid JSON whatever the values hold (quotes, backslashes, new lines, any Unicode): a template never
 * concatenates JSON text.
 */
import { jsonProblem, type InputProblem } from "../../../../common/src";

/** The values a template may name, by placeholder path. */
export const TEMPLATE_FIELDS = [
  "tenant.id",
  "playbook.id",
  "playbook.name",
  "run.id",
  "run.triggeredBy",
  "automationRule.id",
  "automationRule.name",
  "incident.id",
  "incident.number",
  "incident.title",
  "incident.description",
  "incident.severity",
  "incident.status",
  "incident.owner",
  "incident.labels",
  "incident.classification",
  "incident.classificationReason",
  "incident.tactics",
  "incident.techniques",
  "incident.alertCount",
  "incident.createdAt",
  "incident.updatedAt",
  "incident.firstActivity",
  "incident.lastActivity",
  "alert.id",
  "alert.title",
  "alert.description",
  "alert.severity",
  "alert.status",
  "alert.provider",
  "alert.sourceId",
  "alert.tactics",
  "alert.techniques",
  "alert.entities",
  "alert.resourceId",
  "alert.startTime",
  "alert.endTime",
] as const;

/** A placeholder path. */
export type TemplateField = (typeof TEMPLATE_FIELDS)[number];

/** What a template is rendered with: a value per path (absent: null). */
export type TemplateContext = Partial<Record<TemplateField, unknown>>;

const KNOWN = new Set<string>(TEMPLATE_FIELDS);
const PLACEHOLDER = /\{\{\s*([A-Za-z][\w.]*)\s*\}\}/g;
const WHOLE = /^\{\{\s*([A-Za-z][\w.]*)\s*\}\}$/;

/** Longest template, serialised. */
export const MAX_TEMPLATE_BYTES = 32 * 1024;
/** Deepest template nesting. */
export const MAX_TEMPLATE_DEPTH = 20;

/** The body a playbook sends when it names no template: the incident (or alert) in brief. */
export const DEFAULT_BODY_TEMPLATE = {
  source: "rampart",
  playbook: "{{playbook.name}}",
  runId: "{{run.id}}",
  automationRule: "{{automationRule.name}}",
  incident: {
    id: "{{incident.id}}",
    number: "{{incident.number}}",
    title: "{{incident.title}}",
    severity: "{{incident.severity}}",
    status: "{{incident.status}}",
    owner: "{{incident.owner}}",
    labels: "{{incident.labels}}",
    tactics: "{{incident.tactics}}",
    alertCount: "{{incident.alertCount}}",
    createdAt: "{{incident.createdAt}}",
  },
  alert: {
    id: "{{alert.id}}",
    title: "{{alert.title}}",
    severity: "{{alert.severity}}",
    provider: "{{alert.provider}}",
  },
};

/** A value as JSON sees it (dates as ISO text). */
function asJson(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(asJson);
  return value;
}

/** A value as text inside a string: lists comma-separated, objects as JSON, null as nothing. */
function asText(value: unknown): string {
  const json = asJson(value);
  if (json === null) return "";
  if (typeof json === "string") return json;
  if (Array.isArray(json)) return json.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(", ");
  if (typeof json === "object") return JSON.stringify(json);
  return String(json);
}

/** The template with every placeholder filled in (a new value; the template is left as it is). */
export function renderTemplate(template: unknown, context: TemplateContext): unknown {
  const get = (path: string) => (KNOWN.has(path) ? context[path as TemplateField] : undefined);
  if (typeof template === "string") {
    const whole = WHOLE.exec(template);
    if (whole) return asJson(get(whole[1]));
    return template.replace(PLACEHOLDER, (_, path: string) => asText(get(path)));
  }
  if (Array.isArray(template)) return template.map((item) => renderTemplate(item, context));
  if (template !== null && typeof template === "object")
    return Object.fromEntries(
      Object.entries(template as Record<string, unknown>).map(([k, v]) => [k, renderTemplate(v, context)]),
    );
  return template;
}

/** The request body of a template rendered with `context`. */
export function renderBody(template: unknown, context: TemplateContext): string {
  return JSON.stringify(renderTemplate(template, context));
}

/**
 * Faults of a template (field `bodyTemplate`, the JSON path in the message): too big or deep, text Postgres
 * cannot store, placeholders in keys (only values are filled), unknown placeholders.
 */
export function templateProblems(template: unknown): InputProblem[] {
  const problems: InputProblem[] = [];
  const fault = (path: string, message: string) =>
    problems.push({ field: "bodyTemplate", message: path ? `${path}: ${message}` : message });
  const structural = jsonProblem(template, { maxDepth: MAX_TEMPLATE_DEPTH });
  if (structural) {
    fault(structural.path, structural.message);
    return problems;
  }
  if (template === undefined || Buffer.byteLength(JSON.stringify(template)) > MAX_TEMPLATE_BYTES) {
    fault("", `must be JSON of at most ${MAX_TEMPLATE_BYTES / 1024} KB`);
    return problems;
  }
  const walk = (value: unknown, path: string) => {
    if (typeof value === "string") {
      for (const match of value.matchAll(PLACEHOLDER))
        if (!KNOWN.has(match[1])) fault(path, `unknown placeholder {{${match[1]}}} (see docs/api.md)`);
    } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`));
    else if (value !== null && typeof value === "object")
      for (const [key, v] of Object.entries(value)) {
        const at = path ? `${path}.${key}` : key;
        if (key.includes("{{")) fault(at, "placeholders are filled in values only, not in keys");
        walk(v, at);
      }
  };
  walk(template, "");
  return problems;
}
