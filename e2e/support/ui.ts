import type { Page } from '@playwright/test';

/** Opens one of the details panel's tabs by its name. */
export async function openTab(page: Page, name: 'machines' | 'controls' | 'request' | 'step mode'): Promise<void> {
  await page.getByRole('tab', { name: new RegExp(`^${name}`, 'i') }).click();
}
