// Mapping coverage: how much of a site's data the mapping turns into model inputs and labels,
// and which unmapped codes matter most.
import type { Coding } from 'fhir/r4';
import type { OccurrenceSink } from '../history/assemble.ts';
import type { IssueLog } from '../history/issues.ts';
import type { Concept, ConceptKind, PatientHistory } from '../history/types.ts';
import type { LoadedMapping } from './types.ts';

export interface UnmappedCode {
  system: string;
  code: string;
  display?: string;
  count: number;
}

export interface SystemSeen {
  system: string;
  /** Resources of the kind with at least one coding of this system. */
  resources: number;
  /** Whether the mapping lists this system for the kind. */
  configured: boolean;
}

export interface KindCoverage {
  /** Every resource of the kind that was read: occurrences plus those skipped for having no usable code. */
  resources: number;
  /** Resources that reached the mapping (a coding, or text only). */
  occurrences: number;
  /** Resources skipped because they carry no coding with a code (and, for medications, no text either). */
  noCode: number;
  /** Occurrences with text but no coding (mappable only by `match: "text"` or the rxnorm source). */
  textOnly: number;
  mapped: number;
  /** mapped / resources (0 when there are none): resources without a usable code count as unmapped. */
  share: number;
  topUnmapped: UnmappedCode[];
  /** Code systems seen on the kind's resources, most frequent first. */
  systems: SystemSeen[];
}

/** Something the mapping's author should look at; `--strict` turns warnings into a non-zero exit. */
export interface CoverageWarning {
  kind: 'diagnoses' | 'procedures' | 'medications';
  message: string;
}

export interface CoverageReport {
  mapping: string;
  input: string;
  patients: number;
  encounters: number;
  /** Encounters with at least one mapped diagnosis and one medication label (training targets). */
  encountersWithDiagnosisAndLabel: number;
  /** Patients with two or more such encounters. */
  patientsWithTwoOrMore: number;
  diagnoses: KindCoverage;
  procedures: KindCoverage;
  medications: KindCoverage;
  labels: { distinct: number; top: Array<{ label: string; name?: string; count: number }> };
  warnings: CoverageWarning[];
  /** Per concept map: values that were not valid for its normalisation (never matched, e.g. NDCs with letters). */
  conceptMaps: Array<{ name: string; size: number; skippedRows: number; invalidLookups: number; invalidExamples: string[] }>;
  issues: ReturnType<IssueLog['toJSON']>;
}

/** The systems a mapping configures for each kind (medications: every source's systems). */
export function configuredSystems(mapping: LoadedMapping): Record<ConceptKind, Set<string>> {
  const { config } = mapping;
  const medications = new Set<string>();
  for (const source of config.medications.sources) {
    if (source.kind === 'coding') medications.add(source.system);
    else for (const system of source.systems) medications.add(system);
  }
  return {
    diagnosis: new Set(config.diagnoses.systems.map((r) => r.system)),
    procedure: new Set(config.procedures.systems.map((r) => r.system)),
    medication: medications,
  };
}

const plural: Record<ConceptKind, CoverageWarning['kind']> = { diagnosis: 'diagnoses', procedure: 'procedures', medication: 'medications' };

/** Resource types whose skipped-for-no-code count belongs to each kind's denominator. */
const resourceTypes: Record<ConceptKind, string> = { diagnosis: 'Condition', procedure: 'Procedure', medication: 'MedicationRequest' };

class KindCounter {
  occurrences = 0;
  mapped = 0;
  textOnly = 0;
  readonly unmapped = new Map<string, UnmappedCode>();
  /** system -> [resources carrying it, of which unmapped]. */
  readonly systems = new Map<string, [number, number]>();

  add(mapped: boolean, concept: Concept, codings: readonly Coding[] | undefined): void {
    this.occurrences++;
    const systems = new Set<string>();
    for (const c of codings ?? []) if (typeof c.system === 'string' && c.system) systems.add(c.system);
    if (codings !== undefined && codings.length === 0) this.textOnly++;
    for (const system of systems) {
      const seen = this.systems.get(system) ?? [0, 0];
      seen[0]++;
      if (!mapped) seen[1]++;
      this.systems.set(system, seen);
    }
    if (mapped) {
      this.mapped++;
      return;
    }
    const key = `${concept.system}|${concept.code}`;
    const found = this.unmapped.get(key);
    if (found) {
      found.count++;
      if (!found.display && concept.display) found.display = concept.display;
    } else {
      this.unmapped.set(key, { system: concept.system, code: concept.code, ...(concept.display ? { display: concept.display } : {}), count: 1 });
    }
  }

