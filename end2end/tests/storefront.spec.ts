import { expect, test } from '@playwright/test';

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the server-rendered catalog lists the demo products and links to their pages', async ({ page, request }) => {
    const listing = await (await request.get('/api/products')).json();
    const lamp = listing.products.find((p: { name: string }) => p.name === 'Walnut desk lamp');
    expect(lamp).toBeTruthy();
    await page.goto('/');
    const catalog = page.getByTestId('catalog');
    await expect(catalog).toContainText('Walnut desk lamp');
    await catalog.getByRole('link', { name: /Walnut desk lamp/ }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Walnut desk lamp');
    await expect(page.getByTestId('product-price')).toHaveText(lamp.price.toFixed(2));
    await expect(page.getByTestId('freshness')).toContainText('Updated');
  });
});

test('an unknown product is a 404 page', async ({ page }) => {
  const response = await page.goto('/products/01a20165-0000-7000-8000-000000000000');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
});
