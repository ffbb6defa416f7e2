// A minimal stand-in for the service's import-job routes that `ferry diskprep` calls (GET the job, PUT a
// disk, POST prepared), on 127.0.0.1, so the bench measures diskprep without a whole `ferry serve` and
// agent registration. It checks the job token and keeps the jobs in memory; it enforces none of the
// service's rules (the tests run diskprep against a fake that does: src/seed/testing/).
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

export async function startFakeJobServer() {
  const jobs = new Map();
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const send = (status, value) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    const match = /^\/v1\/import-jobs\/([^/]+)(?:\/disks\/(\d+)|\/(prepared))?$/.exec(req.url ?? '');
    const entry = match && jobs.get(decodeURIComponent(match[1]));
    if (!entry || req.headers.authorization !== `Bearer ${entry.token}`) return send(401, { code: 'UNAUTHENTICATED', message: 'bad token' });
    const job = entry.job;
    if (req.method === 'GET' && !match[2] && !match[3]) return send(200, job);
    if (req.method === 'PUT' && match[2]) {
      const disk = JSON.parse(body);
      const index = Number(match[2]);
      job.disks = [...job.disks.filter((d) => d.index !== index), { id: disk.diskId, index, state: 'Prepared', bytes: disk.bytes, files: disk.files, manifestSha256: disk.manifestSha256, progress: null }];
      return send(200, job);
    }
    if (req.method === 'POST' && match[3]) {
      job.preparedAt = new Date().toISOString();
      return send(200, { job, shippingAddress: 'Bench Datacenter' });
    }
    return send(404, { code: 'NOT_FOUND', message: 'no such route' });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    /** A new job in state Creating and its token. */
    createJob(name) {
      const at = new Date().toISOString();
      const job = {
        // The shape of the service's answers (src/contract/import-job.ts), which diskprep checks.
        id: randomUUID(), name, tenantId: randomUUID(), vaultId: randomUUID(), storageAccountId: randomUUID(), container: 'bench', state: 'Creating', createdAt: at,
        preparedAt: null, trackingDeadline: null, carrier: null, trackingNumber: null, returnAddress: null, shippedAt: null, receivedAt: null,
        disks: [], errorCount: 0, adoption: null, timeline: [{ at, state: 'Creating', actor: 'bench' }],
      };
      const token = `fry_job_${randomBytes(32).toString('base64url')}`;
      jobs.set(job.id, { job, token });
      return { job, token };
    },
    /** The seed file `ferry seed start` would have written for this job. */
    seedFile(job, token) {
      return { format: 'ferry-seed', version: 1, server: url, jobId: job.id, jobName: job.name, jobToken: token, vault: { id: job.vaultId, name: 'bench' } };
    },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}
