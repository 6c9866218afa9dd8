// Drives the reveal page in headless Chromium like a person would.
//   node reveal-page.mjs <link> <mode>
// The page is the same for every id; its script asks the status endpoint (with the proof derived
// from the fragment) and then sets <body data-state>: waiting, gone, notfound, nokey or error.
// mode "load":   open the page, do not click; print the page's lead text.
// mode "reveal": open, type the passphrase from $PASSPHRASE if asked, click Reveal, wait for the
//                secret; print JSON {content, status} on stdout.
// mode "gone":   open; print the "gone" message shown to the visitor.
// Screenshots go to $SCREENSHOT_DIR when set.
import { launch, shot, tab } from './chromium.mjs';

const [link, mode] = process.argv.slice(2);
const browser = await launch();
try {
  const { page, errors } = await tab(browser);
  const resp = await page.goto(link, { waitUntil: 'load' });
  await page.waitForSelector('body[data-state]', { timeout: 15000 });
  const state = await page.getAttribute('body', 'data-state');
  if (mode === 'load') {
    await shot(page, 'waiting');
    console.log(JSON.stringify({ http: resp.status(), state, lead: await page.textContent('#lead') }));
  } else if (mode === 'gone') {
    await shot(page, 'gone');
    console.log(JSON.stringify({ http: resp.status(), state, gone: await page.textContent('#gone') }));
  } else if (mode === 'reveal') {
    if (process.env.PASSPHRASE !== undefined) await page.fill('#passphrase', process.env.PASSPHRASE);
    await page.click('#reveal');
    await page.waitForSelector('#result:not([hidden])', { timeout: 15000 });
    await shot(page, 'revealed');
    const content = await page.$eval('#content', (el) => el.textContent);
    const status = await page.textContent('#status');
    const url = page.url();
    console.log(JSON.stringify({ http: resp.status(), content, status, url, errors }));
  } else if (mode === 'reveal-file') {
    // Click Reveal, wait for the browser's download, save it where $DOWNLOAD_TO says.
    const download = page.waitForEvent('download', { timeout: 60000 });
    await page.click('#reveal');
    const d = await download;
    await d.saveAs(process.env.DOWNLOAD_TO);
    await shot(page, 'file-revealed');
    const info = await page.textContent('#file-info');
    console.log(JSON.stringify({ http: resp.status(), name: d.suggestedFilename(), info, url: page.url(), errors }));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} finally {
  await browser.close();
}
