/** Polls `check` until it holds; tests wait on observable state, never on fixed sleeps. */
export async function eventually(check: () => Promise<boolean> | boolean, ms = 30_000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${ms} ms`);
}
