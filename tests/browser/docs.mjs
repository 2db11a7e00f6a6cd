// The documentation pages in a real browser with no way out of the server's origin.
//
//   node docs.mjs BASE_URL ACCESS_TOKEN SCREENSHOT_PATH
//
// Debian's chromium (CHROMIUM overrides /usr/bin/chromium), headless, every request to another
// origin aborted. Opens /docs (runs GET /api/health with "Try it out"), /redoc (searches), and
// GraphiQL at /graphql (types `{ me { email } }`, sets the Authorization header in its headers editor, runs
// it, reads the result pane, saves a screenshot). Any console error (CSP violations are console
// errors), page error, CSP violation event, failed or blocked request, or 4xx/5xx answer fails
// the run. Prints a JSON report on stdout; exits 1 when anything failed.

import { chromium } from "playwright-core";

const [base, token, screenshot] = process.argv.slice(2);
if (!base || !token || !screenshot) {
  console.error("usage: node docs.mjs BASE_URL ACCESS_TOKEN SCREENSHOT_PATH");
  process.exit(2);
}
const origin = new URL(base).origin;
const QUERY = "{ me { email } }";

const report = { pages: {}, problems: [], blocked: [] };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox"], // CI runs as root, where Chromium's sandbox cannot start
});

try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  // Everything not from the server is refused, as a browser with no internet access would.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    report.blocked.push(url);
    return route.abort("blockedbyclient");
  });
  // Runs through the DevTools protocol, so the pages' CSP does not apply to it.
  await context.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
      window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });

  async function visit(path, steps) {
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const problem = (what) => report.problems.push(`${path}: ${what}`);
    page.on("console", (message) => {
      if (message.type() === "error") problem(`console error: ${message.text()}`);
    });
    page.on("pageerror", (error) => problem(`page error: ${error.message}`));
    page.on("requestfailed", (request) =>
      problem(`request failed: ${request.url()} (${request.failure()?.errorText})`),
    );
    page.on("response", (response) => {
      if (response.status() >= 400) problem(`${response.status()} for ${response.url()}`);
    });
    const response = await page.goto(`${base}${path}`, { waitUntil: "load" });
    const found = {
      status: response.status(),
      csp: response.headers()["content-security-policy"] ?? null,
    };
    try {
      Object.assign(found, await steps(page));
    } catch (error) {
      problem(`step failed: ${error.message.split("\n")[0]}`);
    }
    await page.waitForLoadState("networkidle");
    const violations = await page.evaluate(() => window.__violations);
    for (const violation of violations) problem(`CSP violation: ${violation}`);
    report.pages[path] = found;
    await page.close();
  }

  await visit("/docs", async (page) => {
    const operation = page.locator(".opblock-get", {
      has: page.locator('[data-path="/api/health"]'),
    });
    await operation.locator(".opblock-summary").first().click();
    await operation.getByRole("button", { name: "Try it out" }).click();
    await operation.getByRole("button", { name: "Execute" }).click();
    const live = operation.locator(".live-responses-table .response");
    await live.locator(".response-col_status").waitFor();
    const body = await live.locator(".response-col_description pre").first().innerText();
    return {
      tryItOut: {
        status: Number((await live.locator(".response-col_status").innerText()).trim()),
        body: JSON.parse(body),
      },
    };
  });

  await visit("/redoc", async (page) => {
    const title = await page.locator(".api-info h1").innerText();
    await page.locator('[data-section-id^="tag/"]').first().waitFor();
    // The search index lives in a worker (the page's CSP allows it from a blob: of the bundle).
    await page.getByPlaceholder("Search...").fill("trash");
    const found = page.locator('[data-role="search:results"] li');
    await found.first().waitFor();
    return {
      title,
      operations: await page.locator("[data-section-id*='/operation/']").count(),
      searchResults: await found.count(),
    };
  });

  await visit("/graphql", async (page) => {
    const query = page.locator(".graphiql-query-editor .CodeMirror");
    await query.click();
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.press("Delete");
    await page.keyboard.insertText(QUERY); // as typed or pasted, without bracket auto-closing
    await page.getByRole("button", { name: "Headers" }).click();
    const headers = page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror");
    await headers.click();
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.press("Delete");
    await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2));
    await page.locator(".graphiql-execute-button").click();
    const result = page.locator(".graphiql-response .CodeMirror");
    await page.waitForFunction(() => {
      const text = document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror?.getValue();
      return Boolean(text && text.includes('"data"'));
    });
    const text = await result.evaluate((element) => element.CodeMirror.getValue());
    await page.screenshot({ path: screenshot });
    return {
      query: await query.evaluate((element) => element.CodeMirror.getValue()),
      result: JSON.parse(text),
    };
  });
} finally {
  await browser.close();
}

if (report.blocked.length) report.problems.push(`blocked requests: ${report.blocked.join(", ")}`);
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.exit(report.problems.length ? 1 : 0);
