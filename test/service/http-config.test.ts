// Service configuration: defaults that make `npm start` work with no set-up, file (JSON/YAML) < environment <
// flags, and errors that name the file, field or variable at fault.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig, projectRoot } from '../../src/service/config.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'leader-cds-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function fails(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

describe('service configuration', () => {
  it('has defaults that need no set-up: loopback port 8080, the registry (demo model), synthetic mapping, auth disabled, var/ feedback db', async () => {
    const c = loadConfig({ env: {} });
    assert.equal(c.server.port, 8080);
    assert.equal(c.server.timeBudgetMs, 300);
    assert.equal(c.server.bodyLimit, '1mb');
    assert.equal(c.auth.mode, 'disabled');
    assert.equal(c.server.host, '127.0.0.1');
    assert.equal(c.model.dir, undefined);
    assert.equal(c.model.registry, path.join(projectRoot, 'models'));
    assert.equal(c.model.hotSwap, true);
    const { resolveModelDir } = await import('../../src/service/wiring.ts');
    assert.deepEqual(await resolveModelDir(c), { dir: path.join(projectRoot, 'models/demo'), fromRegistry: true });
    assert.equal(c.mapping.path, path.join(projectRoot, 'mappings/synthetic.json'));
    assert.equal(c.feedback.db, path.join(projectRoot, 'var/feedback.sqlite'));
    assert.equal(c.services.definitionsDir, path.join(projectRoot, 'cds-hooks'));
  });

  it('reads YAML and JSON files, resolving paths against the file, then applies environment and flags on top', () => {
    const yaml = write('svc.yaml', 'server:\n  port: 9000\n  timeBudgetMs: 250\nmodel:\n  dir: ./my-model\nfeedback:\n  db: data/fb.sqlite\n');
    const c = loadConfig({ file: yaml, env: {} });
    assert.equal(c.server.port, 9000);
    assert.equal(c.server.timeBudgetMs, 250);
    assert.equal(c.model.dir, path.join(dir, 'my-model'));
    assert.equal(c.feedback.db, path.join(dir, 'data/fb.sqlite'));
    const json = write('svc.json', JSON.stringify({ server: { port: 9001 } }));
    assert.equal(loadConfig({ env: { LEADER_CDS_CONFIG: json } }).server.port, 9001);
    const env = loadConfig({ file: yaml, env: { PORT: '9100', LEADER_CDS_MODEL_DIR: 'other', LEADER_CDS_CORS_ORIGINS: 'https://a.example, https://b.example' } });
    assert.equal(env.server.port, 9100);
    assert.equal(env.model.dir, path.join(projectRoot, 'other'));
    assert.deepEqual(env.cors.origins, ['https://a.example', 'https://b.example']);
    assert.equal(loadConfig({ file: yaml, env: { PORT: '9100' }, overrides: { port: 9200 } }).server.port, 9200);
  });

  it('names the file and field for a bad value, an unknown key, bad syntax and a missing file', () => {
    const badPort = write('bad-port.json', JSON.stringify({ server: { port: 70000 } }));
    fails(() => loadConfig({ file: badPort, env: {} }), /bad-port\.json/, /server\.port/);
    const unknown = write('unknown.yaml', 'server:\n  prot: 80\n');
    fails(() => loadConfig({ file: unknown, env: {} }), /unknown\.yaml/, /prot/);
    const broken = write('broken.json', '{"server": ');
    fails(() => loadConfig({ file: broken, env: {} }), /broken\.json/, /not valid JSON/);
    fails(() => loadConfig({ file: path.join(dir, 'absent.yaml'), env: {} }), /absent\.yaml/, /ENOENT/);
    const list = write('list.yaml', '- 1\n- 2\n');
    fails(() => loadConfig({ file: list, env: {} }), /top level must be an object/);
  });

  it('names the environment variable for a bad value', () => {
    fails(() => loadConfig({ env: { PORT: 'eighty' } }), /PORT/, /whole number/);
    fails(() => loadConfig({ env: { LEADER_CDS_AUTH_MODE: 'maybe' } }), /LEADER_CDS_AUTH_MODE/, /auth\.mode/);
    fails(() => loadConfig({ env: { LEADER_CDS_BODY_LIMIT: 'lots' } }), /LEADER_CDS_BODY_LIMIT/);
    fails(() => loadConfig({ env: { LEADER_CDS_AUTH_FORCE_DISABLED: 'perhaps' } }), /LEADER_CDS_AUTH_FORCE_DISABLED/);
  });

  it('needs issuers and a base URL for JWT mode, and one key source per issuer', () => {
    fails(() => loadConfig({ env: { LEADER_CDS_AUTH_MODE: 'jwt' } }), /auth\.issuers/, /server\.baseUrl/);
    const both = write('both.json', JSON.stringify({ server: { baseUrl: 'https://cds.example.org' }, auth: { mode: 'jwt', issuers: [{ iss: 'x', jwksUrl: 'https://x/jwks', jwks: { keys: [{ kty: 'EC' }] } }] } }));
    fails(() => loadConfig({ file: both, env: {} }), /exactly one of jwksUrl, jwks or jwksFile/);
    const hmac = write('hmac.json', JSON.stringify({ server: { baseUrl: 'https://cds.example.org' }, auth: { mode: 'jwt', issuers: [{ iss: 'x', jwksUrl: 'https://x/jwks', algorithms: ['HS256'] }] } }));
    fails(() => loadConfig({ file: hmac, env: {} }), /algorithms/);
  });

  it('refuses auth disabled under NODE_ENV=production unless forced', () => {
    fails(() => loadConfig({ env: { NODE_ENV: 'production' } }), /production/, /forceDisabled/);
    assert.equal(loadConfig({ env: { NODE_ENV: 'production', LEADER_CDS_AUTH_FORCE_DISABLED: 'true' } }).auth.mode, 'disabled');
  });
});
