// Drives the scorecard page in Debian's chromium (headless) for tests/services/sla/test_scorecard_browser.py.
//
//   LOCKSTEP_TEST_KEY=lsk_... node scorecard.mjs <sla base url> <month> <another model> <screenshot path> <chromium path>
//
// Signs in by pasting the (viewer) key and reads every figure drawn for the month and model the page
// opens on; picks <month>, reads them again and saves the screenshot; switches to <another model> and
// reads them again; then follows the links to the ops dashboard and back. Prints one JSON object:
//   {opened: {month, model, figures, stray, ...}, drawn: {...}, switched: {...}, links: {...}, problems}
// A figure is an element with data-metric: its path in the /scorecard document, its unit, and its text
// (or, for a chart mark, its data-value and its length). `stray` is every number on screen that is no
// figure. Any failure: a message on stderr and exit status 1. Waits are generous; nothing is timed.
import { chromium } from "playwright-core";

const [base, month, otherModel, screenshot, executablePath] = process.argv.slice(2);
const key = process.env.LOCKSTEP_TEST_KEY; // from the environment: not on a command line others can read
const WAIT = { timeout: 90_000 };

// In the page: every figure shown, and every number shown outside one.
function readPage() {
  const shown = (node) => node.checkVisibility();
  const textOf = (node) => {
    const copy = node.cloneNode(true);
    copy.querySelectorAll("title").forEach((title) => title.remove()); // a tooltip, not what is drawn
    return copy.textContent;
  };
  const figures = [...document.querySelectorAll("#card [data-metric]")].filter(shown).map((node) => ({
    metric: node.getAttribute("data-metric"),
    unit: node.getAttribute("data-unit"),
    text: node.hasAttribute("data-value") ? null : textOf(node),
    value: node.getAttribute("data-value"),
    chart: node.closest("[data-chart]")?.getAttribute("data-chart") ?? null,
    length: node.closest("svg.trend") ? node.getAttribute("height") : node.getAttribute("width"),
  }));
  // A digit not glued to a word: "p90" is a column's name, not a number.
  const number = /(?<![\w-])\d/;
  const stray = [];
  const walker = document.createTreeWalker(document.getElementById("card"), NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const parent = walker.currentNode.parentElement;
    if (parent.closest("[data-metric], title") || !shown(parent)) continue;
    if (number.test(walker.currentNode.textContent)) stray.push(walker.currentNode.textContent);
  }
  return { figures, stray };
}

async function drawn(page, want) {
  const ready = `#card[data-state="ready"]${Object.entries(want).map(([k, v]) => `[data-${k}="${v}"]`).join("")}`;
  await page.locator(ready).waitFor(WAIT);
  const card = page.locator("#card");
  return {
    month: await card.getAttribute("data-month"),
    model: await card.getAttribute("data-model"),
    picked: { month: await page.locator("#month").inputValue(), model: await page.locator("#model").inputValue() },
    address: new URL(page.url()).search,
    ...(await page.evaluate(readPage)),
  };
}

const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-gpu", "--headless=new"] });
const problems = [];
let leaving = false; // following a link: the page left behind drops its requests under way
try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => {
    if (!(leaving && request.failure()?.errorText === "net::ERR_ABORTED")) problems.push(`request failed: ${request.url()}`);
  });

  // Before signing in the page asks who is signed in and is told 401: that is how it knows to
  // show the form. From the sign-in on, no request may fail.
  await page.goto(`${base}/dashboard/scorecard`);
  await page.locator("#sign-in-key").waitFor(WAIT);
  if (await page.locator("#card").isVisible()) throw new Error("the scorecard shows before anyone signed in");
  page.on("console", (message) => message.type() === "error" && problems.push(`console: ${message.text()}`));
  page.on("response", (response) => response.status() >= 400 && problems.push(`${response.status()} from ${response.url()}`));
  await page.locator("#sign-in-key").fill(key);
  await page.locator("#sign-in-button").click();

  await page.locator('#card[data-state="ready"]').waitFor(WAIT);
  const card = page.locator("#card");
  const opened = await drawn(page, { month: await card.getAttribute("data-month") });

  await page.locator("#month").fill(month);
  const first = await drawn(page, { month, model: opened.model });
  await page.locator("#month").blur(); // the screenshot shows the page, not a field being edited
  await page.screenshot({ path: screenshot, fullPage: true });

  await page.locator("#model").selectOption(otherModel);
  const switched = await drawn(page, { month, model: otherModel });

  // Both pages link to each other, on one session: no second sign-in.
  leaving = true;
  await page.locator("#to-dashboard").click();
  await page.locator("#board").waitFor({ state: "visible", ...WAIT });
  const dashboard = new URL(page.url()).pathname;
  await page.locator("#to-scorecard").click();
  await page.locator('#card[data-state="ready"]').waitFor(WAIT);
  const links = { dashboard, scorecard: new URL(page.url()).pathname, signInShown: await page.locator("#sign-in").isVisible() };

  process.stdout.write(`${JSON.stringify({ opened, drawn: first, switched, links, problems })}\n`);
} catch (error) {
  process.stderr.write(`${error.stack ?? error}\n${problems.join("\n")}\n`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
