import { expect, test } from '@playwright/test';
import { createProduct, signIn, waitForLive } from './helpers';

test('a product page open in another tab updates its price live, without a reload', async ({
  context,
  request,
}) => {
  const id = await createProduct(request, 'E2E live mug', 12);
  const shopper = await context.newPage();
  await shopper.goto(`/products/${id}`);
  await waitForLive(shopper);
  await expect(shopper.getByTestId('product-price')).toHaveText('12.00');
  await expect(shopper.getByTestId('freshness')).toHaveAttribute('data-state', 'live');
  // Marks this document: a reload would lose it.
  await shopper.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));

  await signIn(context.request);
  const admin = await context.newPage();
  await admin.goto(`/admin/products/${id}`);
  await waitForLive(admin);
  await admin.getByLabel('New price').fill('9.50');
  await admin.getByRole('button', { name: 'Save price' }).click();
  await expect(admin.getByTestId('edit-status')).toHaveAttribute('data-state', 'confirmed');

  await expect(shopper.getByTestId('product-price')).toHaveText('9.50');
  await expect(shopper.locator('.was')).toHaveText('was 12.00');
  await expect(shopper.getByTestId('freshness')).toHaveAttribute('data-state', 'live');
  expect(
    await shopper.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument),
  ).toBe(true);
});

test('the freshness indicator says offline while the live feed cannot connect, live once it can', async ({
  page,
  request,
}) => {
  const id = await createProduct(request, 'E2E offline lamp', 30);
  await page.route('**/api/live*', (route) => route.abort('connectionrefused'));
  await page.goto(`/products/${id}`);
  const freshness = page.getByTestId('freshness');
  await expect(freshness).toHaveAttribute('data-state', 'offline');
  await expect(freshness).toContainText('Offline · updated');
  await expect(page.getByTestId('product-price')).toHaveText('30.00');

  // The browser's EventSource retries by itself.
  await page.unroute('**/api/live*');
  await expect(freshness).toHaveAttribute('data-state', 'live', { timeout: 20_000 });
});
