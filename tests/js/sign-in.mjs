// Drives the reveal page of a secret bound to a Slack or Discord user in headless Chromium, through
// the whole sign-in: the page asks to sign in, the browser goes to the (fake) platform, which
// consents as whoever the test chose and sends it back to the server's callback, which hands the
// page a ticket and returns to the secret.
//   node sign-in.mjs <link> <mode>
// mode "recipient": sign in, then reveal; prints JSON {signInLead, lead, urlBack, content, status, url, errors}.
// mode "stranger":  sign in; prints JSON {signInLead, state, refusal, offer, url, errors}.
// Screenshots go to $SCREENSHOT_DIR when set.
import { launch, shot, tab } from './chromium.mjs';

const [link, mode] = process.argv.slice(2);
const browser = await launch();
try {
  const { page, errors } = await tab(browser);
  await page.goto(link, { waitUntil: 'load' });
  await page.waitForSelector('body[data-state="sign-in"]', { timeout: 15000 });
  await shot(page, `sign-in-${mode}`);
  const signInLead = await page.textContent('#sign-in-lead');
  await page.click('#sign-in-button');
  // Start, the platform's page, the callback page and back: a new document each time.
  await page.waitForSelector('body[data-state="waiting"], body[data-state="refused"]', { timeout: 30000 });
  const state = await page.getAttribute('body', 'data-state');
  if (mode === 'recipient') {
    if (state !== 'waiting') throw new Error(`not let in: ${state}: ${await page.textContent('main')}`);
    const lead = await page.textContent('#lead');
    const urlBack = page.url();
    await shot(page, `signed-in-${mode}`);
    await page.click('#reveal');
    await page.waitForSelector('#result:not([hidden])', { timeout: 15000 });
    await shot(page, `revealed-after-sign-in`);
    const content = await page.$eval('#content', (el) => el.textContent);
    console.log(JSON.stringify({ signInLead, lead, urlBack, content, status: await page.textContent('#status'), url: page.url(), errors }));
  } else if (mode === 'stranger') {
    await shot(page, 'refused-stranger');
    console.log(JSON.stringify({ signInLead, state, refusal: await page.textContent('#gone'),
      offer: await page.textContent('#sign-in-lead'), url: page.url(), errors }));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} finally {
  await browser.close();
}