  report(top: number, noCode: number, configured: ReadonlySet<string>): KindCoverage {
    const resources = this.occurrences + noCode;
    return {
      resources,
      occurrences: this.occurrences,
      noCode,
      textOnly: this.textOnly,
      mapped: this.mapped,
      share: resources === 0 ? 0 : this.mapped / resources,
      topUnmapped: [...this.unmapped.values()].sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)).slice(0, top),
      systems: [...this.systems]
        .map(([system, [n]]) => ({ system, resources: n, configured: configured.has(system) }))
        .sort((a, b) => b.resources - a.resources || a.system.localeCompare(b.system)),
    };
  }

  /**
   * A configured system that matches nothing while resources left unmapped carry systems the mapping does not
   * list: the typo'd URI, or a vocabulary the mapping was not written for.
   */
  warnings(kind: ConceptKind, configured: ReadonlySet<string>): CoverageWarning[] {
    const others = [...this.systems].filter(([system, [, unmapped]]) => !configured.has(system) && unmapped > 0);
    if (others.length === 0) return [];
    const seen = [...this.systems]
      .sort((a, b) => b[1][0] - a[1][0])
      .map(([system, [n]]) => `${system} (${n}${configured.has(system) ? ', configured' : ''})`)
      .join(', ');
    const unmatched = [...configured].filter((system) => !this.systems.has(system));
    if (unmatched.length === 0) return [];
    return [{ kind: plural[kind], message: `configured system(s) matching no ${plural[kind]}: ${unmatched.join(', ')}; systems seen: ${seen}` }];
  }
}

export class CoverageCollector implements OccurrenceSink {
  private readonly kinds: Record<ConceptKind, KindCounter> = {
    diagnosis: new KindCounter(),
    procedure: new KindCounter(),
    medication: new KindCounter(),
  };
  private patients = 0;
  private encounters = 0;
  private eligible = 0;
  private multi = 0;
  private readonly labels = new Map<string, number>();

  occurrence(kind: ConceptKind, mapped: boolean, concept: Concept, codings?: readonly Coding[]): void {
    this.kinds[kind].add(mapped, concept, codings);
  }

  history(history: PatientHistory): void {
    this.patients++;
    this.encounters += history.encounters.length;
    let eligible = 0;
    for (const enc of history.encounters) {
      const labels = new Set<string>();
      for (const med of enc.medications) for (const label of med.labels) labels.add(label);
      for (const label of labels) this.labels.set(label, (this.labels.get(label) ?? 0) + 1);
      if (enc.diagnoses.length > 0 && labels.size > 0) eligible++;
    }
    this.eligible += eligible;
    if (eligible >= 2) this.multi++;
  }

  report(
    mapping: LoadedMapping & { conceptMaps?: ReadonlyMap<string, { size: number; skippedRows: number; invalidLookups: number; invalidExamples: readonly string[] }> },
    input: string,
    issues: IssueLog,
    top = 20,
  ): CoverageReport {
    const configured = configuredSystems(mapping);
    const noCode = issues.byResourceType.get('no-code');
    const kind = (k: ConceptKind) => this.kinds[k].report(top, noCode?.get(resourceTypes[k]) ?? 0, configured[k]);
    const warnings: CoverageWarning[] = [];
    for (const k of ['diagnosis', 'procedure', 'medication'] as const) {
      warnings.push(...this.kinds[k].warnings(k, configured[k]));
      const counter = this.kinds[k];
      if (counter.occurrences > 0 && counter.mapped === 0) {
        warnings.push({ kind: plural[k], message: `no ${plural[k]} mapped at all (${counter.occurrences} read)` });
      }
    }
    return {
      mapping: mapping.path,
      input,
      patients: this.patients,
      encounters: this.encounters,
      encountersWithDiagnosisAndLabel: this.eligible,
      patientsWithTwoOrMore: this.multi,
      diagnoses: kind('diagnosis'),
      procedures: kind('procedure'),
      medications: kind('medication'),
      labels: {
        distinct: this.labels.size,
        top: [...this.labels]
          .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
          .slice(0, top)
          .map(([label, count]) => {
            const name = mapping.labelEntry(label)?.name;
            return { label, ...(name ? { name } : {}), count };
          }),
      },
      warnings,
      conceptMaps: [...(mapping.conceptMaps ?? new Map())].map(([name, m]) => ({
        name,
        size: m.size,
        skippedRows: m.skippedRows,
        invalidLookups: m.invalidLookups,
        invalidExamples: [...m.invalidExamples],
      })),
      issues: issues.toJSON(),
    };
  }
}

