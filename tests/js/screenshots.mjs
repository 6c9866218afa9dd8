// The README's screenshots of the web app (run by scripts/screenshots):
//   TOKEN=… node screenshots.mjs <base> <out dir>
// writes web-share.png (the Share tab with a result), web-request.png (the Request a secret tab
// with a result) and web-my-secrets.png.
import { launch } from './chromium.mjs';

const [base, out] = process.argv.slice(2);
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 960, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(base.endsWith('/') ? base : base + '/', { waitUntil: 'load' });
  await page.waitForSelector('body[data-ready="yes"]');
  await page.fill('#token', process.env.TOKEN);
  await page.click('#sign-in-button');
  await page.waitForSelector('body[data-mode="signed-in"]');
  const share = async (text, label, views) => {
    await page.fill('#text', text);
    await page.fill('#label', label);
    await page.fill('#views', String(views));
    await page.click('#share');
    await page.waitForSelector('body[data-state="shared"]');
  };
  await share('ssh deploy key passphrase: correct horse battery staple', 'deploy key for Alice', 1);
  await page.click('#again');
  await share('AWS_SECRET_ACCESS_KEY=…', 'CI credentials', 3);
  await page.click('#again');
  await share('postgres://app:…@db.internal/app', 'staging database', 2);
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.screenshot({ path: `${out}/web-share.png` });
  await page.click('#tab-request');
  await page.fill('#request-note', 'The staging VPN config, please (allowed as a file)');
  await page.fill('#request-label', 'VPN config from Bob');
  await page.check('#allow-files');
  await page.click('#request-create');
  await page.waitForSelector('body[data-request="created"]');
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.screenshot({ path: `${out}/web-request.png`, fullPage: true });
  await page.click('#tab-mine');
  await page.waitForSelector('body[data-mine="loaded"]');
  await page.screenshot({ path: `${out}/web-my-secrets.png` });
} finally {
  await browser.close();
}
