// Hash routing between the home page (#/, #/submit) and a job page (#/jobs/<id>); the header shows the connection.
import { askForKey, apiKey, setApiKey } from './api.js';
import { renderHome } from './home.js';
import { renderJob } from './job.js';

const view = document.getElementById('view');
const connection = document.getElementById('connection');
const LABELS = {
  idle: 'not connected', connecting: 'connecting…', reconnecting: 'reconnecting…', live: 'live',
  offline: 'connection lost', closed: 'closed', error: 'error',
};

function setConnection(state, detail) {
  connection.dataset.state = state;
  connection.textContent = `${LABELS[state] ?? state}${detail ? ` — ${detail}` : ''}`;
}

let leave = null;

function route() {
  if (leave) leave();
  leave = null;
  setConnection('idle');
  const match = /^#\/jobs\/([0-9a-fA-F-]{36})$/.exec(location.hash);
  if (match) {
    leave = renderJob(view, match[1].toLowerCase(), { setConnection });
    document.title = `Job ${match[1].slice(0, 8)} · CleanRealtime`;
  } else {
    leave = renderHome(view, { setConnection, focusForm: location.hash === '#/submit' });
    document.title = 'CleanRealtime dashboard';
  }
  view.focus({ preventScroll: true });
}

document.getElementById('key-button').addEventListener('click', async () => {
  const had = apiKey();
  if (await askForKey('Enter the API key for this server (kept for this browser tab only; leave empty to forget it).')) route();
  else if (had && !document.getElementById('key-input').value) setApiKey('');
});

window.addEventListener('hashchange', route);
route();
