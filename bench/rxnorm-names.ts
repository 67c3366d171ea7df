// RxNorm drug names as EHRs draft them: `npm run bench:rxnorm [-- --names file.csv] [--failures N]`.
// Reads a CSV of real RxNorm drug names (default bench/fixtures/rxnorm-drug-names.csv; columns rxcui, tty, name —
// `str` is accepted for name, so an RXNCONSO-style extract works) and prints the share that parses to ingredients,
// the share whose ingredients all have an ATC class in mappings/terminology/ingredient-atc.csv, and the share that
// resolves to labels through each shipped mapping (the coding carries the RxCUI when the list has one).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { benchArgs } from './args.ts';
import { parseRxNormName } from '../src/terminology/rxnorm-names.ts';
import { RxNormResolver } from '../src/terminology/rxnorm.ts';
import { loadIngredientAtc, loadRouteRules, loadRxNormCodes, loadSalts } from '../src/terminology/tables.ts';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const { option, intOption } = benchArgs('bench:rxnorm');
const file = resolve(option('--names') ?? resolve(root, 'bench/fixtures/rxnorm-drug-names.csv'));
const showFailures = intOption('--failures', 15, 0);
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';

interface Row {
  rxcui: string;
  tty: string;
  name: string;
}

function readRows(path: string): Row[] {
  let records: Record<string, string>[];
  try {
    records = parse(readFileSync(path, 'utf8'), { columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()), comment: '#', skip_empty_lines: true, relax_column_count: true, bom: true });
  } catch (err) {
    process.stderr.write(`bench:rxnorm: ${path}: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const rows = records.map((r) => ({ rxcui: (r.rxcui ?? '').trim(), tty: (r.tty ?? '').trim().toUpperCase(), name: (r.name ?? r.str ?? '').trim() }));
  if (rows.length === 0 || rows.every((r) => !r.name)) {
    process.stderr.write(`bench:rxnorm: ${path}: no names (expected a header with 'name' or 'str')\n`);
    process.exit(2);
  }
  return rows;
}

const pct = (n: number, d: number) => (d === 0 ? '-' : `${((100 * n) / d).toFixed(1)}%`);

const rows = readRows(file);
const tables = (name: string) => ({ mappingFile: 'bench', field: name, path: resolve(root, 'mappings/terminology', name) });
const resolver = new RxNormResolver({
  ingredientAtc: await loadIngredientAtc(tables('ingredient-atc.csv')),
  codes: await loadRxNormCodes(tables('rxnorm-codes.csv')),
  salts: await loadSalts(tables('salts.csv')),
  routes: await loadRouteRules(tables('route-atc.csv')),
});

let parsed = 0;
let allAtc = 0;
const unparsed: string[] = [];
const missingAtc = new Map<string, number>();
const byTty = new Map<string, { n: number; parsed: number; atc: number }>();
const t0 = performance.now();
for (const row of rows) {
  const result = parseRxNormName(row.name);
  const tty = byTty.get(row.tty || '?') ?? { n: 0, parsed: 0, atc: 0 };
  byTty.set(row.tty || '?', tty);
  tty.n++;
  if (result.kind === 'unparsed') {
    unparsed.push(`${row.name}  (${result.reason})`);
    continue;
  }
  parsed++;
  tty.parsed++;
  const ingredients = resolver.ingredientsOfParse(result);
  const missing = ingredients.filter((i) => resolver.atcOf(i).length === 0);
  if (ingredients.length > 0 && missing.length === 0) {
    allAtc++;
    tty.atc++;
  }
  for (const m of missing) missingAtc.set(m, (missingAtc.get(m) ?? 0) + 1);
}
const parseMs = performance.now() - t0;

process.stdout.write(`names: ${rows.length} from ${file}\n`);
process.stdout.write(`parsed to ingredients:             ${parsed}/${rows.length} = ${pct(parsed, rows.length)}\n`);
process.stdout.write(`all ingredients have an ATC class: ${allAtc}/${rows.length} = ${pct(allAtc, rows.length)} (of parsed: ${pct(allAtc, parsed)})\n`);
process.stdout.write(`parse + ingredient lookup: ${((1000 * rows.length) / parseMs).toFixed(0)} names/s (one pass, cold)\n`);
process.stdout.write('\nby term type:   n  parsed  all-ATC\n');
for (const [tty, s] of [...byTty].sort()) process.stdout.write(`  ${tty.padEnd(6)} ${String(s.n).padStart(6)}  ${pct(s.parsed, s.n).padStart(6)}  ${pct(s.atc, s.n).padStart(6)}\n`);

process.stdout.write('\nresolving to labels through each shipped mapping (coding = RxCUI when listed + the name as display):\n');
const { loadMapping } = await import('../src/mapping/load.ts');
for (const name of ['synthetic', 'synthea', 'mimic-iv-demo']) {
  let mapping;
  try {
    mapping = await loadMapping(resolve(root, 'mappings', `${name}.json`));
  } catch (err) {
    process.stdout.write(`  ${name.padEnd(14)} skipped: ${(err as Error).message.split('\n')[0]}\n`);
    continue;
  }
  let labelled = 0;
  let inCatalog = 0;
  const unlabelled: string[] = [];
  for (const row of rows) {
    const labels = mapping.medicationLabels([{ system: RXNORM, ...(row.rxcui ? { code: row.rxcui } : {}), display: row.name }]);
    if (labels.length > 0) labelled++;
    else unlabelled.push(`${row.rxcui || '-'} ${row.name}`);
    if (labels.length > 0 && labels.every((l) => mapping.labelEntry(l) !== undefined)) inCatalog++;
  }
  process.stdout.write(`  ${name.padEnd(14)} labels: ${labelled}/${rows.length} = ${pct(labelled, rows.length)}; every label in the catalog: ${pct(inCatalog, rows.length)}\n`);
  for (const u of unlabelled.slice(0, showFailures)) process.stdout.write(`      no label: ${u}\n`);
}

if (showFailures > 0 && (unparsed.length > 0 || missingAtc.size > 0)) {
  process.stdout.write(`\nunparsed (${unparsed.length}):\n`);
  for (const u of unparsed.slice(0, showFailures)) process.stdout.write(`  ${u}\n`);
  process.stdout.write(`ingredients without an ATC class (${missingAtc.size}):\n`);
  for (const [ing, n] of [...missingAtc].sort((a, b) => b[1] - a[1]).slice(0, showFailures)) process.stdout.write(`  ${n}  ${ing}\n`);
}
