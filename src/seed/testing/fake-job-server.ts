import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DiskRegistration, DiskReplacement } from '../../contract/import-job.js';
import { FakeJobService, FakeServiceError } from './fake-job-service.js';

/**
 * The three import-job routes diskprep calls, over HTTP on 127.0.0.1 (port 0), around a
 * {@link FakeJobService}: `GET /v1/import-jobs/:id`, `PUT /v1/import-jobs/:id/disks/:index`,
 * `POST /v1/import-jobs/:id/prepared`. The job token must come as `Authorization: Bearer`; a token in
 * the URL is refused. Errors are `{code, message}`. Records every request line for assertions.
 */
export class FakeJobServer {
  readonly requests: { method: string; url: string; authorization: string | undefined }[] = [];
  private server: Server | undefined;
  url = '';

  constructor(readonly service: FakeJobService = new FakeJobService()) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? '';
    const url = req.url ?? '';
    this.requests.push({ method, url, authorization: req.headers.authorization });
    try {
      const body = await readBody(req);
      if (url.includes('?')) throw new FakeServiceError(400, 'INVALID', 'no query parameters (tokens are never accepted in URLs)');
      const match = /^\/v1\/import-jobs\/([^/]+)(\/disks\/([0-9]+)(\/replacement)?|\/prepared)?$/.exec(url);
      if (!match) throw new FakeServiceError(404, 'NOT_FOUND', `no route ${method} ${url}`);
      const jobId = decodeURIComponent(match[1]!);
      const entry = this.service.jobs.get(jobId);
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!token || !entry || entry.token !== token) throw new FakeServiceError(401, 'UNAUTHENTICATED', 'missing or invalid token');
      let answer: unknown;
      if (method === 'GET' && match[2] === undefined) answer = await this.service.getJob(jobId);
      else if (method === 'PUT' && match[4] !== undefined) answer = await this.service.replaceDisk(jobId, Number(match[3]), JSON.parse(body) as DiskReplacement);
      else if (method === 'PUT' && match[3] !== undefined) answer = await this.service.putDisk(jobId, Number(match[3]), JSON.parse(body) as DiskRegistration);
      else if (method === 'POST' && match[2] === '/prepared') answer = await this.service.markPrepared(jobId, (JSON.parse(body) as { disks: number }).disks);
      else throw new FakeServiceError(405, 'METHOD_NOT_ALLOWED', `${method} ${url}`);
      send(res, 200, answer);
    } catch (err) {
      if (err instanceof FakeServiceError) send(res, err.status, { code: err.code, message: err.message });
      else send(res, 500, { code: 'INTERNAL', message: (err as Error).message });
    }
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += (chunk as Buffer).toString('utf8');
  return text;
}
