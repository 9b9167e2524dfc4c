import { expect, test } from '@playwright/test';
import { createProduct, delayPriceCommands, productJson, signIn, waitForLive } from './helpers';

// The admin portal needs a signed-in admin.
test.beforeEach(async ({ page }) => {
  await signIn(page.context().request);
});

test('an admin price edit shows at once as pending, then confirmed by the live feed', async ({
  page,
  request,
}) => {
  const id = await createProduct(request, 'E2E pending lamp', 40);
  await page.goto(`/admin/products/${id}`);
  await waitForLive(page);
  await expect(page.getByTestId('current-price')).toHaveText('40.00');

  // A slow answer from the server: the edit must not wait for it to show.
  await delayPriceCommands(page, 1500);
  await page.getByLabel('New price').fill('45.50');
  await page.getByRole('button', { name: 'Save price' }).click();

  const status = page.getByTestId('edit-status');
  await expect(status).toHaveAttribute('data-state', 'pending', { timeout: 1000 });
  await expect(page.getByTestId('current-price')).toHaveText('45.50');

  await expect(status).toHaveAttribute('data-state', 'confirmed');
  await expect(status).toContainText('confirmed (version 2)');
  await expect(page.getByTestId('current-price')).toHaveText('45.50');
  await expect(page.getByTestId('version')).toHaveText('2');

  const product = await productJson(request, id);
  expect(product.price).toBe(45.5);
  expect(product.aggregateVersion).toBe(2);
});

test('a refused edit rolls back to the real price and says why', async ({ page, request }) => {
  const id = await createProduct(request, 'E2E refused kettle', 40);
  await page.goto(`/admin/products/${id}`);
  await waitForLive(page);

  await delayPriceCommands(page, 1000);
  // A cut of more than 50% without the admin's explicit override.
  await page.getByLabel('New price').fill('10.00');
  await page.getByRole('button', { name: 'Save price' }).click();
  await expect(page.getByTestId('edit-status')).toHaveAttribute('data-state', 'pending', { timeout: 1000 });
  await expect(page.getByTestId('current-price')).toHaveText('10.00');

  const error = page.getByTestId('edit-error');
  await expect(error).toBeVisible();
  await expect(error).toContainText('more than 50%');
  await expect(page.getByTestId('edit-status')).toHaveAttribute('data-state', 'failed');
  await expect(page.getByTestId('current-price')).toHaveText('40.00');
  await expect(page.getByLabel('New price')).toHaveValue('40.00');

  // Nothing was written.
  const product = await productJson(request, id);
  expect(product.price).toBe(40);
  expect(product.aggregateVersion).toBe(1);
});

test('an edit of a version someone else changed meanwhile is refused with a way to reload', async ({
  page,
  request,
}) => {
  const id = await createProduct(request, 'E2E contested chair', 40);
  await page.goto(`/admin/products/${id}`);
  await waitForLive(page);
  // Another admin changes it after this page loaded; hold the live feed's
  // refetch back by cutting the SSE stream first.
  await page.route('**/rpc/get_product*', (route) => route.abort());
  const other = await request.patch(`/api/products/${id}`, { data: { price: 42 } });
  expect(other.status()).toBe(200);

  await page.getByLabel('New price').fill('44.00');
  await page.getByRole('button', { name: 'Save price' }).click();
  const error = page.getByTestId('edit-error');
  await expect(error).toContainText('changed this product meanwhile');
  await page.unroute('**/rpc/get_product*');
  await error.getByRole('button', { name: 'Reload' }).click();
  await expect(page.getByTestId('current-price')).toHaveText('42.00');
  await expect(page.getByTestId('version')).toHaveText('2');
});
