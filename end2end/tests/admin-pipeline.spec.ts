import { expect, test } from '@playwright/test';
import { signIn } from './helpers';

// The read models page: an operator sees each projection's health and runs
// a reconciliation and a rebuild from the browser.
test('an admin sees every read model healthy, reconciles one and rebuilds another', async ({
  page,
}) => {
  await signIn(page.context().request);
  await page.goto('/admin/products');
  await page.getByRole('link', { name: /Read models/ }).click();
  await expect(page).toHaveURL(/\/admin\/pipeline$/);

  for (const name of ['product_views', 'order_history', 'sales_analytics']) {
    const row = page.getByTestId(`read-model-${name}`);
    await expect(row).toContainText('healthy');
    await expect(row.getByTestId('dead-letter-count')).toHaveText('0');
  }

  const status = page.getByTestId('operation-status');
  const products = page.getByTestId('read-model-product_views');
  await products.getByRole('button', { name: 'Reconcile' }).click();
  await expect(status).toHaveText('No drift: product_views agrees with the write model.');

  await products.getByRole('button', { name: 'Dead letters' }).click();
  await expect(page.getByTestId('dead-letters')).toContainText('None: every event applied.');

  // A rebuild of the demo shop's order history: the page follows it to the
  // switch without a reload.
  const orders = page.getByTestId('read-model-order_history');
  await expect(orders).toContainText('generation 1');
  await orders.getByRole('button', { name: 'Rebuild' }).click();
  await expect(status).toContainText('Rebuilding order_history into generation 2');
  await expect(orders).toContainText('switched', { timeout: 30_000 });
  await expect(orders).toContainText('generation 2');
  await expect(orders).toContainText('healthy');
});

test('a seller is told the read models are for shop staff', async ({ page }) => {
  await signIn(page.context().request, { email: 'nordic@vitrine.example', password: 'demo-password' });
  await page.goto('/admin/pipeline');
  await expect(page.getByRole('alert')).toContainText('only shop staff may operate the read models');
});
