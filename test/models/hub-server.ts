/**
 * A tiny stand-in for the Hugging Face hub on 127.0.0.1, for tests.
 *
 * `GET /<owner>/<repo>/resolve/<rev>/<file>` answers like the hub does for LFS
 * files: 302 to a CDN path, with `X-Linked-Etag` (the quoted SHA-256),
 * `X-Linked-Size`, `ETag` and `X-Repo-Commit`. `GET /cdn/<id>` serves the bytes
 * with `Accept-Ranges: bytes`, honouring `Range: bytes=N-` with 206 and
 * `Content-Range`. `GET /plain/<name>` serves bytes with no hash headers, like
 * an ordinary web server.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HostedFile {
  body: Buffer;
  /** Override the SHA-256 the "hub" reports (to test mismatches). */
  reportedSha256?: string;
  /** Cut the connection after this many body bytes on the first `cutTimes` CDN requests. */
  cutAfter?: number;
  cutTimes?: number;
}

export interface RequestLog {
  method: string;
  url: string;
  range?: string;
  authorization?: string;
}

export class FakeHub {
  readonly files = new Map<string, HostedFile>(); // key: "owner/repo/rev/file"
  readonly plain = new Map<string, HostedFile>(); // key: name
  readonly requests: RequestLog[] = [];
  private server: Server | undefined;
  private cuts = new Map<string, number>();
  origin = '';

  add(owner: string, repo: string, revision: string, file: string, hosted: HostedFile): void {
    this.files.set(`${owner}/${repo}/${revision}/${file}`, hosted);
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.origin = `http://127.0.0.1:${port}`;
    return this.origin;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.origin);
    this.requests.push({
      method: req.method ?? 'GET',
      url: url.pathname,
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    if (parts[0] === 'cdn' || parts[0] === 'plain') {
      const key = parts.slice(1).join('/');
      const hosted = parts[0] === 'cdn' ? this.files.get(key) : this.plain.get(key);
      if (!hosted) return this.notFound(res);
      return this.serveBytes(req, res, key, hosted, parts[0] === 'cdn');
    }
    if (parts.length >= 5 && parts[2] === 'resolve') {
      const [owner, repo, , rev, ...rest] = parts;
      const key = `${owner}/${repo}/${rev}/${rest.join('/')}`;
      const hosted = this.files.get(key);
      if (!hosted) {
        res.writeHead(404, { 'x-error-code': 'EntryNotFound', 'content-type': 'text/plain' });
        res.end('Entry not found');
        return;
      }
      const sha = hosted.reportedSha256 ?? createHash('sha256').update(hosted.body).digest('hex');
      res.writeHead(302, {
        location: `/cdn/${key.split('/').map(encodeURIComponent).join('/')}`,
        'x-linked-etag': `"${sha}"`,
        'x-linked-size': String(hosted.body.length),
        etag: `"${sha}"`,
        'x-repo-commit': 'a'.repeat(40),
        'accept-ranges': 'bytes',
        'content-length': '0',
      });
      res.end();
      return;
    }
    this.notFound(res);
  }

  private notFound(res: ServerResponse): void {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('Not found');
  }

  private serveBytes(req: IncomingMessage, res: ServerResponse, key: string, hosted: HostedFile, cdn: boolean): void {
    const total = hosted.body.length;
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      ...(cdn ? { 'accept-ranges': 'bytes', etag: '"cdn-etag-not-a-sha"' } : {}),
    };
    if (m && cdn) {
      start = Number(m[1]);
      if (start >= total) {
        res.writeHead(416, { ...headers, 'content-range': `bytes */${total}` });
        res.end();
        return;
      }
      res.writeHead(206, { ...headers, 'content-length': String(total - start), 'content-range': `bytes ${start}-${total - 1}/${total}` });
    } else {
      res.writeHead(200, { ...headers, 'content-length': String(total) });
    }
    const done = this.cuts.get(key) ?? 0;
    if (hosted.cutAfter !== undefined && done < (hosted.cutTimes ?? 1)) {
      this.cuts.set(key, done + 1);
      const end = Math.max(hosted.cutAfter, start);
      res.write(hosted.body.subarray(start, end), () => {
        setTimeout(() => req.socket.destroy(), 20);
      });
      return;
    }
    res.end(hosted.body.subarray(start));
  }
}
