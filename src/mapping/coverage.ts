// Mapping coverage: how much of a site's data the mapping turns into model inputs and labels,
// and which unmapped codes matter most.
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

export interface KindCoverage {
  occurrences: number;
  mapped: number;
  /** mapped / occurrences (0 when there are none). */
  share: number;
  topUnmapped: UnmappedCode[];
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
  issues: ReturnType<IssueLog['toJSON']>;
}

class KindCounter {
  occurrences = 0;
  mapped = 0;
  readonly unmapped = new Map<string, UnmappedCode>();

  add(mapped: boolean, concept: Concept): void {
    this.occurrences++;
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

  report(top: number): KindCoverage {
    return {
      occurrences: this.occurrences,
      mapped: this.mapped,
      share: this.occurrences === 0 ? 0 : this.mapped / this.occurrences,
      topUnmapped: [...this.unmapped.values()].sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)).slice(0, top),
    };
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

  occurrence(kind: ConceptKind, mapped: boolean, concept: Concept): void {
    this.kinds[kind].add(mapped, concept);
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

  report(mapping: LoadedMapping, input: string, issues: IssueLog, top = 20): CoverageReport {
    return {
      mapping: mapping.path,
      input,
      patients: this.patients,
      encounters: this.encounters,
      encountersWithDiagnosisAndLabel: this.eligible,
      patientsWithTwoOrMore: this.multi,
      diagnoses: this.kinds.diagnosis.report(top),
      procedures: this.kinds.procedure.report(top),
      medications: this.kinds.medication.report(top),
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
  out.push(...table(['kind', 'occurrences', 'mapped', 'share'], kinds.map(([k, c]) => [k, String(c.occurrences), String(c.mapped), pct(c.share)])));
  for (const [kind, coverage] of kinds) {
    if (coverage.topUnmapped.length === 0) continue;
    out.push('', `top unmapped ${kind}:`);
    out.push(...table(['count', 'system', 'code', 'display'], coverage.topUnmapped.map((u) => [String(u.count), u.system, truncate(u.code, 40), truncate(u.display)])));
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
