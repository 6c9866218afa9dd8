// Seecret sign-in callback page. The server has checked the sign-in and handed this page a ticket
// (in data attributes, never in a URL): keep it in this tab's sessionStorage, where the reveal
// page sends it with the status call and the reveal, and go back to the secret. `replace` drops
// this page (and its ?code=…&state=… address) from the tab's history.
'use strict';

(function () {
  const box = document.getElementById('signed-in');
  if (!box) return;
  const id = box.dataset.secret;
  try {
    sessionStorage.setItem('seecret:ticket:' + id, JSON.stringify({
      ticket: box.dataset.ticket,
      provider: box.dataset.provider,
      name: box.dataset.name || '',
    }));
  } catch (_) {
    const status = document.getElementById('status');
    status.textContent = 'This browser does not let the page keep your sign-in (storage is blocked). Nothing was used.';
    status.className = 'error';
    document.body.dataset.state = 'sign-in-failed';
    return;
  }
  location.replace('../../s/' + encodeURIComponent(id));
})();
