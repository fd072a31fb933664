// The home page: the submit form (upload with a progress bar, source, plugins, device) and the live job list.
import { ApiError, getJson, postJson, request, upload } from './api.js';
import { formatBytes, formatTime, h, shortId, throttle } from './dom.js';
import { RealtimeStream } from './stream.js';

const SYNTHETIC = [
  ['synthetic:pitch?frames=120', 'Synthetic pitch, 120 frames (as fast as possible)'],
  ['synthetic:pitch?frames=300&fps=25', 'Synthetic pitch, 300 frames paced at 25 fps (like a live camera)'],
];

export function renderHome(view, { setConnection, focusForm }) {
  const jobs = new Map();
  const listBody = h('tbody');
  const listNote = h('p', { class: 'muted', id: 'jobs-note' }, 'Loading jobs…');

  const uploadInput = h('input', { id: 'upload-file', type: 'file', accept: 'video/*,image/*,.mkv,.avi' });
  const uploadButton = h('button', { type: 'button', id: 'upload-button' }, 'Upload');
  const uploadProgress = h('progress', { id: 'upload-progress', max: 100, value: 0, 'aria-label': 'Upload progress' });
  const uploadStatus = h('p', { id: 'upload-status', role: 'status', 'aria-live': 'polite', class: 'muted' });
  const sourceSelect = h('select', { id: 'source', name: 'source', required: true });
  const deleteButton = h('button', { type: 'button', id: 'delete-media', class: 'secondary' }, 'Delete file');
  const sourceStatus = h('p', { id: 'source-status', role: 'status', 'aria-live': 'polite', class: 'muted' });
  const pluginBoxes = h('div', { class: 'checks', id: 'plugins' });
  const deviceSelect = h('select', { id: 'device', name: 'device' });
  const submitStatus = h('p', { id: 'submit-status', role: 'status', 'aria-live': 'polite' });
  const submitButton = h('button', { type: 'submit', id: 'submit-job' }, 'Start analysis');

  const form = h('form', { id: 'submit-form', 'aria-labelledby': 'submit-title', novalidate: true },
    h('h2', { id: 'submit-title' }, 'New job'),
    h('fieldset', {},
      h('legend', {}, 'Upload a video or image'),
      h('label', { for: 'upload-file' }, 'File'),
      h('div', { class: 'row' }, uploadInput, uploadButton),
      uploadProgress,
      uploadStatus),
    h('label', { for: 'source' }, 'Source'),
    sourceSelect,
    h('div', { class: 'row' }, deleteButton),
    sourceStatus,
    h('fieldset', {}, h('legend', {}, 'Plugins'), pluginBoxes),
    h('label', { for: 'device' }, 'Device'),
    deviceSelect,
    h('div', { class: 'row' }, submitButton),
    submitStatus);

  view.replaceChildren(h('div', { class: 'home' },
    h('section', { class: 'card' }, form),
    h('section', { class: 'card', 'aria-labelledby': 'jobs-title' },
      h('h2', { id: 'jobs-title' }, 'Jobs'),
      listNote,
      h('div', { class: 'table-wrap' },
        h('table', { class: 'jobs', id: 'jobs' },
          h('caption', { class: 'visually-hidden' }, 'Jobs, newest first, updated live'),
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col' }, 'Job'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Progress'),
            h('th', { scope: 'col' }, 'Device'), h('th', { scope: 'col' }, 'Created'))),
          listBody)))));

  // --- submit form -------------------------------------------------------------------------------------------------
  // The newest load wins: an older one that answers later (the page's first load, slow) must not undo a newer selection.
  let sourcesLoad = 0;
  async function loadSources(select) {
    const load = ++sourcesLoad;
    const media = await getJson('/v1/media?limit=200');
    if (load !== sourcesLoad) return;
    sourceSelect.replaceChildren(
      h('optgroup', { label: 'Media files' }, media.items.map((m) =>
        h('option', { value: m.name }, `${m.name} — ${m.kind}${m.width ? `, ${m.width}×${m.height}` : ', not decodable'}${m.frames ? `, ${m.frames} frames` : ''}, ${formatBytes(m.size_bytes)}`))),
      h('optgroup', { label: 'Generated scenes' }, SYNTHETIC.map(([value, label]) => h('option', { value }, label))));
    sourceSelect.value = select ?? (media.items.length ? media.items[0].name : SYNTHETIC[0][0]);
    updateDelete();
  }

  function updateDelete() {
    deleteButton.disabled = sourceSelect.value.startsWith('synthetic:');
  }

  sourceSelect.addEventListener('change', updateDelete);
  deleteButton.addEventListener('click', async () => {
    const name = sourceSelect.value;
    if (name.startsWith('synthetic:') || !confirm(`Delete ${name} from the server?`)) return;
    try {
      await request(`/v1/media/${name.split('/').map(encodeURIComponent).join('/')}`, { method: 'DELETE' });
      sourceStatus.textContent = `Deleted ${name}.`;
      await loadSources();
    } catch (error) {
      sourceStatus.textContent = `Not deleted: ${error.message}`;
    }
  });

  async function loadOptions() {
    const [plugins, devices] = await Promise.all([getJson('/v1/plugins'), getJson('/v1/devices')]);
    pluginBoxes.replaceChildren(...plugins.map((p) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'plugins', value: p.plugin, checked: true }), ` ${p.plugin}`)));
    deviceSelect.replaceChildren(...devices.devices.map((d) =>
      h('option', { value: d.name }, d.available ? d.name : `${d.name} (not available here: falls back to cpu)`)),
      h('option', { value: 'auto' }, 'auto (gpu when available)'));
    deviceSelect.value = devices.default;
  }

  uploadButton.addEventListener('click', async () => {
    const file = uploadInput.files[0];
    if (!file) {
      uploadStatus.textContent = 'Choose a file first.';
      uploadInput.focus();
      return;
    }
    uploadButton.disabled = true;
    uploadProgress.value = 0;
    uploadStatus.textContent = `Uploading ${file.name}…`;
    try {
      const media = await upload(file, (fraction) => {
        uploadProgress.value = Math.round(fraction * 100);
        uploadStatus.textContent = `Uploading ${file.name}: ${Math.round(fraction * 100)} %`;
      });
      uploadProgress.value = 100;
      await loadSources(media.name);
      uploadStatus.textContent = `Uploaded as ${media.name} (${media.kind}, ${media.width}×${media.height}, ${media.frames ?? '?'} frames).`;
    } catch (error) {
      uploadStatus.textContent = `Upload refused: ${error.message}`;
    } finally {
      uploadButton.disabled = false;
    }
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const plugins = [...pluginBoxes.querySelectorAll('input:checked')].map((i) => i.value);
    if (plugins.length === 0) {
      submitStatus.textContent = 'Pick at least one plugin.';
      return;
    }
    submitButton.disabled = true;
    submitStatus.textContent = 'Submitting…';
    try {
      const job = await postJson('/v1/jobs', { source: sourceSelect.value, device_requested: deviceSelect.value, plugins });
      location.hash = `#/jobs/${job.job_id}`;
    } catch (error) {
      submitStatus.textContent = `Not accepted: ${error.message}`;
    } finally {
      submitButton.disabled = false;
    }
  });

  // --- live job list -----------------------------------------------------------------------------------------------
  function row(job) {
    const progress = job.progress ?? 0;
    return h('tr', { dataset: { jobId: job.job_id, status: job.status } },
      h('td', {}, h('a', { href: `#/jobs/${job.job_id}`, 'aria-label': `Job ${job.job_id}` }, shortId(job.job_id))),
      h('td', {}, h('span', { class: `badge ${job.status}` }, job.status)),
      h('td', {}, h('progress', { max: 100, value: progress, 'aria-label': `Progress of job ${shortId(job.job_id)}` }),
        h('span', { class: 'pct' }, ` ${progress} %`)),
      h('td', {}, job.device_used, job.fallback ? h('span', { class: 'badge fallback', title: `requested ${job.device_requested}` }, 'fallback') : null),
      h('td', {}, formatTime(job.created_at)));
  }

  function renderList() {
    const sorted = [...jobs.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
    listBody.replaceChildren(...sorted.map(row));
    listNote.textContent = sorted.length ? '' : 'No jobs yet: submit one.';
  }

  async function loadJobs() {
    try {
      const page = await getJson('/v1/jobs?limit=50');
      jobs.clear();
      for (const job of page.items) jobs.set(job.job_id, job);
      renderList();
    } catch (error) {
      listNote.textContent = `Could not load jobs: ${error instanceof ApiError ? error.message : error}`;
    }
  }

  const reload = throttle(loadJobs, 1000);
  const redraw = throttle(renderList, 250);
  const stream = new RealtimeStream({
    onState: setConnection,
    onReconnected: reload,
    onMessage: (message) => {
      const jobId = message.payload?.job_id;
      if (!jobId) return;
      const job = jobs.get(jobId);
      if (!job) {
        reload();
        return;
      }
      if (message.type === 'progress') {
        job.progress = message.payload.progress;
        if (job.status === 'queued') job.status = 'running';
        if (message.payload.stage && message.payload.progress === 100) {
          job.status = message.payload.stage;
          reload();
        }
        redraw();
      }
    },
  });

  Promise.all([loadOptions(), loadSources(), loadJobs()])
    .then(() => { if (focusForm) sourceSelect.focus(); })
    .catch((error) => { submitStatus.textContent = `Could not load the form: ${error.message}`; });
  stream.start();
  return () => stream.stop();
}
