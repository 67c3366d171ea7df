// A cheap structural check of the FHIR JSON a client sends (context and prefetch), before any handler reads it:
// the elements code everywhere relies on must have their FHIR JSON types, and nesting must stay FHIR-shallow.
// It is not validation against profiles; it turns "a number where a reference string belongs" into a clear 400
// naming the element, instead of a crash deep inside history building.

/** Elements whose FHIR R4 JSON type is string wherever they occur. */
const STRING_ELEMENTS = new Set(['resourceType', 'id', 'reference', 'system', 'display', 'status', 'intent', 'authoredOn', 'birthDate', 'gender', 'fullUrl', 'unit']);
/** Elements that are arrays wherever they occur. */
const ARRAY_ELEMENTS = new Set(['entry', 'coding', 'link']);
/** Deeper than any real resource; deeper input is a recursion bomb aimed at whoever walks it next. */
export const MAX_DEPTH = 48;

export interface ShapeProblem {
  path: string;
  message: string;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** First problem found under `value` (an object from parsed JSON), with its path from `root`; undefined when sound. */
export function checkFhirShape(value: unknown, root: string): ShapeProblem | undefined {
  // Iterative, so that hostile nesting cannot overflow the stack here either.
  const stack: Array<{ node: unknown; path: string; depth: number }> = [{ node: value, path: root, depth: 0 }];
  while (stack.length > 0) {
    const { node, path, depth } = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > MAX_DEPTH) return { path, message: `nested more than ${MAX_DEPTH} levels deep` };
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push({ node: node[i], path: `${path}[${i}]`, depth: depth + 1 });
      continue;
    }
    const record = node as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const child = record[key];
      const at = `${path}.${key}`;
      if (child === null && key !== 'resource') continue;
      if (STRING_ELEMENTS.has(key) && typeof child !== 'string') return { path: at, message: `must be a string, not ${describe(child)}` };
      if (ARRAY_ELEMENTS.has(key) && !Array.isArray(child)) return { path: at, message: `must be an array, not ${describe(child)}` };
      if (key === 'coding')
        for (const [i, c] of (child as unknown[]).entries()) {
          if (c === null || typeof c !== 'object' || Array.isArray(c)) return { path: `${at}[${i}]`, message: `must be a Coding object, not ${describe(c)}` };
          const code = (c as Record<string, unknown>).code;
          if (code !== undefined && typeof code !== 'string') return { path: `${at}[${i}].code`, message: `must be a string, not ${describe(code)}` };
        }
      if (key === 'resource' && (child === null || typeof child !== 'object' || Array.isArray(child) || typeof (child as { resourceType?: unknown }).resourceType !== 'string'))
        return { path: at, message: 'must be a FHIR resource (an object with resourceType)' };
      if (child !== null && typeof child === 'object') stack.push({ node: child, path: at, depth: depth + 1 });
    }
  }
  return undefined;
}
