// Drives the web app at `/` in headless Chromium like a person would, and checks it with
// axe-core (vendored here, in the test, never in the product).
//   node web-app.mjs <base> <mode>
// mode "share":      sign in with $TOKEN, share the text $TEXT (label $LABEL), then the file
//                    $FILE; print {text_link, file_link, axe: {signed_out, signed_in, result}}.
// mode "share-files": sign in with $TOKEN, share the files $FILES (comma-separated) as one zip;
//                    print {link, listed}.
// mode "mine":       sign in with $TOKEN, share $TEXT with label $LABEL, Burn it from the
//                    result, then open My secrets; print {burned, rows: [{label, status, views}]}.
// mode "anonymous":  no token: share $TEXT; print {mode, files_disabled, link, tabs, status}.
// mode "signed-out": print what a visitor without a token sees {mode, app_hidden, lead}.
// mode "request":    sign in with $TOKEN, ask for a secret (note $NOTE, label $LABEL) in the Request
//                    tab; a second browser context answers $TEXT through the /r/ link (its origin
//                    made <base>'s, so it goes through the same proxy); the first opens the private
//                    /a/ link; then a second request is made and deleted from its result, and My
//                    secrets is opened. Prints {request_link, private_link, qr, note, sent,
//                    opened, content, deleted, rows, axe: {request, answer, open, mine}}.
// mode "mine-requests": sign in with $TOKEN, create a request (label "open one") in the Request
//                    tab, open My secrets and Delete it from its row; print {before, after}.
// mode "axe":        open <base> (any page, e.g. a reveal link) and print {axe} once the page
//                    settled (body[data-state] or body[data-ready]).
// Screenshots go to $SCREENSHOT_DIR when set (scripts/screenshots uses the same flows).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { launch, shot, tab } from './chromium.mjs';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const [base, mode] = process.argv.slice(2);
const app = base.endsWith('/') ? base : base + '/';

