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
  } else if (mode === 'axe') {
    await page.waitForSelector('body[data-state], body[data-ready]', { timeout: 15000 });
    console.log(JSON.stringify({ axe: await axe(page), errors }));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} finally {
  await browser.close();
}
