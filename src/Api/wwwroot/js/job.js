// The job page: live frame with overlays, progress, per-plugin timings chart, frames per plugin, warnings and errors
// timeline, connection state and message count (resumed with since after a network error), and the results viewer.
import { ApiError, getJson, imageUrl, request } from './api.js';
import { formatMs, formatTime, h, shortId, throttle } from './dom.js';
import { RealtimeStream } from './stream.js';

const FINAL = new Set(['completed', 'failed', 'cancelled']);
const LIVE_FRAME_INTERVAL_MS = 500;

export function renderJob(view, jobId, { setConnection }) {
  const state = {
    job: null,
    plugins: [],
    timings: new Map(),
    frames: new Map(),
    status: new Map(),
    warnings: new Map(),
    settledPlugins: new Set(),
    settled: false,
    stage: null,
    progress: null,
    lastCompleteFrame: null,
    currentFrame: null,
    finished: false,
    errors: [],
  };

  const title = h('h1', {}, `Job ${shortId(jobId)}`);
  const meta = h('p', { class: 'muted', id: 'job-meta' }, 'Loading…');
  const cancelButton = h('button', { type: 'button', id: 'cancel-job', class: 'secondary', hidden: true }, 'Cancel job');
  cancelButton.addEventListener('click', async () => {
    cancelButton.disabled = true;
    try {
      await request(`/v1/jobs/${jobId}/cancel`, { method: 'POST' });
      cancelButton.textContent = 'Cancelling…';
    } catch (error) {
      cancelButton.disabled = false;
      meta.textContent = `Could not cancel: ${error.message}`;
    }
  });
  const banner = h('div', { id: 'error-banner', class: 'banner', role: 'alert', hidden: true });
  const progressBar = h('progress', { id: 'job-progress', max: 100, value: 0, 'aria-labelledby': 'progress-label' });
  const progressLabel = h('span', { id: 'progress-label' }, 'Progress: waiting');
  const count = h('p', { id: 'message-count', class: 'muted' }, 'Messages: 0');
  const liveImage = h('img', { id: 'live-frame', alt: 'No frame analysed yet', width: 640, height: 360 });
  const liveCaption = h('figcaption', { id: 'live-caption' }, 'Waiting for the first analysed frame…');
  const chart = h('ul', { class: 'chart', id: 'timings', 'aria-describedby': 'timings-note' });
  const frameTable = h('tbody', { id: 'plugin-frames' });
  const timeline = h('ol', { class: 'timeline', id: 'timeline' });
  const timelineNote = h('p', { class: 'muted' }, 'No warnings or errors.');

  const viewer = buildViewer(jobId);
  const progressCard = h('section', { class: 'card progress-card', 'aria-label': 'Progress' },
    h('div', { class: 'row spread' }, progressLabel, count),
    progressBar);
  liveImage.hidden = true;

  view.replaceChildren(
    h('div', { class: 'job-head row spread' }, h('div', {}, title, meta), cancelButton),
    banner,
    progressCard,
    h('div', { class: 'job-grid' },
      h('section', { class: 'card', 'aria-labelledby': 'live-title' },
        h('h2', { id: 'live-title' }, 'Current frame'),
        h('figure', { class: 'frame' }, liveImage, liveCaption)),
      h('section', { class: 'card', 'aria-labelledby': 'timings-title' },
        h('h2', { id: 'timings-title' }, 'Time per plugin'),
        h('p', { class: 'muted', id: 'timings-note' }, 'Total milliseconds spent in each plugin over all frames so far.'),
        chart,
        h('h2', {}, 'Frames per plugin'),
        h('div', { class: 'table-wrap' }, h('table', {},
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Plugin'), h('th', { scope: 'col' }, 'Frames'),
            h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Warnings'))),
          frameTable))),
      h('section', { class: 'card', 'aria-labelledby': 'timeline-title' },
        h('h2', { id: 'timeline-title' }, 'Warnings and errors'),
        timelineNote,
        timeline),
      viewer.section));

  // --- rendering ---------------------------------------------------------------------------------------------------
  function renderMeta() {
    const job = state.job;
    if (!job) return;
    const fallback = job.fallback ? ` (requested ${job.device_requested}: fallback)` : '';
    meta.textContent = `${job.status} · device ${job.device_used}${fallback} · created ${formatTime(job.created_at)}`;
    meta.dataset.status = job.status;
    cancelButton.hidden = FINAL.has(job.status) || state.finished;
    if (job.status === 'failed') {
      banner.hidden = false;
      banner.textContent = `Job failed: ${job.error ?? state.errors.at(-1) ?? 'no reason given'}`;
    }
  }

  function renderProgress() {
    const value = state.progress ?? 0;
    progressBar.value = value;
    progressBar.setAttribute('aria-valuetext', `${value} %`);
    progressLabel.textContent = state.progress === null ? 'Progress: waiting to start' : `Progress: ${value} %${state.stage ? ` (${state.stage})` : ''}`;
    if (state.stage) progressCard.dataset.stage = state.stage;
  }

  const renderCount = () => {
    const complete = state.settled && stream.complete;
    count.textContent = `Messages: ${stream.count}${stream.maxSeq ? ` (last seq ${stream.maxSeq})` : ''}${complete ? ' — complete' : ''}${stream.reconnects ? ` · resumed ${stream.reconnects}×` : ''}`;
    count.dataset.count = String(stream.count);
    count.dataset.complete = String(complete);
  };

  function renderChart() {
    const max = Math.max(1, ...state.plugins.map((p) => state.timings.get(p) ?? 0));
    chart.replaceChildren(...state.plugins.map((plugin) => {
      const ms = state.timings.get(plugin) ?? 0;
      return h('li', { dataset: { plugin } },
        h('span', { class: 'label' }, plugin),
        h('span', { class: 'bar-track', 'aria-hidden': 'true' }, h('span', { class: 'bar', style: { width: `${(100 * ms / max).toFixed(1)}%` } })),
        h('span', { class: 'value' }, formatMs(ms)));
    }));
    frameTable.replaceChildren(...state.plugins.map((plugin) => h('tr', { dataset: { plugin } },
      h('th', { scope: 'row' }, plugin),
      h('td', {}, String(state.frames.get(plugin) ?? 0)),
      h('td', {}, state.status.get(plugin) ?? 'waiting'),
      h('td', {}, String(state.warnings.get(plugin) ?? 0)))));
  }

  function addTimeline(kind, message, plugin, timestamp, frameId) {
    timelineNote.hidden = true;
    timeline.append(h('li', { class: kind },
      h('time', { datetime: timestamp }, formatTime(timestamp)),
      h('span', { class: `badge ${kind}` }, kind),
      plugin ? h('strong', {}, plugin) : null,
      frameId ? h('span', { class: 'muted' }, frameId) : null,
      h('span', {}, message)));
  }

  const redraw = throttle(() => { renderProgress(); renderChart(); renderCount(); renderMeta(); }, 200);

  // --- the live frame: refreshed at most every LIVE_FRAME_INTERVAL_MS, only once the previous picture has loaded -----
  let liveLoading = false;
  let liveUrl = null;
  const showLiveFrame = throttle(async (frameId) => {
    if (liveLoading) { setTimeout(() => showLiveFrame(state.lastCompleteFrame), LIVE_FRAME_INTERVAL_MS); return; }
    if (!frameId || frameId === state.currentFrame) return;
    liveLoading = true;
    try {
      const url = await imageUrl(`/v1/jobs/${jobId}/frames/${frameId}/image?overlay=true&width=960`);
      if (liveUrl) URL.revokeObjectURL(liveUrl);
      liveUrl = url;
      liveImage.src = url;
      liveImage.hidden = false;
      liveImage.alt = `Frame ${frameId} with the detections drawn on it`;
      liveImage.dataset.frameId = frameId;
      liveCaption.textContent = `${frameId} — yellow: players, red: ball, magenta: motion, blue: pitch`;
      state.currentFrame = frameId;
    } catch (error) {
      liveCaption.textContent = `Frame ${frameId} could not be shown: ${error.message}`;
    } finally {
      liveLoading = false;
    }
  }, LIVE_FRAME_INTERVAL_MS);

  // --- messages ------------------------------------------------------------------------------------------------------
  let lastFrameId = null;
  function onMessage(message) {
    const p = message.payload ?? {};
    switch (message.type) {
      case 'metadata':
        if (!state.plugins.includes(p.plugin)) state.plugins.push(p.plugin);
        break;
      case 'progress':
        state.progress = p.progress;
        if (p.progress === 100 && FINAL.has(p.stage)) {
          state.stage = p.stage;
          finish(p.stage);
        }
        break;
      case 'frame':
        state.frames.set(p.plugin, (state.frames.get(p.plugin) ?? 0) + 1);
        if (!state.status.has(p.plugin) || state.status.get(p.plugin) === 'started') state.status.set(p.plugin, 'running');
        if (!state.settledPlugins.has(p.plugin)) state.timings.set(p.plugin, (state.timings.get(p.plugin) ?? 0) + p.timing_ms);
        // A frame is complete once the next one starts: its results are then all recorded.
        if (lastFrameId && p.frame_id !== lastFrameId) {
          state.lastCompleteFrame = lastFrameId;
          showLiveFrame(lastFrameId);
        }
        lastFrameId = p.frame_id;
        break;
      case 'plugin_status':
        state.status.set(p.plugin, p.status);
        if (p.status === 'completed' || p.status === 'failed') {
          state.settledPlugins.add(p.plugin);
          state.timings.set(p.plugin, p.timing_ms);
          if (Number.isInteger(p.frames_processed)) state.frames.set(p.plugin, p.frames_processed);
        }
        if (!state.plugins.includes(p.plugin)) state.plugins.push(p.plugin);
        break;
      case 'warning':
        state.warnings.set(p.plugin, (state.warnings.get(p.plugin) ?? 0) + 1);
        addTimeline('warning', `${p.message}${p.severity ? ` (${p.severity})` : ''}`, p.plugin, message.timestamp, p.frame_id);
        break;
      case 'error': {
        const code = p.details?.error_code;
        addTimeline('error', `${p.error}${code ? ` [${code}]` : ''}`, p.plugin, message.timestamp, p.frame_id);
        if (!p.details?.fallback) state.errors.push(p.error);
        break;
      }
      default:
        break;
    }
    redraw();
  }

  async function finish(stage) {
    if (state.finished) return;
    state.finished = true;
    cancelButton.hidden = true;
    stream.markFinished();
    if (lastFrameId) { state.lastCompleteFrame = lastFrameId; showLiveFrame(lastFrameId); }
    try {
      await stream.fillGaps();
      await loadJob();
    } catch (error) {
      meta.textContent = `Finished (${stage}), but the final state could not be read: ${error.message}`;
    }
    await viewer.load();
    // Only now is the count final: the stream has ended, gaps are filled and the stored job is read.
    state.settled = true;
    redraw();
  }

  async function loadJob() {
    // The extended job is the one read by id that has status, error and device; its frames are not kept here (the
    // viewer pages them), though for a very long job this one read still carries them all.
    const job = await getJson(`/v1/jobs/${jobId}/extended`);
    delete job.frames;
    state.job = job;
    for (const [plugin, ms] of Object.entries(job.plugin_timings ?? {})) {
      if (FINAL.has(job.status)) state.timings.set(plugin, ms);
    }
    renderMeta();
  }

  const stream = new RealtimeStream({ jobId, onMessage, onState: (s, detail) => { setConnection(s, detail); renderCount(); } });

  loadJob()
    .then(() => {
      if (FINAL.has(state.job.status)) {
        // Already over: the replay (since=0) brings its history; the viewer can start at once.
        state.progress = state.job.progress;
        state.stage = state.job.status;
        viewer.load();
      }
      stream.start();
    })
    .catch((error) => {
      meta.textContent = error instanceof ApiError && error.status === 404 ? 'This job does not exist.' : `Could not load the job: ${error.message}`;
    });

  return () => {
    stream.stop();
    viewer.stop();
    if (liveUrl) URL.revokeObjectURL(liveUrl);
  };
}