// Serious and critical violations only (the bar the tests hold), as [{id, impact, targets}].
async function axe(page) {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern: the product
  // keeps its strict CSP and serves no axe.
  await page.evaluate(axeSource);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

async function ready(page) {
  await page.waitForSelector('body[data-ready="yes"]', { timeout: 15000 });
}

async function signIn(page) {
  await page.fill('#token', process.env.TOKEN);
  await page.click('#sign-in-button');
  await page.waitForSelector('body[data-mode="signed-in"]', { timeout: 15000 });
}

// Shares what the form holds and returns the link (or throws with the page's message).
async function submitShare(page) {
  await page.click('#share');
  await page.waitForFunction(() => document.body.dataset.state === 'shared'
    || document.getElementById('share-status').className === 'error', null, { timeout: 120000 });
  const state = await page.getAttribute('body', 'data-state');
  if (state !== 'shared') throw new Error('not shared: ' + await page.textContent('#share-status'));
  return page.inputValue('#link');
}

async function shareText(page, text, label) {
  await page.check('#what-text');
  await page.fill('#text', text);
  if (label) await page.fill('#label', label);
  return submitShare(page);
}

const browser = await launch();
try {
  const { page, errors } = await tab(browser);
  await page.goto(mode === 'axe' ? base : app, { waitUntil: 'load' });
  if (mode === 'share') {
    await ready(page);
    const signedOut = await axe(page);
    await shot(page, 'web-signed-out');
    await signIn(page);
    const signedIn = await axe(page);
    const textLink = await shareText(page, process.env.TEXT, process.env.LABEL);
    const result = await axe(page);
    await shot(page, 'web-shared');
    const qr = await page.$$eval('#qr svg path', (p) => p.length);
    await page.click('#again');
    await page.check('#what-files');
    await page.setInputFiles('#files', process.env.FILE);
    const fileLink = await submitShare(page);
    console.log(JSON.stringify({
      text_link: textLink, file_link: fileLink, qr,
      axe: { signed_out: signedOut, signed_in: signedIn, result }, errors,
    }));
  } else if (mode === 'share-files') {
    // Several files ($FILES, comma-separated paths) become one zip, sealed and uploaded.
    await ready(page);
    await signIn(page);
    await page.check('#what-files');
    await page.setInputFiles('#files', process.env.FILES.split(','));
    const listed = await page.$$eval('#file-list li', (lis) => lis.map((li) => li.textContent));
    const link = await submitShare(page);
    console.log(JSON.stringify({ link, listed, errors }));
  } else if (mode === 'mine') {
    await ready(page);
    await signIn(page);
    const link = await shareText(page, process.env.TEXT, process.env.LABEL);
    await page.click('#burn');
    await page.waitForSelector('body[data-state="burned"]', { timeout: 15000 });
    const burned = await page.textContent('#result-status');
    // Keyboard: from the Share tab, the right arrow moves to Request a secret, End to My secrets.
    await page.focus('#tab-share');
    await page.keyboard.press('End');
    await page.waitForSelector('body[data-mine="loaded"]', { timeout: 15000 });
    const selected = await page.getAttribute('#tab-mine', 'aria-selected');
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
    const rows = await page.$$eval('#mine-rows tr', (trs) => trs.map((tr) => ({
      id: tr.dataset.id,
      label: tr.cells[0].textContent,
      status: tr.cells[2].textContent,
      views: tr.cells[3].textContent,
      burn: !!tr.querySelector('button'),
    })));
    await shot(page, 'web-my-secrets');
    const mineAxe = await axe(page);
    console.log(JSON.stringify({ link, burned, selected, focused, rows, axe: mineAxe, errors }));
  } else if (mode === 'anonymous') {
    await ready(page);
    const anonymousMode = await page.getAttribute('body', 'data-mode');
    const filesDisabled = await page.isDisabled('#what-files');
    const tabs = await page.$$eval('[role="tab"]', (ts) => ts.filter((t) => !t.hidden).map((t) => t.textContent));
    const before = await axe(page);
    let link = null;
    let status = null;
    try {
      link = await shareText(page, process.env.TEXT, '');
      status = await page.textContent('#result-status');
    } catch (e) {
      status = String(e.message);
    }
    const burnHidden = await page.isHidden('#burn');
    console.log(JSON.stringify({ mode: anonymousMode, files_disabled: filesDisabled, tabs, link, status, burn_hidden: burnHidden, axe: before, errors }));
  } else if (mode === 'signed-out') {
    await ready(page);
    const m = await page.getAttribute('body', 'data-mode');
    const appHidden = await page.isHidden('#app');
    const lead = await page.textContent('#sign-in-lead');
    // A wrong token is refused with a message and nothing is kept.
    await page.fill('#token', '00000000-0000-4000-8000-000000000000');
    await page.click('#sign-in-button');
    await page.waitForFunction(() => document.getElementById('sign-in-status').className === 'error', null, { timeout: 15000 });
    const refused = await page.textContent('#sign-in-status');
    const kept = await page.evaluate(() => sessionStorage.getItem('seecret:token'));
    console.log(JSON.stringify({ mode: m, app_hidden: appHidden, lead, refused, kept, axe: await axe(page), errors }));
  } else if (mode === 'request') {
    await ready(page);
    await signIn(page);
    await page.click('#tab-request');
    await page.fill('#request-note', process.env.NOTE);
    await page.fill('#request-label', process.env.LABEL);
    await page.click('#request-create');
    await page.waitForFunction(() => document.body.dataset.request === 'created'
      || document.getElementById('request-status').className === 'error', null, { timeout: 30000 });
    if (await page.getAttribute('body', 'data-request') !== 'created') {
      throw new Error('no request: ' + await page.textContent('#request-status'));
    }
    const requestAxe = await axe(page);
    await shot(page, 'web-request');
    const requestLink = await page.inputValue('#request-link');
    const privateLink = await page.inputValue('#private-link');
    const qr = await page.$$eval('#request-qr svg path', (p) => p.length);
    // A second request, deleted from its result.
    await page.click('#request-again');
    await page.fill('#request-label', 'to delete');
    await page.click('#request-create');
    await page.waitForSelector('body[data-request="created"]', { timeout: 30000 });
    const deletedLink = await page.inputValue('#request-link');
    await page.click('#request-delete');
    await page.waitForSelector('body[data-request="deleted"]', { timeout: 15000 });
    const deleted = await page.textContent('#request-result-status');

    // The responder, in another browser context (no shared storage), through the proxy.
    const other = await tab(browser);
    const r = new URL(requestLink);
    const answerUrl = new URL(r.pathname + r.hash, app).href;
    await other.page.goto(answerUrl, { waitUntil: 'load' });
    await other.page.waitForSelector('body[data-state]', { timeout: 15000 });
    const answerState = await other.page.getAttribute('body', 'data-state');
    const answerAxe = await axe(other.page);
    const note = await other.page.textContent('#note');
    await other.page.fill('#answer-text', process.env.TEXT);
    await other.page.click('#send');
    await other.page.waitForSelector('body[data-state]:not([data-state="open"])', { timeout: 15000 });
    const sent = await other.page.getAttribute('body', 'data-state');
    await other.page.close();

    // The asker reads it with the private link.
    await page.goto(privateLink, { waitUntil: 'load' });
    await page.waitForSelector('body[data-state]', { timeout: 15000 });
    const waiting = await page.getAttribute('body', 'data-state');
    if (waiting === 'waiting') {
      await page.click('#open');
      await page.waitForSelector('body[data-state="opened"], body[data-state="error"]', { timeout: 15000 });
    }
    const opened = await page.getAttribute('body', 'data-state');
    const content = await page.$eval('#content', (e) => e.textContent);
    const openAxe = await axe(page);

    // Back at the app (the token is still in this tab's sessionStorage): My secrets.
    await page.goto(app, { waitUntil: 'load' });
    await page.waitForSelector('body[data-mode="signed-in"]', { timeout: 15000 });
    await page.click('#tab-mine');
    await page.waitForSelector('body[data-mine="loaded"]', { timeout: 15000 });
    const rows = await page.$$eval('#mine-request-rows tr', (trs) => trs.map((tr) => ({
      id: tr.dataset.id,
      label: tr.cells[0].textContent,
      status: tr.cells[1].textContent,
      delete: !!tr.querySelector('button'),
    })));
    const mineAxe = await axe(page);
    console.log(JSON.stringify({
      request_link: requestLink, private_link: privateLink, deleted_link: deletedLink, qr, note,
      answer_state: answerState, sent, waiting, opened, content, deleted, rows,
      axe: { request: requestAxe, answer: answerAxe, open: openAxe, mine: mineAxe },
      errors: errors.concat(other.errors),
    }));
  } else if (mode === 'mine-requests') {
    await ready(page);
    await signIn(page);
    await page.click('#tab-request');
    await page.fill('#request-label', 'open one');
    await page.click('#request-create');
    await page.waitForSelector('body[data-request="created"]', { timeout: 30000 });
    const rowsOf = () => page.$$eval('#mine-request-rows tr', (trs) => trs.map((tr) => ({
      id: tr.dataset.id, label: tr.cells[0].textContent, status: tr.cells[1].textContent,
      delete: !!tr.querySelector('button'),
    })));
    await page.click('#tab-mine');
    await page.waitForSelector('body[data-mine="loaded"]', { timeout: 15000 });
    const before = await rowsOf();
    await page.evaluate(() => { delete document.body.dataset.mine; });
    await page.click('#mine-request-rows button');
    await page.waitForSelector('body[data-mine="loaded"]', { timeout: 15000 });
    const after = await rowsOf();
    console.log(JSON.stringify({ before, after, errors }));
  } else if (mode === 'axe') {
    await page.waitForSelector('body[data-state], body[data-ready]', { timeout: 15000 });
    console.log(JSON.stringify({ axe: await axe(page), errors }));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} finally {
  await browser.close();
}