function pct(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i > 0 && /^[\d.,%]+$/.test(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

function truncate(text: string | undefined, max = 60): string {
  if (!text) return '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function renderCoverageTable(report: CoverageReport): string {
  const out: string[] = [];
  out.push(`mapping: ${report.mapping}`, `input:   ${report.input}`, '');
  out.push(
    ...table(
      ['figure', 'value'],
      [
        ['patients', String(report.patients)],
        ['encounters', String(report.encounters)],
        ['encounters with >=1 diagnosis and >=1 label', String(report.encountersWithDiagnosisAndLabel)],
        ['patients with >=2 such encounters', String(report.patientsWithTwoOrMore)],
        ['distinct labels', String(report.labels.distinct)],
      ],
    ),
  );
  out.push('');
  const kinds: Array<[string, KindCoverage]> = [
    ['diagnoses', report.diagnoses],
    ['procedures', report.procedures],
    ['medications', report.medications],
  ];
  out.push(
    ...table(
      ['kind', 'resources', 'no usable code', 'text only', 'mapped', 'share'],
      kinds.map(([k, c]) => [k, String(c.resources), String(c.noCode), String(c.textOnly), String(c.mapped), pct(c.share)]),
    ),
    '(share = mapped / resources; resources without a usable code are skipped from training and count as unmapped)',
  );
  for (const [kind, coverage] of kinds) {
    if (coverage.systems.length === 0) continue;
    out.push('', `code systems on ${kind}:`);
    out.push(...table(['resources', 'configured', 'system'], coverage.systems.map((s) => [String(s.resources), s.configured ? 'yes' : 'no', s.system])));
  }
  for (const [kind, coverage] of kinds) {
    if (coverage.topUnmapped.length === 0) continue;
    out.push('', `top unmapped ${kind}:`);
    out.push(...table(['count', 'system', 'code', 'display'], coverage.topUnmapped.map((u) => [String(u.count), u.system, truncate(u.code, 40), truncate(u.display)])));
  }
  const maps = report.conceptMaps.filter((m) => m.skippedRows > 0 || m.invalidLookups > 0);
  if (maps.length > 0) {
    out.push('', 'concept maps:');
    for (const m of maps) {
      out.push(
        `  ${m.name}: ${m.size} keys; ${m.skippedRows} table rows not normalisable (skipped); ${m.invalidLookups} values in the data not normalisable (not matched)${m.invalidExamples.length > 0 ? `, e.g. ${m.invalidExamples.map((e) => `'${e}'`).join(', ')}` : ''}`,
      );
    }
  }
  if (report.warnings.length > 0) {
    out.push('', `warnings (${report.warnings.length}):`);
    for (const w of report.warnings) out.push(`  ${w.kind}: ${w.message}`);
  }
  const issueKinds = Object.entries(report.issues.byKind);
  if (issueKinds.length > 0) {
    out.push('', `input issues (${report.issues.total}):`);
    for (const [kind, entry] of issueKinds) {
      out.push(`  ${kind}: ${entry.count} (${entry.description})`);
      for (const ex of entry.examples.slice(0, 3)) {
        out.push(`    ${[ex.file && `${ex.file}${ex.line !== undefined ? `:${ex.line}` : ''}`, ex.resource, ex.field, ex.message].filter(Boolean).join(': ')}`);
      }
    }
  }
  return out.join('\n');
}

/**
 * Why a dataset build wrote no records, from the coverage of the same read: what was read, what the mapping
 * matched, and the systems seen against those configured.
 */
export function explainEmptyDataset(report: CoverageReport, skipped: Readonly<Record<string, number>>): string {
  const lines: string[] = [];
  if (report.patients === 0 || report.encounters === 0) {
    lines.push(`the input held ${report.patients} patient(s) and ${report.encounters} usable encounter(s)`);
  } else {
    lines.push(`no encounter had both a mapped diagnosis and a medication label (${report.encounters} encounters of ${report.patients} patients read)`);
  }
  const skips = Object.entries(skipped).map(([k, v]) => `${k} ${v}`).join(', ');
  if (skips) lines.push(`encounters skipped: ${skips}`);
  const kinds: Array<[string, KindCoverage]> = [
    ['diagnoses', report.diagnoses],
    ['procedures', report.procedures],
    ['medications', report.medications],
  ];
  for (const [kind, c] of kinds) {
    const seen = c.systems.map((s) => `${s.system} (${s.resources}${s.configured ? ', configured' : ''})`).join(', ') || 'none';
    lines.push(`${kind}: mapped ${c.mapped}/${c.resources}${c.noCode > 0 ? ` (${c.noCode} without a usable code)` : ''}; systems seen: ${seen}`);
  }
  for (const w of report.warnings) lines.push(`warning: ${w.kind}: ${w.message}`);
  return lines.join('\n  ');
}
