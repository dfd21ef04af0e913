import type { Page } from '@playwright/test';

/** Opens one of the details panel's tabs by its name. */
export async function openTab(page: Page, name: 'machines' | 'controls' | 'request' | 'step mode'): Promise<void> {
  await page.getByRole('tab', { name: new RegExp(`^${name}`, 'i') }).click();
}

/** Collects what the page reports as errors (console errors, uncaught exceptions), for a test to expect none. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}
