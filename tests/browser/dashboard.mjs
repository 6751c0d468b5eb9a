// Drives the ops dashboard in Debian's chromium (headless) for tests/services/sla/test_dashboard_browser.py.
//
//   LOCKSTEP_TEST_KEY=lsk_... node dashboard.mjs <sla base url> <lead key> <screenshot path> <chromium path>
//
// Talks to the test over stdout, one JSON object per line:
//   {"step": "live"}               signed in by pasting the key, the alert stream connected: raise the alert now
//   {"step": "done", ...}          the lead's warning arrived over the stream and was acknowledged by a
//                                  click (the card names the key that acked it), its escalation resolved by
//                                  another; the dead letters listed
// Any failure: a message on stderr and exit status 1. Waits are generous; nothing is timed.
import { chromium } from "playwright-core";

const [base, lead, screenshot, executablePath] = process.argv.slice(2);
const key = process.env.LOCKSTEP_TEST_KEY; // from the environment: not on a command line others can read
const WAIT = { timeout: 90_000 };
const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-gpu", "--headless=new"] });
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()}`));

  // Before signing in the page asks who is signed in and is told 401: that is how it knows to
  // show the form. From the sign-in on, no request may fail.
  await page.goto(`${base}/dashboard`);
  await page.locator("#sign-in-key").waitFor(WAIT);
  if (await page.locator("#board").isVisible()) throw new Error("the board shows before anyone signed in");
  page.on("console", (message) => message.type() === "error" && problems.push(`console: ${message.text()}`));
  page.on("response", (response) => response.status() >= 400 && problems.push(`${response.status()} from ${response.url()}`));
  await page.locator("#sign-in-key").fill(key);
  await page.locator("#sign-in-button").click();
  await page.locator('#stream-state[data-state="live"]').waitFor(WAIT);
  const who = await page.locator("#who-name").textContent();
  say({ step: "live" });

  // The first tier of the lead's first-touch timer; it can only arrive over the stream, the page
  // was loaded before the lead existed.
  const warning = page.locator(`li.alert[data-lead="${lead}"][data-kind="sla.warning"]`);
  await warning.waitFor(WAIT);
  const id = await warning.getAttribute("data-id");
  const via = await warning.getAttribute("data-via");
  await warning.locator("button.ack").click();
  const acked = page.locator(`li.alert[data-id="${id}"][data-status="acked"]`);
  await acked.waitFor(WAIT);
  const ackedBy = await acked.getAttribute("data-acked-by");
  const ackedText = await acked.locator(".status").textContent();

  // The last tier is resolved from the page; for the screenshot, every panel drawn.
  const escalated = page.locator(`li.alert[data-lead="${lead}"][data-kind="sla.escalated"]`);
  await escalated.waitFor(WAIT);
  const resolvedId = await escalated.getAttribute("data-id");
  await escalated.locator("button.resolve").click();
  await page.locator(`li.alert[data-id="${resolvedId}"][data-status="resolved"]`).waitFor(WAIT);
  for (const panel of ["timers", "attainment", "funnel", "deadletters", "lag"]) {
    await page.locator(`#${panel}:not([data-state="loading"])`).waitFor(WAIT);
  }
  // The dead letter the test produced before loading the page (the panel refreshes every 10 s).
  await page.locator("#deadletters-body tr").first().waitFor(WAIT);
  const deadletters = await page.locator("#deadletters-body tr").count();
  await page.locator(`#timers-body td.policy`).first().waitFor(WAIT);
  // Every partition of the SLA's input topics, each reported by the replica that owns it.
  await page.locator("#lag-body td.owner").first().waitFor(WAIT);
  const lag = {
    partitions: await page.locator("#lag-body tr").count(),
    reported: await page.locator("#lag-body td.owner").evaluateAll((cells) => cells.filter((c) => c.textContent !== "–").length),
    lagging: await page.locator("#lag").getAttribute("data-lagging"),
  };
  const states = {};
  for (const panel of ["timers", "attainment", "funnel", "deadletters", "lag"]) states[panel] = await page.locator(`#${panel}`).getAttribute("data-state");
  const stream = await page.locator("#stream-state").getAttribute("data-state");
  await page.screenshot({ path: screenshot, fullPage: true });
  // The session cookie is out of the script's reach (HttpOnly), and the key was not left in the page.
  const cookies = await page.evaluate(() => document.cookie);
  const keyInPage = (await page.content()).includes(key);
  say({ step: "done", acked: Number(id), resolved: Number(resolvedId), via, states, stream, deadletters, lag, problems, who, ackedBy, ackedText, cookies, keyInPage });
} catch (error) {
  process.stderr.write(`${error.stack ?? error}\n${problems.join("\n")}\n`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
