// The HTTP floor for bench/http-load.ts: express with the service's JSON body parser, answering a fixed body of the
// real answer's size to every POST, with no domain work (no history, model, cards, logs or metrics). What this
// process reaches on a machine is the most the service's HTTP stack can give there.
// Environment: FLOOR_ANSWER (file holding the answer body), FLOOR_WORKERS (processes, default 1).
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import express from 'express';

const workers = Number(process.env.FLOOR_WORKERS ?? 1);
if (cluster.isPrimary && workers > 1) {
  let ready = 0;
  let port = 0;
  cluster.on('message', (_w, msg: { port?: number }) => {
    port = msg.port ?? port;
    if (++ready === workers) console.log(JSON.stringify({ msg: 'ready', port }));
  });
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const answer = readFileSync(process.env.FLOOR_ANSWER!, 'utf8');
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '1mb', strict: true }));
  app.post('*', (req, res) => {
    // Touch the parsed body, as the service does, so that the parse cannot be skipped.
    if (typeof req.body !== 'object' || req.body === null) return void res.status(400).end();
    res.type('application/json').send(answer);
  });
  const server = app.listen(0, '127.0.0.1', () => {
    const port = (server.address() as { port: number }).port;
    if (cluster.isWorker) process.send!({ port });
    else console.log(JSON.stringify({ msg: 'ready', port }));
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
