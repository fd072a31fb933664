// The realtime channel over WebSocket, with resume: every job message carries a gap-free seq (API.md §3.8). After a
// network error the stream reconnects with since=<last contiguous seq>, so the server replays what was missed; seqs
// already seen are skipped, and any gap left (a slow consumer's dropped frames) is filled from GET /v1/jobs/{id}/events.
import { getJson, realtimeUrl } from './api.js';

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];

export class RealtimeStream {
  /**
   * @param {{jobId?: string, onMessage: (m: object) => void, onState?: (state: string, detail?: string) => void,
   *          onReconnected?: () => void}} options
   */
  constructor(options) {
    this.jobId = options.jobId ?? null;
    this.onMessage = options.onMessage;
    this.onState = options.onState ?? (() => {});
    this.onReconnected = options.onReconnected ?? (() => {});
    this.seen = new Set();
    this.contiguous = 0;
    this.maxSeq = 0;
    this.finished = false;
    this.reconnects = 0;
    this.attempt = 0;
    this.stopped = false;
    this.socket = null;
    this.timer = null;
  }

  /** Messages of the job received so far, each seq counted once. */
  get count() {
    return this.seen.size;
  }

  /** True when every seq from 1 to the last one is in hand. */
  get complete() {
    return this.maxSeq > 0 && this.contiguous === this.maxSeq;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) this.socket.close(1000, 'page closed');
    this.socket = null;
  }

  /** The job has ended: after the stream's last message the socket may close without a reconnect. */
  markFinished() {
    this.finished = true;
  }

  connect() {
    const params = this.jobId ? { job_id: this.jobId, since: this.jobId ? this.contiguous : undefined } : {};
    this.onState(this.reconnects > 0 || this.attempt > 0 ? 'reconnecting' : 'connecting',
      this.jobId ? `since seq ${this.contiguous}` : undefined);
    const socket = new WebSocket(realtimeUrl(params));
    this.socket = socket;
    socket.addEventListener('open', () => {
      if (socket !== this.socket) return;
      const wasReconnect = this.attempt > 0 || this.reconnects > 0;
      this.attempt = 0;
      this.onState('live');
      if (wasReconnect) this.onReconnected();
    });
    socket.addEventListener('message', (event) => {
      if (socket !== this.socket) return;
      // The server sends only validated JSON envelopes (API.md §3.2); a frame that is not one is a bug worth seeing.
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        console.error('realtime: a message that is not JSON was ignored', error, event.data);
        return;
      }
      if (message.type === 'ping') {
        socket.send(JSON.stringify({ type: 'pong', payload: { timestamp: new Date().toISOString() }, timestamp: new Date().toISOString() }));
      }
      this.accept(message);
    });
    socket.addEventListener('close', (event) => {
      if (socket !== this.socket || this.stopped) return;
      this.socket = null;
      if (event.code === 4004) {
        this.onState('error', 'unknown job');
        return;
      }
      if (this.finished) {
        this.onState('closed', 'job finished');
        return;
      }
      const wait = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
      this.attempt++;
      this.reconnects++;
      this.onState('offline', `connection lost (code ${event.code}); retrying in ${(wait / 1000).toFixed(1)} s`);
      this.timer = setTimeout(() => this.connect(), wait);
    });
  }

  /** Hands a message on unless its seq was already seen; returns whether it was new. */
  accept(message) {
    const seq = message.seq;
    if (Number.isInteger(seq) && this.jobId) {
      if (this.seen.has(seq)) return false;
      this.seen.add(seq);
      if (seq > this.maxSeq) this.maxSeq = seq;
      while (this.seen.has(this.contiguous + 1)) this.contiguous++;
    }
    this.onMessage(message);
    return true;
  }

  /** Reads GET /v1/jobs/{id}/events after the last contiguous seq until the log is exhausted (fills any gap). */
  async fillGaps() {
    if (!this.jobId) return;
    for (let guard = 0; guard < 10000; guard++) {
      const before = this.contiguous;
      const page = await getJson(`/v1/jobs/${this.jobId}/events?since=${this.contiguous}&limit=1000`);
      for (const message of page.items) this.accept(message);
      if (page.items.length === 0 || page.finished || this.contiguous === before) return page.finished;
    }
    return false;
  }
}
