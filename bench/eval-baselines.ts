// Evaluation speed: `npm run bench:eval [-- patients]`. Logistic-regression fit on a synthetic
// dataset built in code (protocol "all", every encounter a sample), and the harness's metric work
// (per-sample metrics, 10 rounds, per-label PR-AUC) on the test part. Medians of 3 runs; wall and CPU
// are both printed because the machine may be shared.
import { syntheticDataset } from '../test/eval/fixtures/synthetic-dataset.ts';
import { LogisticRegressionRecommender } from '../src/eval/baselines/logistic-regression.ts';
import { evaluate, labelVocabulary } from '../src/eval/harness.ts';
import { MostFrequentRecommender } from '../src/eval/baselines/most-frequent.ts';
import { syntheticInteracts } from '../test/eval/fixtures/synthetic-dataset.ts';

const patients = Number(process.argv[2] ?? 10_000);
const ds = syntheticDataset({ patients, seed: 1, labels: 150, diagnoses: 1500, maxVisits: 3 });
const labels = labelVocabulary(ds.records);
const cut = Math.floor(patients * 0.8);
const idOf = (r: { patientId: string }) => Number(r.patientId.slice(4));
const train = ds.records.filter((r) => idOf(r) < cut);
const valid = ds.records.filter((r) => idOf(r) >= cut && idOf(r) < cut + patients * 0.1);

function timed<T>(fn: () => Promise<T>): Promise<{ wall: number; cpu: number; value: T }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  return fn().then((value) => {
    const c = process.cpuUsage(cpu0);
    return { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, value };
  });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const fits = [];
for (let run = 0; run < 3; run++) {
  const lr = new LogisticRegressionRecommender();
  fits.push(await timed(async () => ({ report: await lr.fit(train, valid, { labels, seed: run }), features: lr.featureCount })));
}
const f = fits[0]?.value;
console.log(
  `logreg fit: ${train.length} training records, ${f?.features} features, ${labels.length} labels, ` +
    `${f?.report.curve?.length} epochs (early stopping): median wall ${median(fits.map((x) => x.wall)).toFixed(2)} s, ` +
    `median CPU ${median(fits.map((x) => x.cpu)).toFixed(2)} s, per epoch ${(median(fits.map((x) => x.wall)) / (f?.report.curve?.length ?? 1)).toFixed(2)} s`,
);

const harness = [];
for (let run = 0; run < 3; run++) {
  harness.push(
    await timed(() =>
      evaluate({
        dataset: ds,
        methods: [{ name: 'most-frequent', create: () => new MostFrequentRecommender() }],
        split: { kind: 'holdout', train: 0.8, validation: 0.1, test: 0.1 },
        rounds: 10,
        protocol: 'all',
        interacts: syntheticInteracts,
      }),
    ),
  );
}
const samples = harness[0]?.value.methods[0]?.folds[0]?.testSamples;
console.log(
  `harness (most-frequent, holdout, 10 rounds, DDI, per-label PR-AUC): ${ds.records.length} records, ${samples} test samples: ` +
    `median wall ${median(harness.map((x) => x.wall)).toFixed(2)} s, median CPU ${median(harness.map((x) => x.cpu)).toFixed(2)} s`,
);