/** Steps through a job's analysed frames with their overlays, reading GET /v1/jobs/{id}/frames a page at a time. */
function buildViewer(jobId) {
  const PAGE = 100;
  const pages = new Map();
  let total = 0;
  let index = 0;
  let url = null;

  const image = h('img', { id: 'viewer-frame', alt: 'No frame selected', width: 640, height: 360 });
  const caption = h('figcaption', { id: 'viewer-caption' }, 'The results appear here when the job has frames.');
  const details = h('ul', { class: 'results', id: 'viewer-results' });
  const number = h('input', { id: 'viewer-index', type: 'number', min: 1, value: 1, inputmode: 'numeric' });
  const overlay = h('input', { id: 'viewer-overlay', type: 'checkbox', checked: true });
  const previous = h('button', { type: 'button', id: 'viewer-prev', 'aria-label': 'Previous frame' }, '◀ Previous');
  const next = h('button', { type: 'button', id: 'viewer-next', 'aria-label': 'Next frame' }, 'Next ▶');
  const totalLabel = h('span', { id: 'viewer-total', class: 'muted' }, 'of 0');

  image.hidden = true;
  const section = h('section', { class: 'card viewer', 'aria-labelledby': 'viewer-title', id: 'viewer' },
    h('h2', { id: 'viewer-title' }, 'Results viewer'),
    h('div', { class: 'row' },
      previous,
      h('label', { for: 'viewer-index' }, 'Frame'), number, totalLabel,
      next,
      h('label', { class: 'check' }, overlay, ' overlays')),
    h('figure', { class: 'frame' }, image, caption),
    details);

  async function frameAt(i) {
    const page = Math.floor(i / PAGE);
    if (!pages.has(page)) {
      const data = await getJson(`/v1/jobs/${jobId}/frames?offset=${page * PAGE}&limit=${PAGE}`);
      total = data.total;
      pages.set(page, data.items);
    }
    return pages.get(page)[i % PAGE];
  }

  async function show(i) {
    if (total === 0) return;
    index = Math.max(0, Math.min(total - 1, i));
    number.value = String(index + 1);
    previous.disabled = index === 0;
    next.disabled = index >= total - 1;
    const frame = await frameAt(index);
    if (!frame) return;
    caption.textContent = `${frame.frame_id} · ${frame.timestamp_ms.toFixed(1)} ms`;
    details.replaceChildren(...Object.entries(frame.results).map(([plugin, data]) => h('li', {}, h('strong', {}, plugin), ' ', summarize(data))));
    try {
      const next = await imageUrl(`/v1/jobs/${jobId}/frames/${frame.frame_id}/image?overlay=${overlay.checked}&width=960`);
      if (url) URL.revokeObjectURL(url);
      url = next;
      image.src = next;
      image.hidden = false;
      image.alt = `Frame ${frame.frame_id}${overlay.checked ? ' with the detections drawn on it' : ''}`;
    } catch (error) {
      caption.textContent = `${frame.frame_id}: ${error.message}`;
    }
  }

  previous.addEventListener('click', () => show(index - 1));
  next.addEventListener('click', () => show(index + 1));
  number.addEventListener('change', () => show(Number(number.value) - 1));
  overlay.addEventListener('change', () => show(index));
  section.addEventListener('keydown', (event) => {
    if (event.target === number) return;
    if (event.key === 'ArrowLeft') { event.preventDefault(); show(index - 1); }
    if (event.key === 'ArrowRight') { event.preventDefault(); show(index + 1); }
  });

  return {
    section,
    async load() {
      pages.clear();
      try {
        await frameAt(0);
      } catch (error) {
        caption.textContent = `The frames could not be read: ${error.message}`;
        return;
      }
      totalLabel.textContent = `of ${total}`;
      number.max = String(Math.max(1, total));
      if (total > 0) await show(index);
    },
    stop() { if (url) URL.revokeObjectURL(url); },
  };
}

function summarize(data) {
  if (!data || typeof data !== 'object') return String(data);
  const parts = [];
  for (const [key, value] of Object.entries(data)) {
    if (Array.isArray(value)) parts.push(`${key}: ${value.length}`);
    else if (typeof value === 'number') parts.push(`${key}: ${Number.isInteger(value) ? value : value.toFixed(3)}`);
    else if (typeof value === 'boolean' || typeof value === 'string') parts.push(`${key}: ${value}`);
  }
  return parts.join(', ');
}
