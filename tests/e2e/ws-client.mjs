// A WebSocket client for the e2e tests, as an app would hold one: it keeps every frame it receives
// so a test can wait for the next frame of a type, or check that none arrived.
import WebSocket from 'ws';

export { offset } from '../../scripts/lib/geo.mjs';

export class Client {
  /** Opens `url` with the token in the Authorization header (or as given in the URL). */
  static async open(url, { token, headers = {} } = {}) {
    const ws = new WebSocket(url, { headers: token ? { authorization: `Bearer ${token}`, ...headers } : headers });
    const client = new Client(ws);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c) => { body += c; });
        res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), { status: res.statusCode, body })));
      });
      ws.once('error', reject);
    });
    return client;
  }

  constructor(ws) {
    this.ws = ws;
    this.frames = [];
    this.waiters = [];
    this.closed = null;
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data));
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => !w.check());
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.waiters = this.waiters.filter((w) => !w.check());
    });
  }

  send(frame) {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Frames received so far of `type` (all frames without a type given). */
  received(type) {
    return type ? this.frames.filter((f) => f.type === type) : [...this.frames];
  }

  /** The next not-yet-taken frame matching `pred` (a type string or a function), waiting up to `ms`. */
  next(pred, ms = 5000) {
    const match = typeof pred === 'string' ? (f) => f.type === pred : pred;
    this.taken ??= new Set();
    return new Promise((resolve, reject) => {
      const waiter = {
        check: () => {
          const i = this.frames.findIndex((f, idx) => !this.taken.has(idx) && match(f));
          if (i >= 0) {
            this.taken.add(i);
            clearTimeout(waiter.timer);
            resolve(this.frames[i]);
            return true;
          }
          if (this.closed) {
            clearTimeout(waiter.timer);
            reject(new Error(`socket closed (${this.closed.code}) while waiting; got ${JSON.stringify(this.frames)}`));
            return true;
          }
          return false;
        },
      };
      if (waiter.check()) return;
      waiter.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching frame within ${ms} ms; got ${JSON.stringify(this.frames)}`));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  /**
   * Resolves with {code, reason} once the server's close frame has arrived. The close frame is
   * what tells an app why; the local runtime may hold the TCP connection a few seconds more
   * before `ws` fires 'close', so this reads ws's record of the received frame (`_closeCode`).
   */
  async closedWith(ms = 5000) {
    const start = Date.now();
    const received = () =>
      this.closed ?? (this.ws._closeFrameReceived ? { code: this.ws._closeCode, reason: String(this.ws._closeMessage ?? '') } : null);
    while (!received() && Date.now() - start < ms) await new Promise((r) => setTimeout(r, 20));
    const closed = received();
    if (!closed) throw new Error('socket still open');
    return closed;
  }

  close() {
    if (!this.closed) this.ws.close();
  }
}

/** Sleeps `ms` milliseconds (to let frames that should NOT arrive have their chance). */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

