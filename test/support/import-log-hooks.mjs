// Module resolve hook for the import-rule test: appends every resolved URL to the file in IMPORT_LOG.
import { appendFileSync } from 'node:fs';

export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (process.env.IMPORT_LOG) appendFileSync(process.env.IMPORT_LOG, `${result.url}\n`);
  return result;
}
