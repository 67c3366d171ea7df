// Problems met while reading FHIR into histories: each is a counted skip with a location, never a silent loss.

export type IssueKind =
  | 'malformed-json'
  | 'missing-resource-type'
  | 'unsupported-resource-type'
  | 'missing-id'
  | 'duplicate-id'
  | 'missing-subject'
  | 'dangling-reference'
  | 'no-code'
  | 'missing-date'
  | 'invalid-date'
  | 'no-encounter'
  | 'no-encounter-at-date'
  | 'status-excluded'
  | 'class-excluded'
  | 'encounter-excluded'
  | 'entered-in-error'
  | 'refuted';

export const issueDescriptions: Record<IssueKind, string> = {
  'malformed-json': 'line is not a JSON object (skipped)',
  'missing-resource-type': 'no resourceType (skipped)',
  'unsupported-resource-type': 'resource type not used by leader-cds (skipped)',
  'missing-id': 'resource without id (skipped)',
  'duplicate-id': 'second resource with the same type and id (skipped)',
  'missing-subject': 'no subject / patient reference (skipped)',
  'dangling-reference': 'reference to a resource that is not in the input',
  'no-code': 'no coding to map (skipped)',
  'missing-date': 'needed date absent (skipped)',
  'invalid-date': 'date that cannot be parsed (treated as absent)',
  'no-encounter': 'no encounter reference and the mapping does not attach by date (skipped)',
  'no-encounter-at-date': 'no encounter of the patient covers its date (skipped)',
  'status-excluded': 'status not counted by the mapping (skipped)',
  'class-excluded': 'encounter class not counted by the mapping (skipped)',
  'encounter-excluded': 'belongs to an encounter that was skipped (skipped with it)',
  'entered-in-error': 'marked entered-in-error by the source (ignored everywhere)',
  'refuted': 'condition whose verificationStatus is refuted (ignored everywhere)',
};

export interface ReadIssue {
  kind: IssueKind;
  message: string;
  /** Source file (bulk) or `bundle` (in-memory), and the 1-based line or entry index. */
  file?: string;
  line?: number;
  /** FHIR element at fault, e.g. `encounter.reference`. */
  field?: string;
  /** `Type/id` of the resource, when it has one. */
  resource?: string;
}

export function formatIssue(issue: ReadIssue): string {
  const where = issue.file ? `${issue.file}${issue.line !== undefined ? `:${issue.line}` : ''}` : '';
  return [where, issue.resource, issue.field, issue.message].filter(Boolean).join(': ');
}

/** Counts issues by kind and keeps the first few of each kind as examples (memory stays bounded). */
export class IssueLog {
  readonly counts = new Map<IssueKind, number>();
  readonly examples = new Map<IssueKind, ReadIssue[]>();
  /** Counts by kind and resource type (`Condition`, `MedicationRequest`, ...): coverage puts skipped resources back in its denominators. */
  readonly byResourceType = new Map<IssueKind, Map<string, number>>();

  constructor(
    readonly maxExamples = 5,
    /** Keep every issue (in-memory bundles are small and callers want them all). */
    readonly keepAll = false,
  ) {}

  readonly all: ReadIssue[] = [];

  add(issue: ReadIssue): void {
    this.counts.set(issue.kind, (this.counts.get(issue.kind) ?? 0) + 1);
    const type = issue.resource?.split('/')[0];
    if (type) {
      let types = this.byResourceType.get(issue.kind);
      if (!types) this.byResourceType.set(issue.kind, (types = new Map()));
      types.set(type, (types.get(type) ?? 0) + 1);
    }
    if (this.keepAll) this.all.push(issue);
    const list = this.examples.get(issue.kind);
    if (!list) this.examples.set(issue.kind, [issue]);
    else if (list.length < this.maxExamples) list.push(issue);
  }

  count(kind?: IssueKind): number {
    if (kind) return this.counts.get(kind) ?? 0;
    let total = 0;
    for (const n of this.counts.values()) total += n;
    return total;
  }

  toJSON(): { total: number; byKind: Record<string, { count: number; description: string; examples: ReadIssue[] }> } {
    const byKind: Record<string, { count: number; description: string; examples: ReadIssue[] }> = {};
    for (const [kind, count] of [...this.counts].sort((a, b) => b[1] - a[1])) {
      byKind[kind] = { count, description: issueDescriptions[kind], examples: this.examples.get(kind) ?? [] };
    }
    return { total: this.count(), byKind };
  }

  /** Human-readable lines: one per kind with its count, then its examples indented. */
  format(): string[] {
    const lines: string[] = [];
    for (const [kind, entry] of Object.entries(this.toJSON().byKind)) {
      lines.push(`${kind}: ${entry.count} (${entry.description})`);
      for (const example of entry.examples) lines.push(`  ${formatIssue(example)}`);
    }
    return lines;
  }
}
