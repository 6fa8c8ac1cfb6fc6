// "Forgot your password?" in a real browser (Debian's Chromium, playwright-core),
// with the mail read from the test SMTP server's maildir. The Rust test
// `browser_reset::a_forgotten_password_is_reset_in_chromium` prepares the
// account, runs this script, moves the server's clock an hour on, and runs it
// again to open the last link, which must then be refused.
//
//   SCENARIO=/path/scenario.json ARTIFACTS=/path/dir node reset.mjs

import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { launch } from "./launch.mjs";

const s = JSON.parse(readFileSync(process.env.SCENARIO, "utf8"));
const artifacts = process.env.ARTIFACTS;
mkdirSync(artifacts, { recursive: true });

const browser = await launch();
const viewport = { width: s.width, height: s.height };

let step = 0;
async function shot(page, name) {
  step += 1;
  await page.screenshot({ path: join(artifacts, `reset-${s.mode}-${String(step).padStart(2, "0")}-${name}.png`), fullPage: true });
}

// The mail to `to` in the maildir, oldest first, with quoted-printable undone.
function mailTo(to) {
  const found = [];
  for (const sub of ["new", "cur"]) {
    let names = [];
    try { names = readdirSync(join(s.maildir, sub)); } catch { continue; }
    for (const name of names.sort()) {
      const raw = readFileSync(join(s.maildir, sub, name), "utf8");
      const [head, ...rest] = raw.split(/\r?\n\r?\n/);
      if (!new RegExp(`^To:.*${to.replace(/[.+]/g, "\\$&")}`, "mi").test(head)) continue;
      let body = rest.join("\n\n");
      if (/^Content-Transfer-Encoding:\s*quoted-printable/mi.test(head)) {
        body = body.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
      }
      found.push(body);
    }
  }
  return found;
}

async function nthLink(to, n) {
  const deadline = Date.now() + 20000;
  for (;;) {
    const mail = mailTo(to);
    if (mail.length >= n) {
      const m = mail[n - 1].match(/https?:\/\/\S+\/app\/reset\/[0-9a-f]+/);
      assert.ok(m, `a reset link in: ${mail[n - 1]}`);
      return m[0];
    }
    assert.ok(Date.now() < deadline, `${mail.length} of ${n} mail(s) to ${to} arrived`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function login(page, email, password) {
  await page.goto(`${s.base}/app/login`);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', password);
  await Promise.all([page.waitForLoadState("load"), page.click('button[type="submit"]')]);
}

async function ask(page, email) {
  await page.goto(`${s.base}/app/login`);
  await Promise.all([page.waitForURL("**/app/forgot"), page.click('a[href="/app/forgot"]')]);
  await page.fill("#email", email);
  await Promise.all([page.waitForLoadState("load"), page.click('button[type="submit"]')]);
  return (await page.textContent("main")).replace(email, "ADDRESS");
}

async function flow() {
  // Signed in on another device: the reset must end that session.
  const other = await browser.newContext({ viewport });
  const there = await other.newPage();
  await login(there, s.email, s.old_password);
  await there.waitForURL("**/app/complaints**");

  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const unknown = await ask(page, s.unknown);
  assert.match(unknown, /Check your email/);
  await shot(page, "asked");
  const known = await ask(page, s.email);
  assert.equal(known, unknown, "the same page whether the address has an account or not");

  const link = await nthLink(s.email, 1);
  const response = await page.goto(link);
  assert.equal(response.status(), 200);
  await page.waitForSelector(`text=${s.email}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the ${s.width}px screen`);
  await page.fill("#new", "short");
  await page.fill("#confirm", "short");
  await Promise.all([page.waitForLoadState("load"), page.click('button[type="submit"]')]);
  await page.waitForSelector("text=use at least");
  await shot(page, "too-short");
  await page.fill("#new", s.new_password);
  await page.fill("#confirm", s.new_password);
  await Promise.all([page.waitForURL("**/app/login?reset=1"), page.click('button[type="submit"]')]);
  await page.waitForSelector("text=Your new password is saved");
  await shot(page, "saved");

  // The old password no longer works; the new one does.
  await login(page, s.email, s.old_password);
  await page.waitForSelector("text=do not match an account");
  await login(page, s.email, s.new_password);
  await page.waitForURL("**/app/complaints**");

  // The other device was signed out.
  await there.goto(`${s.base}/app/complaints`);
  await there.waitForURL("**/app/login**");

  // Once only.
  const again = await page.goto(link);
  assert.equal(again.status(), 410);
  await page.waitForSelector("text=this link was used");
  await shot(page, "used");

  assert.equal(mailTo(s.unknown).length, 0, "nothing mailed to an unknown address");

  // A second link, for the Rust test to open an hour later.
  const fresh = await browser.newContext({ viewport });
  const asking = await fresh.newPage();
  await ask(asking, s.email);
  console.log(JSON.stringify({ second: await nthLink(s.email, 2) }));
}

async function expired() {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const response = await page.goto(s.link);
  assert.equal(response.status(), 410);
  await page.waitForSelector("text=has expired");
  await shot(page, "expired");
}

let failed = false;
try {
  await (s.mode === "expired" ? expired() : flow());
} catch (e) {
  failed = true;
  console.error(`FAILED at step ${step}: ${e.stack || e}`);
}
await browser.close();
process.exit(failed ? 1 : 0);
