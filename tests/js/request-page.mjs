// Drives the request pages in headless Chromium like a person would.
//   node request-page.mjs answer <request link> [text]      responder page: type the text, Send
//   node request-page.mjs answer-file <request link> <path> responder page: choose a file, Send
//   node request-page.mjs load <request link>               responder page: only look
//   node request-page.mjs open <answer link>                asker page: click Open, read the text
//   node request-page.mjs open-file <answer link>           asker page: click Open, save to $DOWNLOAD_TO
//   node request-page.mjs seal <public key> <id> <text>     request-crypto.js in the page: print
//                                                          the answer body it seals
//   node request-page.mjs keys <page url>                   request-crypto.js newRequestKeys()
// Prints one JSON object: the page's data-state, its messages, the requests it posted to the
// answer endpoint, and the page's errors.
import { launch, shot, tab } from './chromium.mjs';

const [mode, link, arg, arg2] = process.argv.slice(2);
const browser = await launch();
try {
  const { page, errors } = await tab(browser);
  const posted = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().includes('/answer')) posted.push(r.url());
  });
  if (mode === 'seal' || mode === 'keys') {
    // Any page of the server gives the module its origin (and a secure context on loopback).
    await page.goto(mode === 'keys' ? link : arg2, { waitUntil: 'load' });
    const out = await page.evaluate(async ([m, pk, id, text]) => {
      const c = await import('/assets/request-crypto.js');
      if (m === 'keys') return c.newRequestKeys();
      return c.sealAnswer(pk, id, text);
    }, [mode, link, arg, process.env.TEXT || '']);
    console.log(JSON.stringify({ ...out, errors }));
  } else {
    const resp = await page.goto(link, { waitUntil: 'load' });
    await page.waitForSelector('body[data-state]', { timeout: 15000 });
    let state = await page.getAttribute('body', 'data-state');
    const out = { http: resp.status(), csp: resp.headers()['content-security-policy'], state };
    if (mode === 'answer' && state === 'open') {
      out.note = await page.textContent('#note');
      await page.fill('#answer-text', arg);
      await page.click('#send');
      await page.waitForSelector('body[data-state]:not([data-state="open"])', { timeout: 15000 });
      await shot(page, 'request-sent');
    } else if (mode === 'answer-file' && state === 'open') {
      await page.setInputFiles('#answer-file', arg);
      await page.click('#send');
      await page.waitForSelector('body[data-state]:not([data-state="open"])', { timeout: 60000 });
    } else if (mode === 'open' && state === 'waiting') {
      await page.click('#open');
      await page.waitForSelector('body[data-state="opened"], body[data-state="error"]', { timeout: 15000 });
      out.content = await page.$eval('#content', (el) => el.textContent);
      await shot(page, 'request-opened');
    } else if (mode === 'open-file' && state === 'waiting') {
      const download = page.waitForEvent('download', { timeout: 60000 });
      await page.click('#open');
      const d = await download;
      await d.saveAs(process.env.DOWNLOAD_TO);
      out.name = d.suggestedFilename();
    } else {
      await shot(page, 'request-' + state);
    }
    out.state = await page.getAttribute('body', 'data-state');
    out.gone = await page.$eval('#gone', (el) => (el.hidden ? '' : el.textContent));
    out.status = await page.textContent('#status');
    out.posted = posted;
    out.url = page.url();
    out.errors = errors;
    console.log(JSON.stringify(out));
  }
} finally {
  await browser.close();
}
