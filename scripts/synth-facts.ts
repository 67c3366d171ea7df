// Writes the synthetic cohort's mapping artefacts from src/synth/facts.ts: `npm run synth:facts`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mappingArtifacts } from '../src/synth/artifacts.ts';

const mappings = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'mappings');
for (const [rel, content] of Object.entries(mappingArtifacts())) {
  const path = join(mappings, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  console.log(`wrote ${path}`);
}
