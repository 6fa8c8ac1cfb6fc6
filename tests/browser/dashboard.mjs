// The dashboard in a real browser: Debian's Chromium, driven by playwright-core.
// The Rust test `browser::the_dashboard_in_chromium` prepares a server and one
// scenario per screen width, runs this script, and then checks what the
// server and the fake Graph API saw. Screenshots go to $ARTIFACTS.
//
//   SCENARIO=/path/scenario.json ARTIFACTS=/path/dir node dashboard.mjs

import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:http";
import { launch } from "./launch.mjs";

const scenario = JSON.parse(readFileSync(process.env.SCENARIO, "utf8"));
const artifacts = process.env.ARTIFACTS;
mkdirSync(artifacts, { recursive: true });
// Screenshots of an earlier run (numbered otherwise) would mislead.
for (const file of readdirSync(artifacts)) {
  if (/^(desktop|phone)-\d+-.*\.png$/.test(file)) rmSync(join(artifacts, file));
}

const browser = await launch();

// The tenant's own site, for the web chat widget: a page that embeds it.
const site = `http://127.0.0.1:${scenario.site_port}`;
const siteServer = createServer((req, res) => {
  const q = new URL(req.url, site).searchParams;
  const title = (q.get("title") || "").replace(/[<>&"]/g, "");
  const widget = (q.get("widget") || "").replace(/[<>&"]/g, "");
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(`<!doctype html><html lang="en"><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head><body><h1>${title}</h1><p>Write to us.</p><script src="${widget}" async></script></body></html>`);
});
await new Promise((resolve) => siteServer.listen(scenario.site_port, "127.0.0.1", resolve));

// axe-core checks each page the flows screenshot (that is, every page):
// serious and critical violations are collected and fail the run at the end.
// It is evaluated through the browser's debugging protocol, which the pages'
// Content Security Policy does not govern, so the pages stay as served.
const axeSource = readFileSync(new URL("./node_modules/axe-core/axe.min.js", import.meta.url), "utf8");
const inaccessible = [];
async function accessible(page, run, name) {
  if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
  });
  for (const v of violations) inaccessible.push(`${run.name} ${name} (${page.url()}): ${v}`);
}

let step = 0;
async function shot(page, run, name) {
  step += 1;
  await accessible(page, run, name);
  const file = join(artifacts, `${run.name}-${String(step).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
}

// Every chart's words (axis, legend, names, counts) lie inside its box, and
// its text is at least 11 px tall.
async function chartsFit(page, what) {
  const problems = await page.evaluate(() => {
    const out = [];
    for (const fig of document.querySelectorAll("figure.chart")) {
      const box = fig.getBoundingClientRect();
      for (const el of fig.querySelectorAll("span, li, p")) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;
        if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5) {
          out.push(`"${el.textContent}" sticks out of its chart`);
        }
        const size = parseFloat(getComputedStyle(el).fontSize);
        if (size < 11) out.push(`"${el.textContent}" is ${size}px`);
      }
    }
    return out;
  });
  assert.deepEqual(problems, [], what);
}

// Nothing may be wider than the screen (at 375 px a page must not scroll sideways).
async function fits(page, run, what) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `${what} is ${overflow}px wider than the ${run.width}px screen`);
}

async function login(page, run, email, password) {
  await page.goto(`${run.base}/app/login`);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', password);
  await Promise.all([page.waitForURL("**/app/complaints**"), page.click('button[type="submit"]')]);
}

async function flow(run) {
  const context = await browser.newContext({ viewport: { width: run.width, height: run.height } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);

  // Log in.
  await page.goto(`${run.base}/app/complaints`);
  assert.match(page.url(), /\/app\/login\?next=/);
  await shot(page, run, "login");
  await login(page, run, run.owner.email, run.owner.password);
  await assert.doesNotReject(page.waitForSelector(`text=${run.tenant}`));

  // The setup guide, to the end (channel and first message are there already).
  await page.waitForSelector(".reminder >> text=Continue the setup guide");
  await Promise.all([page.waitForURL("**/app/welcome"), page.click("text=Continue the setup guide")]);
  await shot(page, run, "welcome");
  await Promise.all([page.waitForLoadState("load"), page.click('button:has-text("Let\'s start")')]);
  await page.waitForSelector("text=Check your complaint categories");
  await Promise.all([page.waitForLoadState("load"), page.click('button:has-text("These are right")')]);
  await page.waitForSelector("#step-team.current");
  assert.equal(await page.textContent("#progress"), "4 of 5 done");
  await Promise.all([page.waitForLoadState("load"), page.click('.step button:has-text("Done")')]);
  await page.waitForSelector("#all-set");
  await fits(page, run, "the setup guide");
  await shot(page, run, "welcome-done");
  await Promise.all([page.waitForURL("**/app/complaints"), page.click("text=Go to complaints")]);

  // The keyboard: "/" goes to the search box, "?" lists the shortcuts.
  await page.keyboard.press("/");
  assert.equal(await page.evaluate(() => document.activeElement.id), "q");
  await page.keyboard.press("Escape");
  // "?" opens the shortcuts in a dialog; Escape or its button closes it.
  await page.keyboard.press("?");
  await page.waitForSelector("#shortcuts[open]");
  await shot(page, run, "shortcuts");
  await page.keyboard.press("Escape");
  await page.waitForSelector("#shortcuts", { state: "hidden" });
  await page.keyboard.press("?");
  await page.click("#shortcuts button");
  await page.waitForSelector("#shortcuts", { state: "hidden" });

  // Filter by words: the street light complaint, not the water one.
  await page.fill("#q", run.search);
  await Promise.all([page.waitForURL("**q=**"), page.click('form.filters button[type="submit"]')]);
  const rows = await page.locator("table.complaints tbody tr").count();
  assert.equal(rows, 1, "one complaint matches the search");
  await page.waitForSelector(`a:has-text("${run.complaint}")`);
  await fits(page, run, "the list");
  // j moves to the first row, x selects it, a opens the bulk bar's assignee.
  await page.locator("body").click({ position: { x: 1, y: 1 } });
  await page.keyboard.press("j");
  await page.waitForSelector("table.complaints tbody tr.current");
  await page.keyboard.press("x");
  assert.ok(await page.locator("tr.current input[name=ids]").isChecked());
  await page.keyboard.press("a");
  assert.equal(await page.evaluate(() => document.activeElement.name), "assignee");
  assert.equal(await page.inputValue("#bulk-action"), "assign");
  await page.keyboard.press("Escape");
  await shot(page, run, "filtered");

  // Open it: transcript and history are there.
  await Promise.all([page.waitForURL(`**/app/complaints/${run.complaint}`), page.click(`a:has-text("${run.complaint}")`)]);
  await page.waitForSelector("text=Near Shivaji school, Kothrud");
  await page.waitForSelector("text=registered the complaint");
  // s goes to the status form.
  await page.keyboard.press("s");
  assert.equal(await page.evaluate(() => document.activeElement.id), "status");
  await page.keyboard.press("Escape");
  // A help mark explains on a tap (a phone has no hover), and again closes.
  await page.click("#edit-form .hint");
  await page.waitForSelector(".hint-bubble >> text=the moves allowed from it");
  await page.click("#edit-form .hint");
  await page.waitForSelector(".hint-bubble", { state: "detached" });
  // The current status first, then only the legal moves.
  const options = await page.locator("#status option").allTextContents();
  assert.equal(options[0], "new (now)");
  assert.ok(options.includes("in progress") && !options.includes("closed"), options.join(","));
  assert.equal(await page.inputValue("#status"), "new");

  // One save changes four fields, and the page says what changed; the
  // citizen's notice goes out (the Rust side checks).
  await page.selectOption("#status", "in_progress");
  await page.selectOption("#priority", "high");
  await page.selectOption("#assignee", { label: run.owner.name });
  await page.selectOption("#category", { index: 1 });
  const category = await page.locator("#category option:checked").textContent();
  await Promise.all([page.waitForLoadState("load"), page.click('#edit-form button[type="submit"]')]);
  await page.waitForSelector("h1 .status-in_progress");
  const saved = await page.locator("p.saved").textContent();
  for (const part of ["status: in progress", "priority: high", `assignee: ${run.owner.name}`, `category: ${category}`]) {
    assert.ok(saved.includes(part), `${part} in ${saved}`);
  }
  await page.waitForSelector("text=changed the status from new to in progress");
  await page.waitForSelector("text=set the priority to high");
  await fits(page, run, "a complaint's page after a save");
  await shot(page, run, "complaint-saved");

  // An internal note, marked as such.
  await page.fill("#note", "Called the contractor; visit on Monday.");
  await Promise.all([page.waitForLoadState("load"), page.click('#note-form button[type="submit"]')]);
  await page.waitForSelector(".note.internal >> text=Called the contractor");
  // Writing to the citizen from the complaint's page takes the conversation
  // from the bot (the Rust side checks that the message arrived).
  await page.fill("#reply", "We have sent a crew; they will visit on Monday.");
  await Promise.all([page.waitForLoadState("load"), page.click('#reply-form button[type="submit"]')]);
  await page.waitForSelector("text=Sent to the citizen");
  await fits(page, run, "a complaint's page");
  await shot(page, run, "complaint");

  // A complaint located by a WhatsApp pin: its place, and a link out to
  // the map that fits the screen (nothing is loaded from the map's site).
  await page.goto(`${run.base}/app/complaints/${run.pinned}`);
  await page.waitForSelector("text=Shaniwar Wada, Shaniwar Peth, Pune");
  const map = page.locator('a.map-link[href^="https://www.openstreetmap.org/?mlat=18.519500"]');
  assert.ok(await map.isVisible(), "the map link is shown");
  const box = await map.boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= run.width, `the map link is on the ${run.width}px screen`);
  assert.equal(await map.getAttribute("target"), "_blank");
  // Its photo, served to staff by the dashboard (no public URL), drawn
  // within the screen.
  const photo = page.locator('ul.photos img[src^="/app/attachments/att_"]');
  await photo.scrollIntoViewIfNeeded();
  assert.ok(await photo.isVisible(), "the complaint's photo is shown");
  assert.ok(await photo.evaluate((img) => img.complete && img.naturalWidth === 96), "the photo loaded");
  const shown = await photo.boundingBox();
  assert.ok(shown.x >= 0 && shown.x + shown.width <= run.width, `the photo is on the ${run.width}px screen`);
  await fits(page, run, "a pinned complaint's page");
  await shot(page, run, "complaint-pinned");

  // Bulk: assign everything matching "garbage" (more than one page) to me.
  await page.goto(`${run.base}/app/complaints?q=garbage`);
  await page.waitForSelector('a[rel="next"]');
  await page.selectOption("#bulk-action", "assign");
  await page.selectOption('#bulk select[name="assignee"]', { label: run.owner.name });
  // Applied to the selection with nothing selected: the page stays, the
  // reason shows in the bar.
  const listUrl = page.url();
  await page.click('button[value="selected"]');
  await page.waitForSelector("#bulk-error:not([hidden]) >> text=Select at least one complaint");
  assert.equal(page.url(), listUrl, "still on the list");
  await Promise.all([page.waitForURL("**/app/complaints/bulk**"), page.click('button[value="matching"]')]);
  assert.equal(await page.textContent("#bulk-count"), String(run.garbage));
  await shot(page, run, "bulk-confirm");
  await Promise.all([page.waitForLoadState("load"), page.click('button:has-text("Yes, change")')]);
  assert.equal(await page.textContent("#bulk-changed"), String(run.garbage));
  await shot(page, run, "bulk-done");

  // Reply in a handed-over conversation.
  await page.goto(`${run.base}/app/inbox`);
  await page.waitForSelector(`a:has-text("${run.handed_over}")`);
  await Promise.all([page.waitForURL("**/app/inbox/**"), page.click(`a:has-text("${run.handed_over}")`)]);
  const conversationUrl = page.url();
  await page.waitForSelector("#window >> text=reply window open");
  await page.fill("#body", run.reply);
  await Promise.all([page.waitForLoadState("load"), page.click('#reply-form button[type="submit"]')]);
  await page.waitForSelector(`.transcript li.out >> text=${run.reply}`);
  await fits(page, run, "the conversation");
  await shot(page, run, "inbox-reply");
  // The reply window counts down while the page stays open.
  await page.clock.install();
  await page.reload();
  await page.waitForSelector("#window >> text=reply window open for 23h");
  await page.clock.fastForward("01:00:00");
  await page.waitForSelector("#window >> text=reply window open for 22h");
  await page.clock.fastForward("23:00:00");
  await page.waitForSelector("#window.error >> text=reply window has closed");

  // Live: a colleague has the inbox open when the citizen writes; the row
  // comes in and the unread count rises within 2 s, and falls once read.
  const mateContext = await browser.newContext({ viewport: { width: run.width, height: run.height } });
  const mate = await mateContext.newPage();
  await login(mate, run, run.colleague.email, run.colleague.password);
  // They have read what is there (the earlier flows wrote into two).
  await mate.goto(`${run.base}/app/inbox`);
  const unread = await mate.$$eval("#inbox-list li.unread a", (links) => links.map((a) => a.href));
  for (const href of unread) await mate.goto(href);
  await mate.goto(`${run.base}/app/inbox`);
  await mate.waitForSelector('#nav-unread[data-count="0"]', { state: "attached" });
  const says = run.citizen_says;
  const sent = Date.now();
  const res = await fetch(says.url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-hub-signature-256": says.signature },
    body: says.body,
  });
  assert.equal(res.status, 200, "Meta's webhook is acknowledged");
  await mate.waitForSelector(`#inbox-list li.unread .preview >> text=${says.text}`, { timeout: 2000 });
  await mate.waitForSelector('#nav-unread[data-count="1"]', { timeout: 2000 });
  const heardIn = Date.now() - sent;
  assert.ok(heardIn < 2000, `the message reached the open inbox in ${heardIn} ms`);
  console.log(`${run.name}: a citizen's message reached an open inbox in ${heardIn} ms`);
  await fits(mate, run, "the live inbox");
  await shot(mate, run, "inbox-live");
  await Promise.all([mate.waitForURL("**/app/inbox/**"), mate.click(`#inbox-list a:has-text("${run.handed_over}")`)]);
  await mate.waitForSelector('#nav-unread[data-count="0"]', { state: "attached" });
  // Two members on one conversation: each sees the other type and reply.
  const meContext = await browser.newContext({ viewport: { width: run.width, height: run.height } });
  const me = await meContext.newPage();
  await login(me, run, run.owner.email, run.owner.password);
  await me.goto(conversationUrl);
  await me.waitForSelector(`#thread li.in >> text=${says.text}`);
  await me.waitForSelector("#nav-unread[data-count]", { state: "attached" });
  await me.fill("#body", "A team");
  await mate.waitForSelector("#typing:not([hidden]) >> text=is replying", { timeout: 3000 });
  await me.fill("#body", run.live_reply);
  await Promise.all([me.waitForLoadState("load"), me.click('#reply-form button[type="submit"]')]);
  await mate.waitForSelector(`#thread li.out >> text=${run.live_reply}`, { timeout: 2000 });
  await fits(mate, run, "the live conversation");
  await shot(mate, run, "inbox-live-conversation");
  await meContext.close();
  await mateContext.close();

  // Invite a colleague, then accept the link in a browser of their own.
  await page.goto(`${run.base}/app/team`);
  await page.fill("#invite-email", run.invitee.email);
  await page.selectOption("#invite-role", "staff");
  await Promise.all([page.waitForLoadState("load"), page.click('#invite-form button[type="submit"]')]);
  const link = (await page.textContent("#shown-once")).trim();
  await fits(page, run, "the team page");
  await shot(page, run, "team-invite");
  const theirs = await browser.newContext({ viewport: { width: run.width, height: run.height } });
  const invitee = await theirs.newPage();
  await invitee.goto(link);
  await invitee.waitForSelector(`text=Join ${run.tenant}`);
  await invitee.fill("#name", run.invitee.name);
  await invitee.fill("#new", run.invitee.password);
  await invitee.fill("#confirm", run.invitee.password);
  await Promise.all([invitee.waitForURL("**/app/complaints"), invitee.click('#join-form button[type="submit"]')]);
  await invitee.waitForSelector(`text=${run.invitee.name}`);
  await shot(invitee, run, "invitee-joined");
  await theirs.close();

  // Developers: a key shown once, an endpoint with its secret, a test event.
  await page.goto(`${run.base}/app/developers`);
  await page.fill("#key-name", `ERP ${run.name}`);
  await page.check('input[name="scope"][value="complaints:read"]');
  await Promise.all([page.waitForLoadState("load"), page.click('#key-form button[type="submit"]')]);
  const key = (await page.textContent("#new-key")).trim();
  assert.match(key, /^ombud_[0-9A-Za-z]{8}_[0-9A-Za-z]{40}$/);
  // Shown once, so it has a Copy button that puts it on the clipboard.
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: run.base });
  await page.click('#new-key + button.copy');
  await page.waitForSelector('#new-key + button.copy >> text=Copied');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);
  await fits(page, run, "the developers page");
  await shot(page, run, "developers-key");
  await page.fill("#endpoint-url", `${run.base}/receiver-${run.name}`);
  await page.check('input[name="event_type"][value="webhook.test"]');
  await Promise.all([page.waitForURL("**/app/developers/webhooks/**"), page.click('#endpoint-form button[type="submit"]')]);
  assert.match((await page.textContent("#secret")).trim(), /^whsec_/);
  await Promise.all([page.waitForURL("**notice=**"), page.click('button:has-text("Send test event")')]);
  await page.waitForSelector("text=on its way");
  await fits(page, run, "the endpoint page");
  await shot(page, run, "developers-endpoint");

  // Agents: redeploy the channel's version; the page says it took effect.
  await page.goto(`${run.base}/app/agents`);
  await Promise.all([page.waitForURL("**notice=**"), page.click('.channel button[type="submit"]')]);
  await page.waitForSelector("text=answers the next message");
  await shot(page, run, "agents");
  await fits(page, run, "the agents page");
  await page.click(".agent-list a");
  await page.waitForSelector("pre.config");
  await fits(page, run, "an agent's page");
  // The test panel: the version answers in a chat no channel sees.
  await Promise.all([page.waitForURL("**/app/test-chats/**"), page.click('details[open] button:has-text("in the test panel")')]);
  await page.fill("#test-text", "The street light on Station Road is broken");
  await Promise.all([page.waitForURL("**#turn-1"), page.click('#test-form button[type="submit"]')]);
  await page.waitForSelector("#turn-1 .transcript li.out");
  assert.match(await page.textContent("#turn-1 .run-meta"), /^ok · \d+ ms/);
  await fits(page, run, "the test panel");
  await shot(page, run, "test-panel");

  // Settings, section by section: notices and the summary; the categories
  // as a table, one edited in its drawer (Escape closes it); every channel
  // kind's form, and what to paste where.
  await page.goto(`${run.base}/app/settings`);
  await page.waitForSelector("#survey");
  await fits(page, run, "the settings page");
  await shot(page, run, "settings");
  await Promise.all([page.waitForURL("**/app/settings/categories"), page.click('.settings-tabs a[href="/app/settings/categories"]')]);
  await Promise.all([page.waitForURL("**edit=**"), page.click("table.categories tbody tr:first-child a")]);
  await page.waitForSelector(".drawer #edit-form");
  await fits(page, run, "the category drawer");
  await shot(page, run, "settings-category-drawer");
  const keywords = page.locator("#edit-form input[name=keywords]");
  await keywords.fill((await keywords.inputValue()) + ", pole");
  await Promise.all([page.waitForURL("**saved=category**"), page.click('#edit-form button[type="submit"]')]);
  await page.waitForSelector("text=Category saved.");
  await page.waitForSelector("table.categories >> text=pole");
  await Promise.all([page.waitForURL("**edit=**"), page.click("table.categories tbody tr:first-child a")]);
  await Promise.all([page.waitForURL("**/app/settings/categories"), page.keyboard.press("Escape")]);
  assert.equal(await page.locator(".drawer").count(), 0, "Escape closed the drawer");
  await Promise.all([page.waitForURL("**/app/settings/channels"), page.click('.settings-tabs a[href="/app/settings/channels"]')]);
  await page.waitForSelector("#webchat-form");
  await fits(page, run, "the channels page");
  await shot(page, run, "settings-channels");

  // A WhatsApp number's templates: the status notice mapped to an approved
  // template outside the 24-hour window.
  await Promise.all([page.waitForURL("**/templates"), page.click('a[href$="/templates"]')]);
  await page.fill("#waba-id", "102030405060");
  await page.fill("#status_changed-name", "complaint_status");
  await page.fill("#status_changed-languages", "en, hi, mr");
  await page.fill("#status_changed-body", "complaint_number, status_label");
  await Promise.all([page.waitForURL("**saved=mapping**"), page.click('#mapping button[type="submit"]')]);
  await page.waitForSelector("text=Templates saved.");
  assert.equal(await page.inputValue("#status_changed-languages"), "en, hi, mr");
  await fits(page, run, "the templates page");
  await shot(page, run, "templates");

  // The web chat's own greeting, which the widget shows below.
  await Promise.all([page.waitForURL("**/app/settings/channels"), page.click('.settings-tabs a[href="/app/settings/channels"]')]);
  await Promise.all([page.waitForURL("**/webchat"), page.click('a[href$="/webchat"]')]);
  await page.fill("#greeting-en", `Welcome to ${run.tenant}.\nTell us what is wrong and where.`);
  await Promise.all([page.waitForURL("**saved=true**"), page.click('form.card button[type="submit"]')]);
  await page.waitForSelector("text=Saved.");
  await fits(page, run, "the web chat settings page");
  await shot(page, run, "webchat-settings");

  // Deadlines: business hours with a split shift, and a service level for
  // urgent complaints next to the seven-day rule every tenant starts with.
  await Promise.all([page.waitForURL("**/app/settings/deadlines"), page.click('a[href="/app/settings/deadlines"]')]);
  await page.fill("#hours-mon", "09:00-13:00, 14:00-18:00");
  await Promise.all([page.waitForURL("**saved=calendar**"), page.click('#calendar button[type="submit"]')]);
  await page.waitForSelector("text=Business hours saved.");
  assert.equal(await page.inputValue("#hours-mon"), "09:00-13:00, 14:00-18:00");
  const blank = (await page.locator("fieldset.policy").count()) - 1;
  await page.fill(`#name-${blank}`, "Urgent within a working day");
  await page.selectOption(`#priority-${blank}`, "urgent");
  await page.fill(`#resolution-${blank}`, "8");
  await Promise.all([page.waitForURL("**saved=sla**"), page.click('#sla button[type="submit"]')]);
  await page.waitForSelector("text=Service levels saved.");
  assert.equal(await page.inputValue(`#name-${blank}`), "Urgent within a working day");
  await fits(page, run, "the deadlines page");
  await shot(page, run, "deadlines");

  // Assignment: an area by its ward, a team of the admin, a rule sending
  // that area's complaints to the team; then a sample tried on the rules.
  await page.goto(`${run.base}/app/settings`);
  await Promise.all([page.waitForURL("**/app/settings/assignment"), page.click('a[href="/app/settings/assignment"]')]);
  await page.fill("#area-name-en-0", "Shivaji Nagar");
  await page.fill("#area-name-mr-0", "शिवाजी नगर");
  await page.fill("#area-wards-0", "12, 13");
  await Promise.all([page.waitForURL("**saved=areas**"), page.click('#areas button[type="submit"]')]);
  await page.waitForSelector("text=Areas saved.");
  assert.equal(await page.inputValue("#area-wards-0"), "12, 13");
  await page.fill("#team-name-0", "Roads");
  await page.selectOption("#team-members-0", { index: 0 });
  await page.fill("#team-capacity-0", "20");
  await Promise.all([page.waitForURL("**saved=teams**"), page.click('#teams button[type="submit"]')]);
  await page.waitForSelector("text=Teams saved.");
  await page.fill("#rule-name-0", "Shivaji Nagar to roads");
  await page.selectOption("#rule-area-0", "shivaji-nagar");
  await page.selectOption("#rule-to-0", "team:roads");
  await Promise.all([page.waitForURL("**saved=rules**"), page.click('#rules button[type="submit"]')]);
  await page.waitForSelector("text=Rules saved.");
  await page.fill("#try-location", "प्रभाग क्र. १२, बस स्थानकाजवळ");
  await Promise.all([page.waitForURL("**location=**"), page.click('#try button[type="submit"]')]);
  assert.match(await page.textContent("#try-answer"), /^Area: Shivaji Nagar\. Rule “Shivaji Nagar to roads” sends it to Roads; .+ would take it now\.$/);
  await fits(page, run, "the assignment page");
  await shot(page, run, "assignment");

  // Field verification: new complaints wait for it; reminder after 8 hours,
  // escalation after 16.
  await page.check('#verification input[name="enabled"]');
  await page.fill("#remind-after", "8");
  await page.fill("#escalate-after", "16");
  await Promise.all([page.waitForURL("**saved=verification**"), page.click('#verification button[type="submit"]')]);
  await page.waitForSelector("text=Field verification saved.");
  assert.equal(await page.inputValue("#escalate-after"), "16");
  await fits(page, run, "the assignment page with field verification");

  // The field worker, on their own phone-sized page: their complaint waits
  // for them; a rejection without a note is refused, then it is validated.
  const fieldContext = await browser.newContext({ viewport: { width: run.width, height: run.height } });
  const field = await fieldContext.newPage();
  field.setDefaultTimeout(15000);
  await field.goto(`${run.base}/app/login`);
  await field.fill('input[name="email"]', run.field.email);
  await field.fill('input[name="password"]', run.field.password);
  await Promise.all([field.waitForURL("**/app/field"), field.click('button[type="submit"]')]);
  assert.equal(await field.locator("header nav a").count(), 1, "a field worker's navigation is their page");
  assert.match(await field.textContent("main h2"), /To verify on the ground \(1\)/);
  await fits(field, run, "the field page");
  await shot(field, run, "field");
  await Promise.all([field.waitForURL(`**/app/field/${run.field.complaint}`), field.click(`a[href="/app/field/${run.field.complaint}"]`)]);
  await field.click('button[value="rejected"]');
  await field.waitForSelector("#note-error");
  assert.match(await field.textContent("#note-error"), /say why the complaint is rejected/);
  await fits(field, run, "a field complaint");
  await shot(field, run, "field-complaint");
  await field.fill("#note", "Blocked with plastic; needs a suction truck.");
  await Promise.all([field.waitForURL("**/app/field?done=**"), field.click('button[value="validated"]')]);
  assert.match(await field.textContent("#field-done"), new RegExp(`${run.field.complaint} is marked validated`));
  await fits(field, run, "the field page after a verdict");
  await shot(field, run, "field-verified");
  await fieldContext.close();

  // The web chat on the tenant's own site: a page of this script's own little
  // server, another origin than Ombud's. The bubble opens the chat; the agent
  // answers.
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
  page.on("requestfailed", (r) => problems.push(`${r.url()}: ${r.failure()?.errorText}`));
  await page.goto(`${site}/?widget=${encodeURIComponent(run.webchat)}&title=${encodeURIComponent(run.tenant)}`);
  await page.waitForSelector(".ombud-wc-bubble", { timeout: 5000 }).catch((e) => {
    throw new Error(`no chat bubble: ${problems.join("; ") || e.message}`);
  });
  await page.click(".ombud-wc-bubble");
  // A greeting first, not a blank panel.
  assert.equal(await page.textContent(".ombud-wc-log li.greeting"), `Welcome to ${run.tenant}.\nTell us what is wrong and where.`);
  await page.fill(".ombud-wc-form input", "The street light near Shivaji school has been broken for a week");
  await page.click('.ombud-wc-form button[type="submit"]');
  await page.waitForSelector(".ombud-wc-log li.organisation");
  // Each message has its time; the visitor's says the office has it.
  const mine = await page.textContent(".ombud-wc-log li.visitor");
  assert.match(mine, /street light/);
  assert.match(mine, /\d{1,2}:\d{2}.*received/);
  assert.equal(await page.locator(".ombud-wc-log li.pending").count(), 0, "nothing left sending");
  assert.match(await page.textContent(".ombud-wc-log li.organisation"), /Where is this\?/);
  await page.waitForSelector(".ombud-wc-log li.organisation time");
  // "Send my location": the browser asks (granted here), and the office
  // reads the pin as the complaint's place.
  await context.grantPermissions(["geolocation"], { origin: site });
  await context.setGeolocation({ latitude: 18.5195, longitude: 73.8553 });
  await page.click(".ombud-wc-where");
  await page.waitForSelector(".ombud-wc-log li.visitor >> text=My location (18.51950, 73.85530)");
  await page.waitForSelector(".ombud-wc-log li.organisation >> text=Location: 18.519500, 73.855300");
  // "Send a photo": chosen from the phone, scaled down in the browser,
  // and taken by the office for the complaint.
  await page.setInputFiles('.ombud-wc-form input[type="file"]', {
    name: "bench.jpg", mimeType: "image/jpeg", buffer: Buffer.from(run.photo, "base64"),
  });
  await page.waitForSelector(".ombud-wc-log li.visitor >> text=(photo)");
  await page.waitForSelector(".ombud-wc-log li.organisation >> text=Thank you, we have your photo");
  await fits(page, run, "the web chat");
  await shot(page, run, "webchat");
  // The × closes it, and so does Escape.
  await page.click(".ombud-wc-close");
  await page.waitForSelector(".ombud-wc-panel", { state: "hidden" });
  await page.click(".ombud-wc-bubble");
  await page.waitForSelector(".ombud-wc-panel.open");
  await page.keyboard.press("Escape");
  await page.waitForSelector(".ombud-wc-panel", { state: "hidden" });

  // The overview's charts render, every word inside its chart's box: with
  // one day of data here, and with ninety in an office that has them.
  await page.goto(`${run.base}/app/overview`);
  assert.equal(await page.locator("figure.chart").count(), 3);
  await chartsFit(page, "the overview with a day of data");
  await shot(page, run, "overview");
  const pastContext = await browser.newContext({ viewport: { width: run.width, height: run.height } });
  const past = await pastContext.newPage();
  past.setDefaultTimeout(15000);
  await login(past, run, run.past.email, run.past.password);
  await past.goto(`${run.base}/app/overview?days=90`);
  await past.waitForSelector("text=last 90 days");
  assert.equal(await past.locator("figure.columns rect[data-value]").count(), 9, "nine days with complaints");
  await chartsFit(past, "the overview with 90 days of data");
  await fits(past, run, "the overview with 90 days of data");
  // A tap on a bar says its numbers under the chart.
  await past.locator("figure.columns rect[data-value]").first().click();
  assert.match(await past.textContent("figure.columns .readout"), /^\d+ \w+: \d+ new$/);
  await shot(past, run, "overview-90-days");
  await pastContext.close();

  await fits(page, run, "the overview");

  // The account page keeps the navigation.
  await page.goto(`${run.base}/app/account`);
  await page.waitForSelector('header.top nav a[href="/app/complaints"]');
  await fits(page, run, "the account page");
  await shot(page, run, "account");

  // The API reference: every operation, on the screen's width.
  const refused = [];
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) refused.push(m.text()); });
  await page.goto(`${run.base}/docs`);
  await page.waitForSelector("#tag-complaints h2");
  await page.waitForSelector(`text="/complaints/{id}"`);
  await fits(page, run, "the API reference");
  await shot(page, run, "api-docs");
  // Swagger UI, for trying requests, renders under its Content Security
  // Policy: it lists the operations, and the browser refuses no script or
  // style. (It is vendored as it comes: axe-core's findings on it are
  // Swagger UI's own, so it is not screenshotted or checked.)
  await page.goto(`${run.base}/docs/try/`);
  await page.waitForSelector(".swagger-ui .opblock-tag", { timeout: 10000 });
  await page.waitForSelector("text=/channels");
  assert.deepEqual(refused, [], "the docs pages broke their policy");
  await context.close();
}

let failed = false;
for (const run of scenario.runs) {
  try {
    await flow(run);
    console.log(`ok ${run.name} (${run.width}px)`);
  } catch (e) {
    failed = true;
    console.error(`FAILED ${run.name} (${run.width}px) at step ${step}: ${e.stack || e}`);
  }
}
if (inaccessible.length) {
  failed = true;
  console.error(`accessibility (axe-core ${JSON.parse(readFileSync(new URL("./node_modules/axe-core/package.json", import.meta.url), "utf8")).version}): ${inaccessible.length} serious or critical\n  ${inaccessible.join("\n  ")}`);
}
await browser.close();
siteServer.close();
process.exit(failed ? 1 : 0);
